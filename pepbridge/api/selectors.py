"""Read-only queries over the API's credentials, for the admin pages that name a caller."""

from __future__ import annotations

from oauth2_provider.models import get_application_model

from pepbridge.api.models import ApiKey


def credential_names(keys: set[str]) -> dict[str, str]:
    """Readable names for callers' keys ("oauth:<client id>", "apikey:<key id>"): two queries.

    A key whose credential was deleted keeps its raw form.
    """
    kinds: dict[str, set[str]] = {"oauth": set(), "apikey": set()}
    for key in keys:
        kind, _, ident = key.partition(":")
        if kind in kinds:
            kinds[kind].add(ident)
    names = {}
    if kinds["oauth"]:
        clients = get_application_model().objects.filter(client_id__in=kinds["oauth"])
        for client_id, name in clients.values_list("client_id", "name"):
            names[f"oauth:{client_id}"] = name
    if kinds["apikey"]:
        api_keys = ApiKey.objects.filter(key_id__in=kinds["apikey"])
        for key_id, name in api_keys.values_list("key_id", "name"):
            names[f"apikey:{key_id}"] = name
    return names
