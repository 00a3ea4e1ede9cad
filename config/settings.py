"""Atelier settings, all from the environment (django-environ).

Every default works on a laptop with nothing configured: SQLite, a local media folder and an
embedded in-process Dramatiq broker. Production mode (ATELIER_ENV=production) refuses to start
unless the variables it needs are given, and then passes `check --deploy --fail-level WARNING`.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env_file = Path(os.environ.get("ATELIER_ENV_FILE", BASE_DIR / ".env"))
if env_file.exists():
    environ.Env.read_env(env_file)  # first: every variable below may come from it, ATELIER_VAR_DIR too
VAR_DIR = Path(env.str("ATELIER_VAR_DIR", default=str(BASE_DIR / "var")))

ATELIER_ENV = env.str("ATELIER_ENV", default="development")
PRODUCTION = ATELIER_ENV == "production"

if PRODUCTION:
    # Fail fast with one message naming every missing variable, rather than half-starting.
    _required = ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"]
    _missing = [name for name in _required if not env.str(name, default="")]
    if _missing:
        raise ImproperlyConfigured(
            "ATELIER_ENV=production needs these environment variables: " + ", ".join(_missing)
        )

SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-dev-only-key-do-not-use-in-production-3f9a")
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "studio.apps.StudioAdminConfig",  # django.contrib.admin with the dashboard as its home (studio.site)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "auditlog",
    "django_dramatiq",
    "axes",
    "core",
    "catalog",
    "training",
    "generation",
    "feedback",
    "studio",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.AuditContextMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

# SQLite file by default; PostgreSQL (psycopg 3) when DATABASE_URL says so.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'atelier.sqlite3'}")}
# Persistent connections (checked before reuse): a new connection per request or job costs more than
# many of the queries it runs.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite backend, with the threads of a process taking turns fairly to write (core/sqlite).
    DATABASES["default"]["ENGINE"] = "core.sqlite"
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the embedded worker write progress while the web process reads.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # A file, not shared-cache memory, for tests: worker threads then wait on locks instead of failing.
    # One file per test run, so concurrent runs in one checkout do not share it; beside the database
    # file, whose folder exists (made above) wherever DATABASE_URL puts it.
    _db_dir = Path(DATABASES["default"]["NAME"]).parent
    DATABASES["default"].setdefault("TEST", {"NAME": str(_db_dir / f"test-{os.getpid()}.sqlite3")})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

# django-axes first: it refuses a locked-out username+IP before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, with each user's permissions cached between requests (core/auth_backends.py).
    "core.auth_backends.CachedModelBackend",
]
AUTH_PERMISSION_CACHE_SECONDS = env.int("AUTH_PERMISSION_CACHE_SECONDS", default=300)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Work space for training checkpoints, exports and import uploads (local to each worker).
WORK_DIR = Path(env.str("ATELIER_WORK_DIR", default=str(VAR_DIR / "work")))

# Storage: local media folder by default; S3-compatible storage when a bucket is named.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Dramatiq: Redis when REDIS_URL is set, else an in-process broker whose worker runs inside
# `manage.py serve`. The database row is the source of truth for every job either way.
REDIS_URL = env.str("REDIS_URL", default="") or env.str("DRAMATIQ_BROKER_URL", default="")
_dramatiq_middleware = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
    "core.jobs.middleware.RecoverLostJobsMiddleware",
    "core.jobs.middleware.EndWithParentMiddleware",
]
if REDIS_URL:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        # Messages a dead worker had fetched go back to the queue once its heartbeat is older than
        # heartbeat_timeout, but only when a broker command happens to run maintenance: Dramatiq's default
        # (1 in 1,000 commands) can leave them unseen for minutes on a quiet queue.
        "OPTIONS": {
            "url": REDIS_URL,
            "maintenance_chance": env.int("DRAMATIQ_REDIS_MAINTENANCE_CHANCE", default=50_000),
        },
        "MIDDLEWARE": _dramatiq_middleware,
    }
    # An idle Redis consumer polls the queue with a backoff that grows to `dramatiq_worker_timeout` ms.
    # Dramatiq's default, 1,000, left a request arriving after a quiet spell waiting up to a second for
    # its worker (API median 61 ms against 28 at 20; bench/deployed_bench.py). Set before Dramatiq is
    # imported; the `dramatiq` process that `rundramatiq` starts inherits it.
    DRAMATIQ_WORKER_TIMEOUT_MS = env.int("DRAMATIQ_WORKER_TIMEOUT_MS", default=20)
    os.environ.setdefault("dramatiq_worker_timeout", str(DRAMATIQ_WORKER_TIMEOUT_MS))
else:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.stub.StubBroker",
        "OPTIONS": {},
        "MIDDLEWARE": _dramatiq_middleware,
    }
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]
EMBEDDED_BROKER = not REDIS_URL
# Threads of the embedded worker; with Redis each `rundramatiq` sets its own.
EMBEDDED_WORKER_THREADS = env.int("EMBEDDED_WORKER_THREADS", default=2)
# Worker processes that check an import's rows (parse, sanitise, normalise) while its own process dedups
# and writes; one per core by default (1: check them in the import's own process).
IMPORT_WORKERS = env.int("IMPORT_WORKERS", default=os.cpu_count() or 1)
# Every job (core.jobs): a claim whose heartbeat is older than this belongs to a dead worker (each process
# beats its claims several times within it); a job is tried this many times, whatever re-sends it.
JOB_CLAIM_TTL_SECONDS = env.int("JOB_CLAIM_TTL_SECONDS", default=60)
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)
# Base-model imports (training.services.base_models): checked against these before anything is unpacked
# or a weight allocated; staging folders and stored files an interrupted import left are swept after a day.
BASE_MODEL_MAX_PARAMETERS = env.int("BASE_MODEL_MAX_PARAMETERS", default=2_000_000_000)
BASE_MODEL_MAX_BYTES = env.int("BASE_MODEL_MAX_BYTES", default=20 * 1024**3)
BASE_MODEL_MAX_FILES = env.int("BASE_MODEL_MAX_FILES", default=64)
BASE_MODEL_SWEEP_AFTER_HOURS = env.int("BASE_MODEL_SWEEP_AFTER_HOURS", default=24)

# The client's IP (core.net.client_ip): X-Forwarded-For is believed only through this many proxies in front
# of the application (each appends the address it received the request from). 0, the default: the header is
# ignored and the connection's address is the client. Read by the request log, the audit trail, the admin
# login lockout and the throttles.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Admin login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one IP,
# that pair is locked out for AXES_COOLOFF_HOURS (the login page says so); an admin unlocks it by deleting
# its row under Axes → Access attempts (or `manage.py axes_reset_username USERNAME`).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "core.net.client_ip"
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's token authentication, with failed attempts throttled per client IP.
        "core.api_auth.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies: refused with 400 when nested too deeply or holding NaN/Infinity/1e400 (core.api_json).
    "DEFAULT_PARSER_CLASSES": [
        "core.api_json.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER", default="600/minute"),
        "generation_create": env.str("API_THROTTLE_GENERATIONS", default="120/minute"),
        # Wrong or unknown tokens, per client IP; past it every token from that IP waits.
        "failed_auth": env.str("API_THROTTLE_FAILED_AUTH", default="20/minute"),
    },
    # Anonymous throttles key on the client IP through the trusted proxies only (DRF reads the header
    # otherwise).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}

# Throttle counts and other shared state: Redis when configured, so every web process sees the same counts.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Generation (generation/ reads these); the request log's cap.
GENERATION_RETENTION_DAYS = {
    "error_details": env.int("RETAIN_ERROR_DETAILS_DAYS", default=30),
    "request_logs": env.int("RETAIN_REQUEST_LOGS_DAYS", default=90),
    "generation_requests": env.int("RETAIN_GENERATIONS_DAYS", default=365),
    "designs": env.int("RETAIN_DESIGNS_DAYS", default=730),
}
# Rows (requests x candidates) one model decodes together; requests join and leave between steps.
GENERATION_MAX_BATCH_ROWS = env.int("GENERATION_MAX_BATCH_ROWS", default=64)
# Threads of the embedded worker's generation queue: each holds one request while it decodes, so this
# is how many requests can share the batch. With Redis, give `rundramatiq --queues generation` as many.
GENERATION_WORKER_THREADS = env.int("GENERATION_WORKER_THREADS", default=16)
# Each loaded model decodes in a process of its own (slm.decode.serving.DecodeServer), so the decode
# loop does not share an interpreter lock with request handling; off: a thread of the worker's process.
GENERATION_DECODE_PROCESS = env.bool("GENERATION_DECODE_PROCESS", default=True)
# Threads of a decode call (CTranslate2's intra threads, or torch's for the transformers fallback): the
# demo-sized models decode fastest on one (0: the library's default).
GENERATION_DECODE_THREADS = env.int("GENERATION_DECODE_THREADS", default=1)
# "ctranslate2": every model CTranslate2 converts decodes through it (slm.decode.ct2), the others through
# transformers; "transformers": all through transformers.
GENERATION_ENGINE = env.str("GENERATION_ENGINE", default="ctranslate2")
# Milliseconds an idle decode loop waits after a request arrives before its first decode call, so that
# requests arriving together share it (0: decode at once; later arrivals join the next call).
GENERATION_BATCH_WINDOW_MS = env.float("GENERATION_BATCH_WINDOW_MS", default=0.0)
GENERATION_OVERSAMPLE = env.int("GENERATION_OVERSAMPLE", default=2)
GENERATION_MAX_CANDIDATES = env.int("GENERATION_MAX_CANDIDATES", default=16)
# A sampled request with fewer distinct usable candidates than its `count` draws again (new seeds, twice
# the missing count) at most this many times, then answers with what it has (`designs_short_by`).
GENERATION_EXTRA_DRAWS = env.int("GENERATION_EXTRA_DRAWS", default=3)
GENERATION_DEFAULT_TEMPERATURE = env.float("GENERATION_DEFAULT_TEMPERATURE", default=0.8)
GENERATION_MAX_NEW_TOKENS = env.int("GENERATION_MAX_NEW_TOKENS", default=256)
GENERATION_PNG_SIZE = env.int("GENERATION_PNG_SIZE", default=512)
GENERATION_MODEL_CACHE_SIZE = env.int("GENERATION_MODEL_CACHE_SIZE", default=2)
GENERATION_INPUT_MAX_PIXELS = env.int("GENERATION_INPUT_MAX_PIXELS", default=16_000_000)
GENERATION_INPUT_MAX_BYTES = env.int("GENERATION_INPUT_MAX_BYTES", default=10 * 1024 * 1024)
API_LOG_MAX_PAYLOAD_BYTES = env.int("API_LOG_MAX_PAYLOAD_BYTES", default=8192)
# "background": a writer thread stores the rows, so answers do not wait for them (a process killed
# outright loses the last few milliseconds of rows); "inline": each call writes its row before answering.
API_LOG_WRITE = env.str("API_LOG_WRITE", default="background")

SPECTACULAR_SETTINGS = {
    "TITLE": "Atelier API",
    "DESCRIPTION": "Text (and images) in, sanitised SVG designs and PNG renders out.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ExampleStatusEnum": "training.models.TrainingExample.Status",
        "JobStatusEnum": "core.jobs.models.JobStatus",
        "DatasetStatusEnum": "training.models.Dataset.Status",
    },
    # After the enums: every operation documents the error codes any call may get (core.api_errors).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api_errors.document_common_errors",
    ],
}

# Audit trail (django-auditlog): JSON old/new values, the actor, IP, and the user agent
# (added by core.middleware into additional_data).
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_INCLUDE_ALL_MODELS = False
# Compare against the stored row even when it is soft-deleted, so a restore is audited too.
AUDITLOG_USE_BASE_MANAGER = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"skip_404": {"()": "core.log_filters.SkipNotFound"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "server": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["skip_404"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Each event once: Django's loggers print through the root's handler only (Django's own console
    # handler printed every "Not Found" a second time), and runserver's request line is not repeated
    # for a 404 that django.request logs.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
    },
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    X_FRAME_OPTIONS = "DENY"
