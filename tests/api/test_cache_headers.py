"""Answers to a credentialed API call carry `Cache-Control: no-store` and `Vary` on credentials."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.players.api_helpers import client_with_scope

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _project_urls(settings) -> None:
    settings.ROOT_URLCONF = "pepbridge.urls"  # tests/api/conftest.py narrows it to the api app


def assert_not_cacheable(response) -> None:
    assert "no-store" in response["Cache-Control"]
    vary = {name.strip().lower() for name in response["Vary"].split(",")}
    assert {"authorization", "x-authorization", "x-api-key"} <= vary


def test_the_ingestion_player_read_is_not_cacheable() -> None:
    api = client_with_scope("ingest")
    body = {"playerId": "p-1", "email": "anna@example.com", "country": "CH"}
    created = api.post("/ingest/v1/players", data=json.dumps(body), content_type="application/json")
    assert created.status_code == 201, created.content
    answer = api.get("/ingest/v1/players/p-1")
    assert answer.status_code == 200
    assert_not_cacheable(answer)


def test_an_operator_api_answer_is_not_cacheable() -> None:
    answer = client_with_scope("pep").get("/api/bonus/v1/bonuses")
    assert answer.status_code == 200
    assert_not_cacheable(answer)


def test_a_refused_credential_is_not_cacheable_either() -> None:
    answer = Client().get("/api/bonus/v1/bonuses", HTTP_X_API_KEY="nope")
    assert answer.status_code == 401
    assert_not_cacheable(answer)


def test_an_answer_without_credentials_is_left_as_its_view_made_it() -> None:
    answer = Client().get("/healthz")
    assert "x-api-key" not in answer.get("Vary", "").lower()
