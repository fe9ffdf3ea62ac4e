"""The environment a benchmark's server runs with: production settings, on plain loopback HTTP.

DEBUG would keep every query in memory and slow each request, so a benchmark that reports
production targets must not run with it. TLS is the reverse proxy's job (see the README), so the
redirect to HTTPS is off; the PEP settings point nowhere, as nothing here may call PEP.
"""

from __future__ import annotations

PRODUCTION_LIKE = {
    "DEBUG": "false",
    "SECRET_KEY": "bench-" + "x" * 50,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "false",
    "PEP_BASE_URL": "http://127.0.0.1:9",
    "PEP_CLIENT_ID": "bench",
    "PEP_CLIENT_SECRET": "bench-secret",
    "LOG_LEVEL": "warning",
}
