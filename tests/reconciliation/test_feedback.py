"""Migration feedback details: a real gzip file from the PEP sandbox, and every way it can fail."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
import requests
import responses
from django.utils import timezone

from pepbridge.pep.client import reset_pep_client
from pepbridge.sandbox import SandboxServer
from reconciliation import feedback, services, tasks
from reconciliation.feedback import DetailsError, parse_details
from reconciliation.models import AuditStep, FeedbackDownload, ReconciliationItem
from tests.reconciliation.conftest import FEEDBACK_URL, make_player, status_of, steps_of

pytestmark = pytest.mark.django_db
BASE = "https://pep.test"


@pytest.fixture
def sandbox(settings: Any) -> Iterator[SandboxServer]:
    server = SandboxServer()
    settings.PEP_BASE_URL = server.start()
    settings.PEP_CLIENT_ID, settings.PEP_CLIENT_SECRET = server.client_id, server.client_secret
    settings.PEP_HTTP_ATTEMPTS = 1
    reset_pep_client()
    yield server
    server.stop()
    reset_pep_client()


@pytest.fixture
def pep_settings(settings: Any) -> Iterator[None]:
    settings.PEP_BASE_URL = BASE
    settings.PEP_CLIENT_ID, settings.PEP_CLIENT_SECRET = "bridge", "secret"
    settings.PEP_HTTP_ATTEMPTS = 1
    reset_pep_client()
    yield
    reset_pep_client()


@pytest.fixture
def pep(pep_settings: None, pep_http: responses.RequestsMock) -> responses.RequestsMock:
    pep_http.add(responses.POST, f"{BASE}/api/oauth/v1/token", json={"accessToken": "tok"})
    return pep_http


def details(*entries: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(list(entries)).encode())


def post_feedback(pep_client, url: str, tasks_id: str = "t-1") -> FeedbackDownload:
    body = {"migrationTasksId": tasks_id, "errorsTotal": 2, "detailsURL": url}
    with mock.patch("reconciliation.services.queue_task"):
        assert pep_client.post(FEEDBACK_URL, body, format="json").status_code == 204
    return FeedbackDownload.objects.get(request__request_id=tasks_id)


def download_for(url: str) -> FeedbackDownload:
    receipt = services.feedback_receive(
        tasks_id="t-1", errors_total=1, details_url=url, payload={}, cause="pep:test"
    )
    return receipt.request.download


def test_the_webhook_turns_a_real_gzip_file_into_items_and_repairs_them(
    sandbox, pep_client
) -> None:
    make_player("p-1", email="anna@example.com")
    data = details(
        {"playerId": "p-1", "errors": {"email": ["must not be empty"]}},
        {"playerId": "p-404", "errors": {"birthDate": ["is required"]}},
    )
    url = sandbox.put_file("feedback/t-1.json.gz", data, "application/gzip")
    download = post_feedback(pep_client, url)
    assert tasks.fetch_feedback(download.pk) == "done"
    download.refresh_from_db()
    assert (download.status, download.attempts) == ("done", 1)
    items = ReconciliationItem.objects.order_by("pk").values_list("player_id", "field")
    assert list(items) == [("p-1", "email"), ("p-404", "birthDate")]
    assert status_of("p-1", "email") == "sent"
    assert steps_of("p-404") == ["received", "unknown_player"]
    step = AuditStep.objects.get(kind="details_downloaded")
    assert (step.detail, step.cause) == ("2 players, 2 fields", feedback.FEEDBACK_CAUSE)
    assert "must not be empty" not in json.dumps(list(AuditStep.objects.values()), default=str)


def test_a_file_served_with_content_encoding_gzip_is_read_too(sandbox) -> None:
    data = details({"playerId": "p-1", "errors": [{"property": "email", "message": "x"}]})
    url = sandbox.put_file("d.json", data, "application/json", "gzip")
    assert feedback.download_details(url) == {"p-1": ["email"]}


def test_a_details_url_that_does_not_answer_is_recorded_and_retried(sandbox) -> None:
    download = download_for(sandbox.base_url + "/_sandbox/files/not-there.json.gz")
    assert feedback.feedback_fetch(download.pk) == "failed"
    download.refresh_from_db()
    assert (download.status, download.attempts) == ("pending", 1)
    assert download.next_attempt_at > timezone.now()
    step = AuditStep.objects.get(kind="details_failed")
    assert step.detail.startswith("attempt 1: http_404")
    assert feedback.feedback_fetch(download.pk) == "skipped"  # not due yet
    FeedbackDownload.objects.update(next_attempt_at=timezone.now())
    sandbox.put_file("not-there.json.gz", details({"playerId": "p-1", "errors": {"email": []}}))
    assert services.reconciliation_recheck().downloads == 1
    download.refresh_from_db()
    assert (download.status, download.attempts) == ("done", 2)


def test_a_stopped_pep_is_a_transient_failure_not_a_crash(sandbox) -> None:
    download = download_for(sandbox.put_file("gone.json.gz", details()))
    sandbox.stop()
    assert feedback.feedback_fetch(download.pk) == "failed"
    assert AuditStep.objects.get(kind="details_failed").detail.startswith("attempt 1: connection")


def test_a_file_larger_than_the_limit_is_refused_without_reading_it_all(sandbox, settings) -> None:
    settings.RECONCILIATION_DETAILS_MAX_BYTES = 1024
    big = gzip.compress(json.dumps([{"playerId": f"p-{i}"} for i in range(5000)]).encode())
    assert len(big) > 1024
    download = download_for(sandbox.put_file("big.json.gz", big, "application/gzip"))
    assert feedback.feedback_fetch(download.pk) == "failed"
    assert "too_large" in AuditStep.objects.get(kind="details_failed").detail


def test_a_file_that_unpacks_beyond_the_json_limit_is_refused(sandbox, settings) -> None:
    settings.RECONCILIATION_DETAILS_MAX_JSON_BYTES = 2048
    bomb = gzip.compress(b"[" + b" " * 1_000_000 + b"]")
    download = download_for(sandbox.put_file("bomb.json.gz", bomb, "application/gzip"))
    assert feedback.feedback_fetch(download.pk) == "failed"
    assert "too_large" in AuditStep.objects.get(kind="details_failed").detail


@pytest.mark.parametrize(
    ("body", "error_class"),
    [
        (b'[{"playerId": "p-1"}]', "not_gzip"),
        (b"\x1f\x8bnot really gzip", "not_gzip"),
        (gzip.compress(b"{oops"), "not_json"),
        (gzip.compress(b'"a string"'), "unexpected_shape"),
        (gzip.compress(b'[{"playerId": "p-1"}]')[:-12], "not_gzip"),
    ],
)
def test_a_file_that_is_not_gzip_json_is_recorded_and_retried(pep, body, error_class) -> None:
    pep.add(responses.GET, f"{BASE}/details/t-1.gz", body=body)
    download = download_for(f"{BASE}/details/t-1.gz")
    assert feedback.feedback_fetch(download.pk) == "failed"
    assert AuditStep.objects.get(kind="details_failed").detail.startswith(
        f"attempt 1: {error_class}"
    )
    download.refresh_from_db()
    assert download.status == "pending"


def test_it_gives_up_after_the_configured_attempts(pep, settings) -> None:
    settings.RECONCILIATION_DETAILS_MAX_ATTEMPTS = 2
    pep.add(responses.GET, f"{BASE}/d.gz", body=requests.ConnectionError("refused"))
    download = download_for(f"{BASE}/d.gz")
    for _ in range(2):
        FeedbackDownload.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        feedback.feedback_fetch(download.pk)
    download.refresh_from_db()
    assert download.status == "failed"
    kinds = AuditStep.objects.filter(item=None).order_by("id").values_list("kind", flat=True)
    assert list(kinds) == ["received", "details_failed", "details_failed", "failed"]


def test_a_url_on_another_host_is_never_fetched_with_our_token(pep_settings, pep_http) -> None:
    download = download_for("https://evil.test/d.gz")
    assert feedback.feedback_fetch(download.pk) == "failed"
    assert "foreign_url" in AuditStep.objects.get(kind="details_failed").detail


@pytest.mark.parametrize(
    "data",
    [
        [{"playerId": "p-1", "errors": {"email": ["x"], "phone": ["y"]}}],
        {"invalidPlayers": [{"playerId": "p-1", "errors": ["email", "phone"]}]},
        {"p-1": {"email": ["x"], "phone": ["y"]}},
        {"players": [{"playerId": "p-1", "errors": [{"field": "email"}, {"path": "phone"}]}]},
    ],
)
def test_it_reads_the_shapes_pep_may_use(data) -> None:
    assert parse_details(data) == {"p-1": ["email", "phone"]}


def test_an_entry_without_field_names_becomes_an_unspecified_item() -> None:
    assert parse_details([{"playerId": "p-1"}, {"no": "id"}]) == {"p-1": ["(unspecified)"]}


def test_an_unknown_shape_is_a_details_error() -> None:
    with pytest.raises(DetailsError):
        parse_details(42)


# --- detailsURL on another host: PEP_DETAILS_ALLOWED_HOSTS -------------------------------------

CDN_URL = "https://files.cdn.test/mig/t-1.json.gz?X-Amz-Signature=abc"


def test_an_allowed_host_is_fetched_without_our_token(pep_settings, pep_http, settings) -> None:
    settings.PEP_DETAILS_ALLOWED_HOSTS = ["files.cdn.test"]
    pep_http.add(responses.GET, CDN_URL, body=details({"playerId": "p-1", "errors": ["email"]}))
    download = download_for(CDN_URL)
    assert feedback.feedback_fetch(download.pk) == "done"
    (call,) = pep_http.calls  # no token was even fetched
    assert "Authorization" not in call.request.headers
    assert list(ReconciliationItem.objects.values_list("player_id", "field")) == [("p-1", "email")]


def test_peps_own_host_still_gets_our_token(pep) -> None:
    pep.add(responses.GET, f"{BASE}/d.gz", body=details({"playerId": "p-1", "errors": ["email"]}))
    assert feedback.download_details(f"{BASE}/d.gz") == {"p-1": ["email"]}
    assert pep.calls[-1].request.headers["Authorization"] == "Bearer tok"


def test_a_disallowed_host_is_a_permanent_failure_not_retried(pep_settings, pep_http) -> None:
    download = download_for("https://evil.test/d.gz")
    assert feedback.feedback_fetch(download.pk) == "failed"
    download.refresh_from_db()
    assert (download.status, download.attempts) == ("failed", 1)
    kinds = AuditStep.objects.filter(item=None).order_by("id").values_list("kind", "detail")
    assert [k for k, _ in kinds] == ["received", "details_failed", "failed"]
    assert "foreign_url" in kinds[1][1]
    assert kinds[2][1] == "gave up: the URL may not be fetched"
    FeedbackDownload.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert services.reconciliation_recheck().downloads == 0
    assert not pep_http.calls


def test_a_repeat_with_an_allowed_url_rearms_a_refused_download(
    pep_settings, pep_http, pep_client, settings
) -> None:
    download = post_feedback(pep_client, "https://evil.test/d.gz")
    assert feedback.feedback_fetch(download.pk) == "failed"
    settings.PEP_DETAILS_ALLOWED_HOSTS = ["files.cdn.test"]
    pep_http.add(responses.GET, CDN_URL, body=details({"playerId": "p-1", "errors": ["email"]}))
    post_feedback(pep_client, CDN_URL)
    assert feedback.feedback_fetch(download.pk) == "done"


def test_plain_http_on_an_allowed_host_is_refused_outside_debug(
    pep_settings, pep_http, settings
) -> None:
    settings.DEBUG = False
    settings.PEP_DETAILS_ALLOWED_HOSTS = ["files.cdn.test"]
    download = download_for("http://files.cdn.test/d.gz")
    assert feedback.feedback_fetch(download.pk) == "failed"
    assert "insecure_url" in AuditStep.objects.get(kind="details_failed").detail
    download.refresh_from_db()
    assert download.status == "failed"
    assert not pep_http.calls


def test_plain_http_on_an_allowed_host_is_fetched_in_debug(
    pep_settings, pep_http, settings
) -> None:
    settings.DEBUG = True
    settings.PEP_DETAILS_ALLOWED_HOSTS = ["files.cdn.test"]
    url = "http://files.cdn.test/d.gz"
    pep_http.add(responses.GET, url, body=details({"playerId": "p-1", "errors": ["email"]}))
    assert feedback.download_details(url) == {"p-1": ["email"]}


def test_an_allowed_host_has_the_same_size_limit(pep_settings, pep_http, settings) -> None:
    settings.PEP_DETAILS_ALLOWED_HOSTS = ["files.cdn.test"]
    settings.RECONCILIATION_DETAILS_MAX_BYTES = 1024
    pep_http.add(responses.GET, CDN_URL, body=b"\x1f\x8b" + b"x" * 4096)
    download = download_for(CDN_URL)
    assert feedback.feedback_fetch(download.pk) == "failed"
    assert "too_large" in AuditStep.objects.get(kind="details_failed").detail
    download.refresh_from_db()
    assert download.status == "pending"  # a file may shrink: retried like any other failure


def test_an_allowed_hosts_server_error_is_retried_later(pep_settings, pep_http, settings) -> None:
    settings.PEP_DETAILS_ALLOWED_HOSTS = ["files.cdn.test"]
    pep_http.add(responses.GET, CDN_URL, status=503)
    download = download_for(CDN_URL)
    assert feedback.feedback_fetch(download.pk) == "failed"
    assert AuditStep.objects.get(kind="details_failed").detail.startswith("attempt 1: http_503")
    download.refresh_from_db()
    assert download.status == "pending"


# --- hostile files: bounded values and depth, and every failure ends ------------------------------


def _gzip_bomb(inflated_mib: int) -> bytes:
    """`[[],[],...]` inflating to `inflated_mib` MiB, compressed piece by piece."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    piece = b"[]," * (1024 * 1024 // 3)
    parts = [packer.compress(b"[")]
    parts += [packer.compress(piece) for _ in range(inflated_mib)]
    parts.append(packer.compress(b"[]]") + packer.flush())
    return b"".join(parts)


def test_a_gzip_bomb_of_empty_lists_stops_at_the_value_bound(pep) -> None:
    """json.loads of it took 34 s and 2.7 GB; the stream stops once
    RECONCILIATION_DETAILS_MAX_VALUES values are read (3 s, 160 MiB RSS on a busy 2-core
    machine, measured once: the bound is what this test holds, not the time)."""
    bomb = _gzip_bomb(99)
    assert len(bomb) < 200_000
    pep.add(responses.GET, f"{BASE}/bomb.gz", body=bomb)
    download = download_for(f"{BASE}/bomb.gz")
    assert feedback.feedback_fetch(download.pk) == "failed"
    step = AuditStep.objects.get(kind="details_failed")
    assert step.detail.startswith("attempt 1: too_many_values")


def test_a_deeply_nested_file_fails_cleanly_and_is_given_up_after_the_attempts(
    pep, settings
) -> None:
    settings.RECONCILIATION_DETAILS_MAX_ATTEMPTS = 2
    deep = gzip.compress(b"[" * 100_000 + b"]" * 100_000)
    pep.add(responses.GET, f"{BASE}/deep.gz", body=deep)
    pep.add(responses.GET, f"{BASE}/deep.gz", body=deep)
    download = download_for(f"{BASE}/deep.gz")
    for _ in range(3):
        FeedbackDownload.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        feedback.feedback_fetch(download.pk)
    download.refresh_from_db()
    assert (download.status, download.attempts) == ("failed", 2)
    steps = AuditStep.objects.filter(item=None).order_by("id").values_list("kind", "detail")
    assert [kind for kind, _ in steps] == ["received", "details_failed", "details_failed", "failed"]
    assert "too_deep" in steps[1][1]


def test_an_unexpected_error_is_recorded_as_a_failure_not_left_to_the_lease(pep) -> None:
    pep.add(responses.GET, f"{BASE}/d.gz", body=details({"playerId": "p-1"}))
    download = download_for(f"{BASE}/d.gz")
    with mock.patch.object(feedback, "parse_details", side_effect=RecursionError):
        assert feedback.feedback_fetch(download.pk) == "failed"
    step = AuditStep.objects.get(kind="details_failed")
    assert step.detail == "attempt 1: unexpected: RecursionError"
    download.refresh_from_db()
    assert download.status == "pending"
    assert download.next_attempt_at < timezone.now() + timedelta(minutes=2)  # backoff, not lease


def test_a_download_whose_last_attempt_never_finished_is_given_up_not_reclaimed(
    pep_settings, settings
) -> None:
    settings.RECONCILIATION_DETAILS_MAX_ATTEMPTS = 3
    download = download_for(f"{BASE}/d.gz")
    FeedbackDownload.objects.update(attempts=3, next_attempt_at=timezone.now())
    assert feedback.feedback_fetch(download.pk) == "skipped"
    download.refresh_from_db()
    assert download.status == "failed"
    failed = AuditStep.objects.filter(item=None, kind__in=["details_failed", "failed"])
    assert list(failed.order_by("id").values_list("detail", flat=True)) == [
        "attempt 3 did not finish (the worker stopped)",
        "gave up after 3 attempts",
    ]
    assert services.reconciliation_recheck(cause="task:test").downloads == 0
