"""Client secrets and API keys are hashed with the fast salted hasher, not PBKDF2."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

from pepbridge import settings as project_settings
from pepbridge.api import services
from pepbridge.api.hashers import MachineSecretHasher, generate_secret


def test_dot_is_configured_with_the_fast_hasher():
    assert MachineSecretHasher.algorithm == oauth2_settings.CLIENT_SECRET_HASHER


@pytest.mark.django_db
def test_a_new_client_secret_is_stored_with_the_fast_hasher():
    issued = services.oauth_client_create(name="PEP")
    stored = get_application_model().objects.get(client_id=issued.client_id).client_secret
    assert isinstance(identify_hasher(stored), MachineSecretHasher)
    assert check_password(issued.client_secret, stored)
    assert not check_password(issued.client_secret[:-1] + "x", stored)


def test_staff_passwords_still_use_pbkdf2(settings):
    # The suite hashes with MD5 for speed (tests/conftest.py); production uses the project's list.
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    assert identify_hasher(make_password("correct horse")).algorithm == "pbkdf2_sha256"


def test_each_hash_has_its_own_salt():
    secret = generate_secret()
    first = make_password(secret, hasher=MachineSecretHasher.algorithm)
    second = make_password(secret, hasher=MachineSecretHasher.algorithm)
    assert first != second
    assert check_password(secret, first) and check_password(secret, second)


def test_it_refuses_to_hash_a_short_secret():
    with pytest.raises(ValueError, match="256 bits"):
        make_password("hunter2", hasher=MachineSecretHasher.algorithm)


def test_a_short_guess_is_simply_wrong():
    stored = make_password(generate_secret(), hasher=MachineSecretHasher.algorithm)
    assert check_password("short", stored) is False


def test_generated_secrets_carry_256_bits():
    assert len(generate_secret()) == 43


def test_the_stored_value_is_one_salted_hmac_with_no_key_stretching():
    """Why a check is cheap (one HMAC, bench/token_endpoint.py measures it against PBKDF2):
    the stored digest is HMAC-SHA256 of the secret under the salt, nothing iterated."""
    secret = generate_secret()
    stored = make_password(secret, hasher=MachineSecretHasher.algorithm)
    algorithm, salt, digest = stored.split("$")
    assert algorithm == MachineSecretHasher.algorithm
    assert digest == hmac.new(salt.encode(), secret.encode(), hashlib.sha256).hexdigest()
    assert check_password(secret, stored) is True


def test_the_summary_masks_salt_and_hash():
    stored = make_password(generate_secret(), hasher=MachineSecretHasher.algorithm)
    summary = MachineSecretHasher().safe_summary(stored)
    assert stored.split("$")[2] not in str(summary)
