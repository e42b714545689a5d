"""Clapboard settings, read from the environment through small strict parsers.

A bad value fails at start with ImproperlyConfigured, not at 3 a.m. See README.md for
the variables; the defaults are the embedded single-machine setup (SQLite, ORM broker).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str) -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/K8s secrets)."""
    path = os.environ.get(f"{name}_FILE", "").strip()
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None
    return os.environ.get(name, "").strip()


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE) to a long random "
            "value, or DEBUG=true for local development."
        )
    SECRET_KEY = "insecure-local-development-only"  # noqa: S105 - only with DEBUG on

# Fernet keys for account credentials, newest first; never derived from SECRET_KEY.
CLAPBOARD_ENCRYPTION_KEYS = env_list("CLAPBOARD_ENCRYPTION_KEYS")
_key_file = env_str("CLAPBOARD_ENCRYPTION_KEY_FILE")
if not CLAPBOARD_ENCRYPTION_KEYS and _key_file and Path(_key_file).exists():
    CLAPBOARD_ENCRYPTION_KEYS = [
        line.strip() for line in Path(_key_file).read_text().splitlines() if line.strip()
    ]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    # Before django_q: jobs' `qcluster` (prompt stop on SIGTERM) overrides django-q2's.
    "jobs.apps.JobsConfig",
    "django_q",
    "axes",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Pages are ~50 KB of HTML and ~5 KB gzipped; Django's gzip pads against BREACH.
    "django.middleware.gzip.GZipMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dashboard.middleware.HtmxLoginRedirectMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "dashboard.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

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

DATA_DIR = Path(env_str("CLAPBOARD_DATA_DIR", str(BASE_DIR / "var")))
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'clapboard.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)  # a fresh clone has no var/ yet
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets the web process read while the cluster writes; the busy timeout turns
    # short write contention into a wait instead of "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "job-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
# Without collectstatic (development, tests) whitenoise serves from the finders.
WHITENOISE_AUTOREFRESH = DEBUG
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

# Security: production values unless DEBUG; HTTPS is assumed behind a proxy.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Media and covers come from the providers' own hosts, so those two allow any http(s).
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "https:", "http:"],
    "media-src": ["'self'", "https:", "http:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

REDIS_URL = env_str("REDIS_URL")

# Login throttling (django-axes): failures are stored in the database, so every web
# process counts them. A username, and separately a client address, is locked out after
# CLAPBOARD_LOGIN_FAILURES failures for CLAPBOARD_LOGIN_LOCKOUT_MINUTES; an admin unlocks
# it in the admin (Axes › Access attempts) or with `manage.py axes_reset_username NAME`.
AXES_FAILURE_LIMIT = env_int("CLAPBOARD_LOGIN_FAILURES", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CLAPBOARD_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "dashboard.lockout.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # failures only: successful logins need no row each
AXES_CLIENT_IP_CALLABLE = "jobs.ratelimit.client_ip"
# The request header that carries the client address behind a reverse proxy that sets
# it (overwriting what the client sent), as a META key, e.g. HTTP_X_REAL_IP. Empty: the
# connection's address, REMOTE_ADDR. Used by the login and share-link throttles.
CLAPBOARD_CLIENT_IP_HEADER = env_str("CLAPBOARD_CLIENT_IP_HEADER")

# Loops and clusters: see DESIGN.md §Refresh engine.
# One loop per default worker: a loop is one process, and its Python work (parsing,
# signing, applying statuses) is what bounds a pass once the rate limits are met.
CLAPBOARD_REFRESH_LOOPS = env_int("CLAPBOARD_REFRESH_LOOPS", 2, minimum=1)
# How long an account stays leased to a loop that stopped renewing it (e.g. was killed).
CLAPBOARD_LEASE_SECONDS = env_int("CLAPBOARD_LEASE_SECONDS", 30, minimum=2)
# Notifications one account's receiver takes per minute; beyond, each is refused (the
# provider retries, and polling is the safety net).
CLAPBOARD_HOOK_RATE_PER_MINUTE = env_int("CLAPBOARD_HOOK_RATE_PER_MINUTE", 3000, minimum=1)
# Days a notification record is kept (the account's page, repeats, events per hour); a
# job's timeline keeps its own "notified" lines. Pruned hourly.
CLAPBOARD_NOTIFICATION_RETENTION_DAYS = env_int(
    "CLAPBOARD_NOTIFICATION_RETENTION_DAYS", 30, minimum=1
)
# Where the dashboard is reached, for absolute links in alert messages.
CLAPBOARD_BASE_URL = env_str("CLAPBOARD_BASE_URL").rstrip("/")
# Let account endpoints (signed provider calls, "Test connection") reach loopback and
# private networks: the simulator, a private gateway. Off unless set, whatever DEBUG says.
CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = env_bool("CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS", False)
# Let URLs a provider hands us (subtitle files) and webhooks reach loopback (the
# simulator serves its files there); never in production. Off unless set.
CLAPBOARD_ALLOW_LOOPBACK_FETCH = env_bool("CLAPBOARD_ALLOW_LOOPBACK_FETCH", False)

Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "clapboard"),
    # One worker more than there are loops: the loops hold theirs for their whole minute,
    # so the minute's other tasks, "Refresh now" and bulk runs start at once on the spare
    # one instead of waiting for a loop to end, and at each tick the loops find their
    # workers free (with none spare, a task that overran the tick left one loop to start
    # alone and take every account).
    "workers": env_int("Q_WORKERS", CLAPBOARD_REFRESH_LOOPS + 1, minimum=1),
    # A refresh loop lives just under a minute; timeout < retry so a task that
    # overran is never handed to a second worker while the first is still on it.
    "timeout": 90,
    "retry": 120,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 500,
    "ack_failures": True,
    "label": "Tasks",
    # How often the ORM broker is read for new tasks: each refresh loop waits for this
    # when the schedule enqueues it, once a minute (Redis wakes the cluster at once).
    "poll": 0.25,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Rate limits count in Redis when there is one, else in the database (jobs/ratelimit.py):
# never in one process's memory, which would multiply them by the number of workers.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"hook_secrets": {"()": "dashboard.logs.RedactHookSecrets"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["hook_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django_q": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # The development server's request lines, through the same redacting handler.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
