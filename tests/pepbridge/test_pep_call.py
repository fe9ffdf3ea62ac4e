"""The PEP client's call object (pepbridge/pep/client.py `_Call`): what its repr may show."""

from __future__ import annotations

from pepbridge.pep.client import _Call


def test_a_calls_repr_shows_neither_body_nor_headers() -> None:
    """The token call's body carries the client secret; a traceback's locals must not."""
    call = _Call(
        method="POST",
        url="https://pep.invalid/api/oauth/v1/token",
        body=b'{"clientSecret":"s3cret-value"}',
        headers={"Content-Type": "application/json", "X-Probe": "s3cret-value"},
    )
    assert "s3cret-value" not in repr(call)
    assert "POST" in repr(call)
    assert call.action == "POST /api/oauth/v1/token"
