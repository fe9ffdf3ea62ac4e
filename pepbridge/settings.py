"""pepbridge settings: one module, every knob read from the environment.

With nothing configured it runs in debug mode on SQLite with django-q2's ORM broker, so a newcomer
needs nothing installed. Production sets DEBUG=false, SECRET_KEY, DATABASE_URL, ALLOWED_HOSTS and
the PEP_* variables; the README lists every variable with its default.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from pepbridge.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
)
from pepbridge.private_files import create_private, write_private

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PEPBRIDGE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)


def _dev_secret(name: str) -> str:
    """Return a random secret kept in VAR_DIR, so debug runs need no secret in the repo.

    Only used when DEBUG is on; every process of a local run reads the same file.
    """
    path = VAR_DIR / "dev-secrets" / name
    if not path.exists():
        write_private(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def _required_secret(name: str) -> str:
    value = env_secret(name)
    if value:
        return value
    if DEBUG:
        return _dev_secret(name.lower())
    raise ImproperlyConfigured(f"{name} (or {name}_FILE) must be set when DEBUG is false")


SECRET_KEY = _required_secret("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "oauth2_provider",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as static files (no CDN)
    "django_q",
    "pepbridge",
    "pepbridge.api",
    "players",
    "bonuses",
    "events",
    "reconciliation",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # No cache keeps an answer given to an API credential (it may hold personal data).
    "pepbridge.api.middleware.NoStoreForCredentialsMiddleware",
    # A chunked body would read as empty (Django reads by Content-Length): 411 instead.
    "pepbridge.api.middleware.RequireContentLengthMiddleware",
    # NUL in a path, query or header reached PostgreSQL lookups (a 500): 400 instead.
    "pepbridge.api.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "pepbridge.backoffice.middleware.StaffTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pepbridge.urls"
WSGI_APPLICATION = "pepbridge.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite is the embedded default. WAL lets the web process read while the worker writes;
# IMMEDIATE transactions take the write lock at BEGIN, so two writers queue on busy_timeout
# instead of failing with "database is locked" when a read transaction tries to upgrade.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'pepbridge.sqlite3'}")
DB_CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 600, minimum=0)
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True)
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    if _db["NAME"] != ":memory:" and not str(_db["NAME"]).startswith("file:"):
        create_private(Path(_db["NAME"]))  # players' data: not readable by other local users
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_float("SQLITE_BUSY_TIMEOUT", 30.0, minimum=0),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DATABASES = {"default": _db}
# The role that owns the tables and runs `migrate` (docs/security.md, "Database roles"). When set,
# `manage.py migrate` connects with it instead of DATABASE_URL's role, then grants that app role
# only what it needs (reconciliation/db_roles.py). Same database, another role; may hold a password,
# hence MIGRATE_DATABASE_URL_FILE too.
MIGRATE_DATABASE_URL = env_secret("MIGRATE_DATABASE_URL") or ""
MIGRATE_DATABASE: dict[str, Any] = {}
if MIGRATE_DATABASE_URL:
    try:
        MIGRATE_DATABASE = dict(dj_database_url.parse(MIGRATE_DATABASE_URL))
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"MIGRATE_DATABASE_URL is not a valid database URL: {exc}"
        ) from None
    if "postgresql" not in _db["ENGINE"] or (
        (MIGRATE_DATABASE["ENGINE"], MIGRATE_DATABASE["NAME"]) != (_db["ENGINE"], _db["NAME"])
    ):
        raise ImproperlyConfigured(
            "MIGRATE_DATABASE_URL must name DATABASE_URL's PostgreSQL database (another role)"
        )
# SQLite with DEBUG off is check warning pepbridge.W011 unless chosen on purpose (embedded mode).
ALLOW_SQLITE_IN_PRODUCTION = env_bool("ALLOW_SQLITE_IN_PRODUCTION", False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TEST_RUNNER = "pepbridge.test_runner.PytestTestRunner"

# --- Cache ----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- django-q2 ------------------------------------------------------------------------------
# django-q2 only runs tasks; the outbox rows own delivery state (docs/delivery.md). A task
# that dies is not retried by django-q2 (max_attempts=1): the outbox sweep finds its rows.
Q_BROKER = env_choice("Q_BROKER", "orm", ("orm", "redis"))
Q_CLUSTER: dict[str, object] = {
    "name": env_str("Q_CLUSTER_NAME", "pepbridge"),
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": env_int("Q_TIMEOUT", 120, minimum=1),
    "retry": env_int("Q_RETRY", 180, minimum=1),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 1, minimum=0),
    "ack_failures": True,
    "catch_up": False,
    "save_limit": env_int("Q_SAVE_LIMIT", 1000, minimum=0),
    "poll": env_float("Q_POLL", 0.5, minimum=0.05),
    "label": "Task queue",
}
if Q_BROKER == "redis":
    if not REDIS_URL:
        raise ImproperlyConfigured("Q_BROKER=redis needs REDIS_URL")
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
# Times to the second with their zone on every staff page (docs/back-office.md).
FORMAT_MODULE_PATH = ["pepbridge.backoffice.formats"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production defaults; `manage.py check --deploy` is clean with DEBUG=false) ----
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # monitors inside the network

# --- Logging: one structured line per event (pepbridge.logfmt) -------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
# One line per event: Django's own console handler would print each django.request record a
# second time (plain, with its traceback), so "django" only propagates to ours; runserver's access
# log skips 4xx, which django.request already logs with the reason (pepbridge/logfmt.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "logfmt": {"()": "pepbridge.logfmt.LogfmtFormatter"},
        "runserver": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "filters": {"skip_client_errors": {"()": "pepbridge.logfmt.SkipClientErrors"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "logfmt"},
        "runserver": {
            "class": "logging.StreamHandler",
            "formatter": "runserver",
            "filters": ["skip_client_errors"],
        },
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": ["runserver"], "level": "INFO", "propagate": False},
        "pepbridge": {"level": LOG_LEVEL},
        "players": {"level": LOG_LEVEL},
        "bonuses": {"level": LOG_LEVEL},
        "events": {"level": LOG_LEVEL},
        "reconciliation": {"level": LOG_LEVEL},
        "webhooks": {"level": LOG_LEVEL},
        "django_q": {"level": "WARNING"},
        # oauthlib logs every issued token dict (access_token included) at DEBUG.
        "oauthlib": {"level": "WARNING"},
    },
}

# --- PEP Platform API (outbound) ------------------------------------------------------------
PEP_SANDBOX_URL = env_str("PEP_SANDBOX_URL", "http://127.0.0.1:8766")
PEP_BASE_URL = env_str("PEP_BASE_URL", PEP_SANDBOX_URL if DEBUG else "")
if not PEP_BASE_URL:
    raise ImproperlyConfigured("PEP_BASE_URL must be set when DEBUG is false")
if not PEP_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"PEP_BASE_URL must start with http(s)://, got {PEP_BASE_URL!r}")
PEP_CLIENT_ID = env_str("PEP_CLIENT_ID", "pepbridge-dev" if DEBUG else "")
if not PEP_CLIENT_ID:
    raise ImproperlyConfigured("PEP_CLIENT_ID must be set when DEBUG is false")
PEP_CLIENT_SECRET = _required_secret("PEP_CLIENT_SECRET")
PEP_CONNECT_TIMEOUT = env_float("PEP_CONNECT_TIMEOUT", 3.0, minimum=0.1)
PEP_READ_TIMEOUT = env_float("PEP_READ_TIMEOUT", 10.0, minimum=0.1)
PEP_HTTP_ATTEMPTS = env_int("PEP_HTTP_ATTEMPTS", 3, minimum=1)
PEP_TOKEN_REFRESH_MARGIN = env_int("PEP_TOKEN_REFRESH_MARGIN", 60, minimum=0)
PEP_TOKEN_DEFAULT_LIFETIME = env_int("PEP_TOKEN_DEFAULT_LIFETIME", 300, minimum=1)
PEP_INSTANCE_CURRENCY = env_str("PEP_INSTANCE_CURRENCY", "EUR").upper()
# Unpublished paths: pepbridge/pep/contract/table.py has the defaults (docs/contract.md).
PEP_PATHS = {
    key: path
    for key in (
        "player_create",
        "player_delete",
        "player_marketing_preferences",
        "player_verification",
        "crm_trigger",
    )
    if (path := env_str(f"PEP_PATH_{key.upper()}"))
}
# PEP processes only APPROVED money transactions; others are sent only if asked for (CRM triggers).
PEP_SEND_NON_APPROVED_MONEY = env_bool("PEP_SEND_NON_APPROVED_MONEY", False)
# Hosts besides PEP's own that may serve a migration feedback's detailsURL (a CDN, S3 presigned
# URLs); fetched without our token, over HTTPS only unless DEBUG (docs/reconciliation.md).
PEP_DETAILS_ALLOWED_HOSTS = [host.lower() for host in env_list("PEP_DETAILS_ALLOWED_HOSTS")]

# --- Outbox delivery (events; docs/delivery.md) ---------------------------------------------
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(name: str, text: str) -> float:
    """Read "30", "30s", "2m" or "8h" as seconds; OUTBOX_RETRY_SCHEDULE lists these."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        raise ImproperlyConfigured(f"{name}: {text!r} is not a duration like 30s, 2m, 8h") from None
    if value <= 0:
        raise ImproperlyConfigured(f"{name}: durations must be positive, got {text!r}")
    return value


def _rate_limits(name: str) -> dict[str, tuple[int, float]]:
    """Read "money_transaction=100/60,crm_trigger=10/1" as {type: (requests, per_seconds)}."""
    limits: dict[str, tuple[int, float]] = {}
    for item in env_list(name):
        key, _, rate = item.partition("=")
        count, _, per = rate.partition("/")
        if not (key and count.isdigit() and int(count) > 0 and per):
            raise ImproperlyConfigured(f"{name}: {item!r} is not like game_round=100/60")
        limits[key.strip()] = (int(count), _seconds(name, per.strip()))
    return limits


_RETRY_DEFAULT = ["30s", "2m", "10m", "30m", "1h", "2h", "4h", "8h"]
OUTBOX_RETRY_SCHEDULE = [
    _seconds("OUTBOX_RETRY_SCHEDULE", item)
    for item in env_list("OUTBOX_RETRY_SCHEDULE", _RETRY_DEFAULT)
]
OUTBOX_RETRY_FOR = _seconds("OUTBOX_RETRY_FOR", env_str("OUTBOX_RETRY_FOR", "72h"))
OUTBOX_RETRY_JITTER = env_float("OUTBOX_RETRY_JITTER", 0.2, minimum=0)
OUTBOX_THROTTLE_MIN_DELAY = env_float("OUTBOX_THROTTLE_MIN_DELAY", 60.0, minimum=0)
OUTBOX_LEASE_SECONDS = env_float("OUTBOX_LEASE_SECONDS", 120.0, minimum=1)
OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 100, minimum=1)
# Requests to PEP one worker process keeps in flight (threads); size it as rate x RTT.
OUTBOX_MAX_IN_FLIGHT = env_int("OUTBOX_MAX_IN_FLIGHT", 32, minimum=1)
OUTBOX_SWEEP_MINUTES = env_int("OUTBOX_SWEEP_MINUTES", 1, minimum=1)
OUTBOX_DRAIN_MAX_SECONDS = env_float("OUTBOX_DRAIN_MAX_SECONDS", 50.0, minimum=1)
# Delivery passes a backlog gets at once (a kick or the sweep queues the others): one per
# django-q2 worker by default, so every worker drains.
OUTBOX_DRAIN_PASSES = env_int("OUTBOX_DRAIN_PASSES", int(str(Q_CLUSTER["workers"])), minimum=1)
OUTBOX_KICK_ON_COMMIT = env_bool("OUTBOX_KICK_ON_COMMIT", True)
OUTBOX_KICK_DEBOUNCE = env_float("OUTBOX_KICK_DEBOUNCE", 1.0, minimum=0)
OUTBOX_PRUNE_AFTER_DAYS = env_int("OUTBOX_PRUNE_AFTER_DAYS", 30, minimum=1)
OUTBOX_PRUNE_BATCH = env_int("OUTBOX_PRUNE_BATCH", 1000, minimum=1)
OUTBOX_RATE_LIMITS = _rate_limits("OUTBOX_RATE_LIMITS")
OUTBOX_CIRCUIT_MIN_REQUESTS = env_int("OUTBOX_CIRCUIT_MIN_REQUESTS", 20, minimum=1)
OUTBOX_CIRCUIT_FAILURE_RATIO = env_float("OUTBOX_CIRCUIT_FAILURE_RATIO", 0.8, minimum=0.01)
OUTBOX_CIRCUIT_WINDOW = env_float("OUTBOX_CIRCUIT_WINDOW", 60.0, minimum=1)
OUTBOX_CIRCUIT_PAUSE = env_float("OUTBOX_CIRCUIT_PAUSE", 2.0, minimum=0.1)
# Rows sent at once as the probes of a half-open circuit: one answered closes it.
OUTBOX_CIRCUIT_PROBES = env_int("OUTBOX_CIRCUIT_PROBES", 3, minimum=1)
# Quick retries of a 5xx / connection failure inside the worker, before the retry schedule.
OUTBOX_QUICK_RETRIES = env_int("OUTBOX_QUICK_RETRIES", 2, minimum=0)

# --- Bonuses (assign-bonus from PEP) --------------------------------------------------------
# PEP retries a request for minutes, not days; 30 days is the floor so staff can still look.
BONUS_ASSIGNMENT_RETENTION_DAYS = env_int("BONUS_ASSIGNMENT_RETENTION_DAYS", 30, minimum=30)
BONUS_ASSIGNMENT_SWEEP_AFTER = env_int("BONUS_ASSIGNMENT_SWEEP_AFTER", 120, minimum=1)
BONUS_ASSIGN_MAX_PLAYERS = env_int("BONUS_ASSIGN_MAX_PLAYERS", 1000, minimum=1)
BONUS_GRANT_KICK_DEBOUNCE = env_float("BONUS_GRANT_KICK_DEBOUNCE", 0.5, minimum=0)

# --- Ingestion API (operator platform -> pepbridge) -----------------------------------------
# Checked against Content-Length before the body is read; 1,000 events take well under 2 MB.
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 5 * 1024 * 1024, minimum=1024)

# --- Reconciliation (docs/reconciliation.md) ------------------------------------------------
RECONCILIATION_MAX_PLAYERS = env_int("RECONCILIATION_MAX_PLAYERS", 1000, minimum=1)
# All missingFields of one request together (1,000 players x 100 fields); more is a 400.
RECONCILIATION_MAX_ITEMS = env_int("RECONCILIATION_MAX_ITEMS", 100_000, minimum=1)
# A larger body is refused (413) before it is parsed.
RECONCILIATION_MAX_BODY_BYTES = env_int(
    "RECONCILIATION_MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1024
)
# Players whose items one transaction of the background expansion opens (at most 2,500 items:
# on SQLite other writers wait for one chunk, about a second, not for the whole request).
RECONCILIATION_EXPAND_CHUNK = env_int("RECONCILIATION_EXPAND_CHUNK", 25, minimum=1)
RECONCILIATION_DETAILS_MAX_BYTES = env_int(
    "RECONCILIATION_DETAILS_MAX_BYTES", 10 * 1024 * 1024, minimum=1024
)
RECONCILIATION_DETAILS_MAX_JSON_BYTES = env_int(
    "RECONCILIATION_DETAILS_MAX_JSON_BYTES", 100 * 1024 * 1024, minimum=1024
)
# Values (objects, lists, strings, numbers...) and nesting the details may hold, read as a stream.
RECONCILIATION_DETAILS_MAX_VALUES = env_int(
    "RECONCILIATION_DETAILS_MAX_VALUES", 1_000_000, minimum=1000
)
RECONCILIATION_DETAILS_MAX_DEPTH = env_int("RECONCILIATION_DETAILS_MAX_DEPTH", 32, minimum=4)
RECONCILIATION_DETAILS_MAX_ATTEMPTS = env_int("RECONCILIATION_DETAILS_MAX_ATTEMPTS", 10, minimum=1)
RECONCILIATION_RECHECK_MINUTES = env_int("RECONCILIATION_RECHECK_MINUTES", 5, minimum=1)

# --- Event webhooks from PEP (webhooks/; docs/webhooks.md) --------------------------------
# One or two signature keys (comma-separated): during a rotation both are accepted.
# In DEBUG without a key, a generated dev key (VAR_DIR/dev-secrets), shared with the sandbox's
# webhook sender, so a local demo run accepts the sandbox's signed webhooks.
_WEBHOOK_KEYS = env_secret("PEP_WEBHOOK_SECRETS") or (
    _dev_secret("pep_webhook_secret") if DEBUG else ""
)
PEP_WEBHOOK_SECRETS = [key.strip() for key in _WEBHOOK_KEYS.split(",") if key.strip()]
if len(PEP_WEBHOOK_SECRETS) > 2:
    raise ImproperlyConfigured("PEP_WEBHOOK_SECRETS takes one or two keys (rotation)")
PEP_WEBHOOK_TOLERANCE_SECONDS = env_int("PEP_WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1)
# Hours an operator subscription's old secret still signs after a rotation (0: none).
WEBHOOK_SECRET_OVERLAP_HOURS = env_int("WEBHOOK_SECRET_OVERLAP_HOURS", 24, minimum=0)


def _networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(cidr, strict=False) for cidr in env_list(name)]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None


PEP_WEBHOOK_ALLOWED_IPS = _networks("PEP_WEBHOOK_ALLOWED_IPS")  # empty: any address
PEP_WEBHOOK_TRUSTED_PROXIES = _networks("PEP_WEBHOOK_TRUSTED_PROXIES")
PEP_WEBHOOK_MAX_BODY_BYTES = env_int("PEP_WEBHOOK_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
PEP_WEBHOOK_MAX_EVENTS = env_int("PEP_WEBHOOK_MAX_EVENTS", 1000, minimum=1)
PEP_WEBHOOK_KICK_DEBOUNCE = env_float("PEP_WEBHOOK_KICK_DEBOUNCE", 0.5, minimum=0)
PEP_WEBHOOK_SWEEP_AFTER = env_int("PEP_WEBHOOK_SWEEP_AFTER", 60, minimum=1)
# Rewards poller (webhooks/poller.py): seconds between polls of PEP's reward-processor
# rewards; 0 = off. The Data Fetch API allows 100 requests/min: the poller keeps under
# PEP_REWARDS_POLL_PER_MINUTE and re-reads PEP_REWARDS_POLL_OVERLAP_SECONDS before its cursor.
PEP_REWARDS_POLL_SECONDS = env_int("PEP_REWARDS_POLL_SECONDS", 0, minimum=0)
PEP_REWARDS_POLL_PER_MINUTE = env_int("PEP_REWARDS_POLL_PER_MINUTE", 90, minimum=1)
if PEP_REWARDS_POLL_PER_MINUTE > 100:
    raise ImproperlyConfigured("PEP_REWARDS_POLL_PER_MINUTE: the Data Fetch API allows 100")
PEP_REWARDS_POLL_OVERLAP_SECONDS = env_int("PEP_REWARDS_POLL_OVERLAP_SECONDS", 60, minimum=0)
# Where `pep_sandbox` and `manage.py pep_webhook` send their signed webhooks (the local bridge).
PEP_SANDBOX_WEBHOOK_URL = env_str(
    "PEP_SANDBOX_WEBHOOK_URL",
    f"http://127.0.0.1:{env_str('PORT', '8000')}/api/webhooks/v1/pep-events",
)

# --- Inbound API credentials (pepbridge/api; docs/credentials.md) ---------------------------
# Client secrets and API keys are 256-bit random strings checked with one salted HMAC; PBKDF2
# (still the first hasher, so the one staff passwords use) would cap /oauth/token at ~4 req/s.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "pepbridge.api.hashers.MachineSecretHasher",
]
# Named so that migrations can depend on the (swappable) model; the toolkit's own model.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OAUTH_ACCESS_TOKEN_LIFETIME", 3600, minimum=60),
    "CLIENT_SECRET_HASHER": "pepbridge_hmac_sha256",
    "SCOPES": {"pep": "Operator API (PEP)", "ingest": "Ingestion API (operator platform)"},
    "DEFAULT_SCOPES": [],
    "SCOPES_BACKEND_CLASS": "pepbridge.api.oauth.ClientScopes",
    # Keep only a SHA-256 checksum of each access token, never the token itself.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    # Only client credentials are used; the browser-flow hardening is on so `check --deploy`
    # stays clean and nothing weaker can be enabled by accident.
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "6000/min")
PLAYER_IDENTITY_VALIDATOR = env_str(
    "PLAYER_IDENTITY_VALIDATOR", "pepbridge.api.identity.validate_signed_token"
)
PLAYER_IDENTITY_SECRET = env_secret("PLAYER_IDENTITY_SECRET") or ""
PLAYER_IDENTITY_LEEWAY = env_int("PLAYER_IDENTITY_LEEWAY", 0, minimum=0)

# --- Back office and /healthz (docs/back-office.md) ------------------------------------------
HEALTH_TOKEN = env_secret("HEALTH_TOKEN") or ""
HEALTH_ALLOWED_CIDRS = env_list("HEALTH_ALLOWED_CIDRS")
try:
    HEALTH_ALLOWED_NETWORKS = [
        ipaddress.ip_network(cidr, strict=False) for cidr in HEALTH_ALLOWED_CIDRS
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"HEALTH_ALLOWED_CIDRS: {exc}") from None
# /healthz answers 503 once the longest-waiting sendable message is overdue by this many seconds.
HEALTH_MAX_DUE_AGE = env_float("HEALTH_MAX_DUE_AGE", 300.0, minimum=1)

# --- Django REST framework ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Ours: malformed or deeply nested JSON is a 400 (ParseError), never a 500.
    "DEFAULT_PARSER_CLASSES": ["pepbridge.api.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "pepbridge.api.authentication.OAuthTokenAuthentication",
        "pepbridge.api.authentication.ApiKeyAuthentication",
    ],
    # Fail closed: a view must name its scope (RequiresPepScope / RequiresIngestScope).
    "DEFAULT_PERMISSION_CLASSES": ["pepbridge.api.permissions.ScopePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["pepbridge.api.throttling.ClientRateThrottle"],
    "EXCEPTION_HANDLER": "pepbridge.api.exception_handler.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "pepbridge",
    "DESCRIPTION": "The operator side of the PEP (Gamanza Engage) integration.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/schema/ and /api/docs/ for API credentials and logged-in staff only (docs/contract.md).
    "SERVE_PERMISSIONS": ["pepbridge.api.permissions.StaffOrApiCredential"],
    "SERVE_AUTHENTICATION": [
        "pepbridge.api.authentication.OAuthTokenAuthentication",
        "pepbridge.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # /api/docs/ loads Swagger UI from our own static files (drf-spectacular-sidecar): the
    # operator's back office may have no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # /oauth/token is a django-oauth-toolkit view, not a DRF one: described by a hook.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pepbridge.api.schema_token.add_token_endpoint",
        # Rules the serializers hold that spectacular cannot derive (feedback's detailsURL...).
        "pepbridge.api.schema_rules.add_input_rules",
    ],
}
