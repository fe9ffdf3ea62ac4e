"""The OpenAPI description documents both endpoints with an example for each answer."""

from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator


def test_the_schema_has_an_example_for_each_answer_of_both_endpoints() -> None:
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    expected = {
        ("/api/bonus/v1/assign-bonus", "post"): {
            *("202", "400", "401", "403", "409", "429"),
            *("411", "413"),  # any body: pepbridge.api.schema_rules
        },
        ("/api/bonus/v1/bonuses", "get"): {"200", "400", "401", "403", "429"},
    }
    for (path, method), codes in expected.items():
        responses = paths[path][method]["responses"]
        assert set(responses) == codes
        for code in codes:
            assert responses[code]["content"]["application/json"]["examples"], (path, code)
