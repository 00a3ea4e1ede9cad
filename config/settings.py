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

from config import api_settings, stack
from config.log_config import logging_settings
from config.storage import storages_settings

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

# Django's stack, constants (config/stack.py).
INSTALLED_APPS = stack.INSTALLED_APPS
MIDDLEWARE = stack.MIDDLEWARE

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

AUTHENTICATION_BACKENDS = stack.AUTHENTICATION_BACKENDS
AUTH_PERMISSION_CACHE_SECONDS = env.int("AUTH_PERMISSION_CACHE_SECONDS", default=300)
AUTH_PASSWORD_VALIDATORS = stack.AUTH_PASSWORD_VALIDATORS

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
STORAGES = storages_settings(env, bucket_name=AWS_STORAGE_BUCKET_NAME)

# Dramatiq: RabbitMQ when RABBITMQ_URL is set (it pushes each message to a waiting consumer), else Redis
# when REDIS_URL is set (consumers poll), else an in-process broker whose worker runs inside `manage.py
# serve`. The database row is the source of truth for every job either way. Redis stays the cache, the
# throttle counts and the cross-process wake-ups whichever broker carries the messages.
REDIS_URL = env.str("REDIS_URL", default="") or env.str("DRAMATIQ_BROKER_URL", default="")
RABBITMQ_URL = env.str("RABBITMQ_URL", default="")
if RABBITMQ_URL:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.rabbitmq.RabbitmqBroker",
        # Publisher confirms: a send returns once RabbitMQ holds the message, so a job row committed and
        # enqueued is never lost to a broker restart between the two.
        "OPTIONS": {"url": RABBITMQ_URL, "confirm_delivery": True},
        "MIDDLEWARE": stack.DRAMATIQ_MIDDLEWARE,
    }
elif REDIS_URL:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        # Messages a dead worker had fetched go back to the queue once its heartbeat is older than
        # heartbeat_timeout, but only when a broker command happens to run maintenance: Dramatiq's default
        # (1 in 1,000 commands) can leave them unseen for minutes on a quiet queue.
        "OPTIONS": {
            "url": REDIS_URL,
            "maintenance_chance": env.int("DRAMATIQ_REDIS_MAINTENANCE_CHANCE", default=50_000),
        },
        "MIDDLEWARE": stack.DRAMATIQ_MIDDLEWARE,
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
        "MIDDLEWARE": stack.DRAMATIQ_MIDDLEWARE,
    }
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]
EMBEDDED_BROKER = not (REDIS_URL or RABBITMQ_URL)
# Threads of the embedded worker; with Redis or RabbitMQ each `rundramatiq` sets its own.
EMBEDDED_WORKER_THREADS = env.int("EMBEDDED_WORKER_THREADS", default=2)
# Worker processes that check an import's rows (parse, sanitise, normalise) while its own process dedups
# and writes; one per core by default (1: check them in the import's own process).
IMPORT_WORKERS = env.int("IMPORT_WORKERS", default=os.cpu_count() or 1)
# Every job (core.jobs): a claim whose heartbeat is older than this belongs to a dead worker (each process
# beats its claims several times within it); a job is tried this many times, whatever re-sends it.
JOB_CLAIM_TTL_SECONDS = env.int("JOB_CLAIM_TTL_SECONDS", default=60)
# How long "Review next" keeps an example from other reviewers (training.services.review_queue).
REVIEW_CLAIM_SECONDS = env.int("REVIEW_CLAIM_SECONDS", default=300)
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)
# Base-model imports (training.services.base_models): checked against these before anything is unpacked
# or a weight allocated; staging folders and stored files an interrupted import left are swept after a day.
BASE_MODEL_MAX_PARAMETERS = env.int("BASE_MODEL_MAX_PARAMETERS", default=2_000_000_000)
BASE_MODEL_MAX_BYTES = env.int("BASE_MODEL_MAX_BYTES", default=20 * 1024**3)
BASE_MODEL_MAX_FILES = env.int("BASE_MODEL_MAX_FILES", default=64)
BASE_MODEL_SWEEP_AFTER_HOURS = env.int("BASE_MODEL_SWEEP_AFTER_HOURS", default=24)
# A snapshot's Parquet export: rows per shard; training runs stream those shards (0: read the items).
DATASET_ROWS_PER_SHARD = env.int("DATASET_ROWS_PER_SHARD", default=50_000)
TRAIN_FROM_SHARDS = env.bool("TRAIN_FROM_SHARDS", default=True)

# Webhooks (integrations): secrets are Fernet-encrypted with WEBHOOK_SECRET_KEY (comma-separated keys, the
# first encrypts; unset: derived from SECRET_KEY). Private, loopback and link-local targets are refused
# unless WEBHOOKS_ALLOW_PRIVATE. A delivery is tried WEBHOOK_MAX_ATTEMPTS times, waiting base x3^n between
# (60 s, 8 attempts: about 18 hours); an endpoint failing for WEBHOOK_DISABLE_AFTER_SECONDS is switched off.
WEBHOOK_SECRET_KEY = env.str("WEBHOOK_SECRET_KEY", default="")
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=False)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_BACKOFF_BASE_SECONDS = env.float("WEBHOOK_BACKOFF_BASE_SECONDS", default=60.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_DISABLE_AFTER_SECONDS = env.int("WEBHOOK_DISABLE_AFTER_SECONDS", default=24 * 3600)
WEBHOOK_SWEEP_SECONDS = env.float("WEBHOOK_SWEEP_SECONDS", default=15.0)

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

REST_FRAMEWORK = api_settings.rest_framework_settings(
    throttle_rates={
        "user": env.str("API_THROTTLE_USER", default="600/minute"),
        "generation_create": env.str("API_THROTTLE_GENERATIONS", default="120/minute"),
        # Wrong or unknown tokens, per client IP; past it every token from that IP waits.
        "failed_auth": env.str("API_THROTTLE_FAILED_AUTH", default="20/minute"),
    },
    num_proxies=TRUSTED_PROXY_COUNT,
)

# Admin changelists (core.admin_paging): rows are counted exactly up to this many; past it, on PostgreSQL,
# the page shows the planner's estimate ("about N") instead of running a full COUNT(*).
ADMIN_EXACT_COUNT_LIMIT = env.int("ADMIN_EXACT_COUNT_LIMIT", default=10_000)

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
    # webhook events (outbox rows), their deliveries and attempts, once every delivery has ended
    "webhooks": env.int("RETAIN_WEBHOOKS_DAYS", default=30),
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
# Search by picture (training/services/similarity_index.py): the vector index's backend ("usearch", or
# "exact": numpy over the stored vectors), and the cosine similarity at or above which two renderings are
# near-duplicates (measured in bench/near_duplicates.py).
SIMILARITY_INDEX_BACKEND = env.str("SIMILARITY_INDEX_BACKEND", default="usearch")
NEAR_DUPLICATE_SIMILARITY = env.float("NEAR_DUPLICATE_SIMILARITY", default=0.9)
# Check each new row of an import against the index (renders it: about 30 ms a row on one core).
IMPORT_NEAR_DUPLICATE_CHECK = env.bool("IMPORT_NEAR_DUPLICATE_CHECK", default=True)
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

SPECTACULAR_SETTINGS = api_settings.SPECTACULAR_SETTINGS

# Audit trail (django-auditlog): JSON old/new values, the actor, IP, and the user agent
# (added by core.middleware into additional_data).
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_INCLUDE_ALL_MODELS = False
# Compare against the stored row even when it is soft-deleted, so a restore is audited too.
AUDITLOG_USE_BASE_MANAGER = True

# The OpenAI protocol (/v1/) and external model versions (generation.api_openai, slm.external).
OPENAI_WAIT_SECONDS = env.int("OPENAI_WAIT_SECONDS", default=60)  # a chat completion waits this long
# Fernet key(s), comma-separated, newest first: external versions' API keys are encrypted with the first.
EXTERNAL_KEYS_FERNET = env.list("EXTERNAL_KEYS_FERNET", default=[])
EXTERNAL_TIMEOUT_SECONDS = env.float("EXTERNAL_TIMEOUT_SECONDS", default=60.0)  # one call to an endpoint
EXTERNAL_MAX_RETRIES = env.int("EXTERNAL_MAX_RETRIES", default=2)  # the openai client's retries
EXTERNAL_MAX_CONCURRENCY = env.int("EXTERNAL_MAX_CONCURRENCY", default=4)  # calls in flight per version
DEPLOYMENT_CHECK_INTERVAL_S = env.int("DEPLOYMENT_CHECK_INTERVAL_S", default=60)  # each alias's health check

LOGGING = logging_settings(level=env.str("LOG_LEVEL", default="INFO"))

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    X_FRAME_OPTIONS = "DENY"
