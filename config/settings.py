"""Settings, all from the environment (django-environ).

With no environment at all this runs the embedded default: SQLite, local-memory cache, eager
Celery and sandbox providers. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY,
FIELD_ENCRYPTION_KEY, ALLOWED_HOSTS and DEBUG=false (see README "Configuration").
"""

from pathlib import Path

import environ

from config.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-dev-key-change-me" if DEBUG else "")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Credentials are encrypted with keys derived from SECRET_KEY (and SECRET_KEY_FALLBACKS) and
# this salt; several comma-separated salts are tried in turn, which allows rotation.
# The system check integrations.E001 refuses to start without it when DEBUG is off.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=["dev-only-salt"] if DEBUG else [])
SALT_KEY = FIELD_ENCRYPTION_KEY or ["unset-encryption-key"]

INSTALLED_APPS = [
    "django.contrib.admin",
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
    "integrations",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "audit.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the admin's language switch (session cookie), else Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A dropped database connection answers a JSON 503 with Retry-After (config/middleware.py).
    "config.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded default runs a migration's execution in a thread beside the request (eager
    # Celery): IMMEDIATE transactions wait for each other instead of failing "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="sb"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Short timeouts: when Redis is down, routing falls back to PostgreSQL quickly.
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.25),
                "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.5),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# English and Brazilian Portuguese; LANGUAGE_CODE is the language of requests that ask for
# neither and of what no request carries (notification emails, tasks).
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("pt-br", "Português (Brasil)")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
# Inbound WhatsApp media downloaded from the providers (docs/MESSAGING.md) go to Django's default
# storage: files under MEDIA_ROOT unless STORAGES says otherwise. Never served as static files:
# the API hands them out to the organization's members only.
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "media"))
INBOUND_MEDIA_MAX_BYTES = env.int("INBOUND_MEDIA_MAX_BYTES", default=16 * 1024 * 1024)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "admin:login"
# Tests and `runserver` serve static files from the finders; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG or env.bool("WHITENOISE_USE_FINDERS", default=False)

# ----- security headers that matter once DEBUG is off
TRUST_PROXY = env.bool("TRUST_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUST_PROXY else None
USE_X_FORWARDED_HOST = TRUST_PROXY
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)

# ----- Celery
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# Periodic jobs (celery beat): health checks with automatic failover, and the delivery sweeper
# that re-queues rows whose worker died or whose task was lost.
CELERY_BEAT_SCHEDULE = {
    "health-checks": {
        "task": "integrations.tasks.run_health_checks",
        "schedule": env.float("HEALTH_CHECK_INTERVAL", default=60.0),
    },
    "sweep-stalled-deliveries": {
        "task": "integrations.tasks.sweep_stalled_deliveries",
        "schedule": env.float("DELIVERY_SWEEP_INTERVAL", default=30.0),
    },
    # Routing-policy jobs (docs/POLICIES.md): due scheduled switches, rollout steps.
    "policy-jobs": {
        "task": "integrations.tasks.run_policy_jobs",
        "schedule": env.float("POLICY_JOBS_INTERVAL", default=15.0),
    },
}

# ----- REST API (integrations/api): tenancy by X-Org-Id, one JSON error shape, write throttles
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous request then gets 401 with WWW-Authenticate, not 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "integrations.api.permissions.IsOrganizationMember",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "integrations.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "integrations.api.throttling.UserWriteThrottle",
        "integrations.api.throttling.OrganizationWriteThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user_write": env.str("API_USER_WRITE_RATE", default="120/min"),
        "org_write": env.str("API_ORG_WRITE_RATE", default="600/min"),
        "auth_token": env.str("API_TOKEN_RATE", default="20/min"),
        # Token requests naming one username, from any address (password guessing spread out).
        "auth_token_username": env.str("API_TOKEN_USERNAME_RATE", default="10/min"),
        # Message and call sends (one request, single or batch, counts once) per organization.
        "message_send": env.str("API_MESSAGE_SEND_RATE", default="100/s"),
    },
    # The client address of throttles is REMOTE_ADDR; behind the one trusted proxy
    # (TRUST_PROXY), the address that proxy appended to X-Forwarded-For. A client's own
    # X-Forwarded-For is never believed.
    "NUM_PROXIES": 1 if TRUST_PROXY else 0,
    "EXCEPTION_HANDLER": "integrations.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "integrations.api.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["integrations.api.parsers.BoundedJSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": (
        "Providers per channel for each organization: integrations, switching, messages, calls, audit. "
        "Send X-Org-Id (organization id or slug) unless you belong to exactly one organization."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"ChannelEnum": "integrations.models.Channel"},
    # Swagger UI from the sidecar's static files: the docs load with no CDN and no network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.api.schema.add_error_responses",
    ],
}

# ----- Switchboard
SWITCHBOARD_PROVIDERS = env.list(
    "SWITCHBOARD_PROVIDERS",
    default=[
        "providers.sandbox.SandboxWhatsApp",
        "providers.sandbox.SandboxVoip",
        "providers.whatsapp.meta_cloud.MetaCloudWhatsApp",
        "providers.whatsapp.twilio.TwilioWhatsApp",
        "providers.whatsapp.web_bridge.WhatsAppWebBridge",
        "providers.voip.twilio_voice.TwilioVoice",
        "providers.voip.telnyx.Telnyx",
    ],
)
# Simulated providers (the sandbox) are registered only with DEBUG or SWITCHBOARD_SANDBOX=true.
SWITCHBOARD_SANDBOX = DEBUG or env.bool("SWITCHBOARD_SANDBOX", default=False)
# Where the server may connect on a tenant's behalf beyond https to public addresses: host names,
# IPs or CIDR networks (comma-separated), e.g. a self-hosted WhatsApp Web bridge on a private
# network. Plain http is allowed only to these. Empty by default. (providers/egress.py)
PROVIDER_EGRESS_ALLOWLIST = env.list("PROVIDER_EGRESS_ALLOWLIST", default=[])
# Seconds a cached route lives even if no change invalidates it (a safety net, not the
# mechanism: every change bumps the route version).
ROUTE_CACHE_TTL = env.int("ROUTE_CACHE_TTL", default=300)
# A scheduled switch found more than this many seconds after its time (beat was down) is refused.
SCHEDULED_SWITCH_MAX_LATENESS = env.int("SCHEDULED_SWITCH_MAX_LATENESS", default=3600)
# Receipt-aware health (docs/POLICIES.md): with a timeout > 0, a primary whose messages of the last
# window lack a delivery receipt that long after, over the rate, counts as down for auto-failover.
HEALTH_RECEIPT_TIMEOUT_SECONDS = env.int("HEALTH_RECEIPT_TIMEOUT_SECONDS", default=0)
HEALTH_RECEIPT_WINDOW_SECONDS = env.int("HEALTH_RECEIPT_WINDOW_SECONDS", default=3600)
HEALTH_RECEIPT_MIN_SAMPLE = env.int("HEALTH_RECEIPT_MIN_SAMPLE", default=20)
HEALTH_RECEIPT_MAX_MISSING_RATE = env.float("HEALTH_RECEIPT_MAX_MISSING_RATE", default=0.5)
# How often routing may log "Redis unreachable" for the same cause.
ROUTE_CACHE_WARNING_INTERVAL = env.int("ROUTE_CACHE_WARNING_INTERVAL", default=60)
# Base URL used to build webhook URLs shown to admins and given to providers.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# The admin's provider screens (dashboard, migration wizard, detail). Off hides them and refuses
# migrations started from them: the product plan's rollback plan.
PROVIDER_MANAGEMENT_ENABLED = env.bool("PROVIDER_MANAGEMENT_ENABLED", default=True)
# How long after a completed migration the wizard still offers to roll it back.
PROVIDER_MIGRATION_ROLLBACK_SECONDS = env.int("PROVIDER_MIGRATION_ROLLBACK_SECONDS", default=24 * 3600)

# ----- Delivery, circuit breakers, health and notifications (integrations/services/dispatch.py)
# A claimed row belongs to its worker this long; keep it well above provider timeouts × route length.
DELIVERY_LEASE_SECONDS = env.int("DELIVERY_LEASE_SECONDS", default=120)
# Retries after the first round (Celery exponential backoff with full jitter, factor and cap in seconds).
DELIVERY_MAX_RETRIES = env.int("DELIVERY_MAX_RETRIES", default=5)
DELIVERY_RETRY_BACKOFF = env.int("DELIVERY_RETRY_BACKOFF", default=2)
DELIVERY_RETRY_BACKOFF_MAX = env.int("DELIVERY_RETRY_BACKOFF_MAX", default=300)
# A queued row no task has picked up this long is queued again (e.g. the broker was down).
DELIVERY_REQUEUE_AFTER = env.int("DELIVERY_REQUEUE_AFTER", default=300)
# Batches (integrations/services/delivery/batch.py): ids per batch task, provider calls in flight per
# worker process, and how long a route's integration rows are kept in process (breaker counters
# written by other workers are seen within this; route changes bump a version and are seen at once).
DELIVERY_BATCH_SIZE = env.int("DELIVERY_BATCH_SIZE", default=50)
DELIVERY_SEND_CONCURRENCY = env.int("DELIVERY_SEND_CONCURRENCY", default=64)
DELIVERY_ROUTE_ROWS_MAX_AGE = env.float("DELIVERY_ROUTE_ROWS_MAX_AGE", default=1.0)
# Longest a send waits for its integration's turn under send_rate_limit before delivery tries the
# next integration (or retries later); keep it well under DELIVERY_LEASE_SECONDS.
DELIVERY_PACING_MAX_WAIT = env.float("DELIVERY_PACING_MAX_WAIT", default=10.0)
# Back-pressure at intake: when an organization's waiting messages (queued or sending) would pass
# this, new sends answer 429 with Retry-After (seconds). 0 = no limit. The count is kept in process
# this many seconds between counts (integrations/services/delivery/queue_depth.py).
MESSAGE_QUEUE_DEPTH_LIMIT = env.int("MESSAGE_QUEUE_DEPTH_LIMIT", default=100_000)
MESSAGE_QUEUE_RETRY_AFTER = env.int("MESSAGE_QUEUE_RETRY_AFTER", default=10)
MESSAGE_QUEUE_DEPTH_CACHE_SECONDS = env.float("MESSAGE_QUEUE_DEPTH_CACHE_SECONDS", default=1.0)
# POST /api/v1/messages/batch/: at most this many messages per request (more answers 413).
MESSAGE_BATCH_MAX_ITEMS = env.int("MESSAGE_BATCH_MAX_ITEMS", default=1000)
# Circuit breaker per integration: opens after N consecutive retryable failures, for a cooldown.
BREAKER_FAILURE_THRESHOLD = env.int("BREAKER_FAILURE_THRESHOLD", default=5)
BREAKER_COOLDOWN_SECONDS = env.int("BREAKER_COOLDOWN_SECONDS", default=30)
# How long one half-open probe holds the breaker before another may probe.
BREAKER_PROBE_SECONDS = env.int("BREAKER_PROBE_SECONDS", default=30)
# Automatic failover: K consecutive failed health checks; no two automatic switches closer than this.
HEALTH_FAILOVER_THRESHOLD = env.int("HEALTH_FAILOVER_THRESHOLD", default=3)
# Wall time one health run may take; integrations not reached wait for the next run, which
# starts with those checked least recently (default: the run period).
HEALTH_RUN_BUDGET_SECONDS = env.float("HEALTH_RUN_BUDGET_SECONDS", default=CELERY_BEAT_SCHEDULE["health-checks"]["schedule"])
FAILOVER_COOLDOWN_SECONDS = env.int("FAILOVER_COOLDOWN_SECONDS", default=600)
# Forged or unverifiable webhooks: every one is logged, at most one audit row per integration per window.
WEBHOOK_REJECTION_AUDIT_SECONDS = env.int("WEBHOOK_REJECTION_AUDIT_SECONDS", default=3600)
NOTIFICATION_WEBHOOK_TIMEOUT = env.float("NOTIFICATION_WEBHOOK_TIMEOUT", default=5.0)
NOTIFICATION_WEBHOOK_MAX_RETRIES = env.int("NOTIFICATION_WEBHOOK_MAX_RETRIES", default=5)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="switchboard@localhost")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend")

# ----- Metrics (/metrics, integrations/services/metrics.py)
# The bearer token Prometheus sends; unset, /metrics answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# One series per organization (its slug) on the delivery, switch and failover counters.
METRICS_ORGANIZATION_LABEL = env.bool("METRICS_ORGANIZATION_LABEL", default=False)
# Multiprocess mode (gunicorn, Celery): each process tree writes its metrics to files in
# PROMETHEUS_MULTIPROC_DIR (read by prometheus-client when it is imported), and /metrics merges
# the files of every directory matching METRICS_COLLECT_DIRS (globs; by default that one).
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
METRICS_COLLECT_DIRS = env.list("METRICS_COLLECT_DIRS", default=[PROMETHEUS_MULTIPROC_DIR] if PROMETHEUS_MULTIPROC_DIR else [])
if PROMETHEUS_MULTIPROC_DIR:
    # prometheus-client writes there from the first sample on: the directory must exist.
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

# Plain text, or one JSON object per line with the request, organization and integration ids
# (config/logging.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
