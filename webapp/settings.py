"""Django settings for Pitlane.

Defaults run everything on one machine (SQLite, the embedded Redis that `make run` starts);
production values come from environment variables (see README.md, "Configuration").
"""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from webapp.env import env_bool, env_float, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PITLANE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite and local media live here by default


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and env_bool("PITLANE_REQUIRE_SECRET_KEY", False):
        raise RuntimeError("SECRET_KEY must be set in production")
    # A development key: `make run` and the tests only; docker-compose sets a real one.
    SECRET_KEY = "pitlane-insecure-development-key-change-me-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",
    "webapp.core.admin_apps.PitlaneAdminConfig",  # django.contrib.admin with PitlaneAdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "axes",
    "webapp.core",
    "webapp.accounts",
    "webapp.leagues",
    "webapp.jobs",
    "webapp.api",
    "webapp.garage",
    "webapp.datasets",
    "webapp.evaluations",
    "webapp.rewards",
    "webapp.rl",
    "djangocodemirror",  # CodeMirror 5 static files (reward function editor), served locally
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "webapp.accounts.middleware.CurrentTeamMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the lockout page
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"
WSGI_APPLICATION = "webapp.wsgi.application"

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
                "webapp.accounts.context_processors.teams",
            ],
        },
    },
]

# Database: SQLite by default, DATABASE_URL (e.g. postgres://user:pass@host/db) in production.
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'pitlane.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and tests share the file; WAL and a busy timeout keep concurrent writers calm.
    # IMMEDIATE: an atomic block takes the write lock when it begins. A deferred one that reads
    # first and writes later fails at once with "database is locked" (the busy timeout does not
    # apply to that upgrade) whenever another process is writing, as a worker claiming a job was.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE",
         "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-pitlane.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes), on the site's and the admin's login alike: after
# PITLANE_LOGIN_FAILURE_LIMIT wrong passwords for one account (from anywhere), or from one address
# (for any accounts), logins for it are refused, even with the right password, until
# PITLANE_LOGIN_COOLOFF_S pass without another failure. A successful login clears that account's
# failures only (webapp/accounts/login_throttle.py). The address is REMOTE_ADDR: behind a proxy,
# run Daphne with --proxy-headers so it is the client's.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("PITLANE_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_float("PITLANE_LOGIN_COOLOFF_S", 15 * 60.0, minimum=1.0))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "webapp.accounts.login_throttle.LoginThrottleHandler"
AXES_LOCKOUT_CALLABLE = "webapp.accounts.login_throttle.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.js from the installed Python package (no CDN is reachable): static/vendor/plotly/plotly.min.js
    ("vendor/plotly", Path(importlib.util.find_spec("plotly").origin).parent / "package_data"),
]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Where uploads land before a job ingests them, and where jobs write their work files.
UPLOAD_ROOT = Path(os.environ.get("PITLANE_UPLOAD_ROOT", VAR_DIR / "uploads"))
WORK_ROOT = Path(os.environ.get("PITLANE_WORK_ROOT", VAR_DIR / "work"))

# In development, serve static files from the source folders; production serves the collected copy.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if os.environ.get("AWS_STORAGE_BUCKET_NAME"):
    # S3-compatible media storage (AWS S3, MinIO, ...); credentials come from the usual AWS_* variables.
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["AWS_STORAGE_BUCKET_NAME"],
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": None,
            "querystring_auth": True,
        },
    }

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Pitlane <noreply@pitlane.local>")

if env_bool("SECURE_COOKIES", False):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Redis: broker, results and the Channels layer. `make run` starts an embedded server on 6390.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")

# channels_redis waits for a socket's next message with BZPOPMIN and a 5 s server-side timeout
# (RedisChannelLayer.brpop_timeout). redis-py 8 gives every read a 5 s socket timeout by default,
# which fires first: the read raises "Timeout reading from ...", the consumer dies and Daphne
# closes every idle socket with 1011 after ~5 s. The socket timeout must stay above the blocking
# read's (tests/jobs/test_socket_hardening.py checks it); it still catches a Redis that went silent.
CHANNEL_REDIS_SOCKET_TIMEOUT_S = 15
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_REDIS_SOCKET_TIMEOUT_S,
                       "socket_connect_timeout": 5, "health_check_interval": 30}],
            "prefix": os.environ.get("PITLANE_CHANNEL_PREFIX", "pitlane"),
        },
    }
}

# Celery. The longest job is bounded by the hard time limit; the visibility timeout stays above it
# so Redis never hands a running job's message to a second worker.
JOB_SOFT_TIME_LIMIT_S = env_int("JOB_SOFT_TIME_LIMIT_S", 6 * 3600, minimum=1)
JOB_HARD_TIME_LIMIT_S = JOB_SOFT_TIME_LIMIT_S + 300
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL)
# A short connect timeout: a web request that queues a job while Redis is down answers in about a
# second (the job waits in the database; see webapp/jobs/dispatch.py).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": JOB_HARD_TIME_LIMIT_S + 600, "socket_connect_timeout": 3}
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = JOB_SOFT_TIME_LIMIT_S
CELERY_TASK_TIME_LIMIT = JOB_HARD_TIME_LIMIT_S
CELERY_TASK_DEFAULT_QUEUE = "training"
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# A running job writes a heartbeat; a job whose heartbeat is older than this is presumed dead.
JOB_HEARTBEAT_INTERVAL_S = env_float("JOB_HEARTBEAT_INTERVAL_S", 5.0, minimum=0.1)
JOB_STALE_AFTER_S = env_float("JOB_STALE_AFTER_S", 60.0)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3, minimum=1)
# A queued job whose message is not in the broker this long after it was sent (Redis restarted
# empty, or was down at submit time) is sent again by the reaper.
JOB_REDISPATCH_AFTER_S = env_float("JOB_REDISPATCH_AFTER_S", 60.0, minimum=1.0)

# Job kinds: kind -> handler ("module:function") and queue. Apps add theirs here.
PITLANE_JOB_KINDS: dict[str, dict[str, str]] = {
    "datasets.ingest": {"handler": "webapp.datasets.jobs:ingest_dataset", "queue": "evaluation",
                        "label": "Dataset ingestion"},
    "garage.train_bc": {"handler": "webapp.garage.jobs:train_model", "queue": "training",
                        "label": "Behavioural-cloning training"},
    "evaluation": {"handler": "webapp.evaluations.jobs:evaluate", "queue": "evaluation", "label": "Evaluation"},
    "rl.train": {"handler": "webapp.rl.jobs:train_rl", "queue": "training",
                 "label": "Reinforcement-learning training"},
}

# Reward functions (webapp.rewards): validation runs the team's code in the reward sandbox
# (training.rl.sandbox), at most this many at once per web process (more: 429), each given up
# after this many seconds. PITLANE_UNSAFE_REWARD_SANDBOX=1 (read by the sandbox itself) runs team
# code without isolation where bubblewrap cannot run: never on a shared server.
PITLANE_REWARD_VALIDATIONS_PER_PROCESS = env_int("PITLANE_REWARD_VALIDATIONS_PER_PROCESS", 2, minimum=1)
PITLANE_REWARD_VALIDATION_TIMEOUT_S = env_float("PITLANE_REWARD_VALIDATION_TIMEOUT_S", 60.0, minimum=1.0)

# Datasets (webapp.datasets): extracted recordings live on local disk, where training reads them.
PITLANE_DATASET_ROOT = Path(os.environ.get("PITLANE_DATASET_ROOT", VAR_DIR / "datasets"))
# Bytes per request of a chunked upload (what the browser sends; Daphne holds one in memory).
PITLANE_UPLOAD_CHUNK_BYTES = env_int("PITLANE_UPLOAD_CHUNK_BYTES", 8 * 1024 * 1024, minimum=1)
# Chunked uploads not finished within this many seconds are deleted by the maintenance queue.
PITLANE_UPLOAD_ABANDONED_AFTER_S = env_float("PITLANE_UPLOAD_ABANDONED_AFTER_S", 24 * 3600.0, minimum=0.0)
# A team's unfinished chunked uploads: at most this many at once, announcing at most these bytes.
PITLANE_UPLOAD_MAX_OPEN_PER_TEAM = env_int("PITLANE_UPLOAD_MAX_OPEN_PER_TEAM", 4, minimum=1)
PITLANE_UPLOAD_MAX_OPEN_BYTES_PER_TEAM = env_int("PITLANE_UPLOAD_MAX_OPEN_BYTES_PER_TEAM", 16 * 1024**3, minimum=1)
PITLANE_DATASET_MAX_UPLOAD_BYTES = env_int("PITLANE_DATASET_MAX_UPLOAD_BYTES", 8 * 1024**3)
# The one-request upload form (no JavaScript, scripts) takes zips up to this; larger go in chunks.
PITLANE_DATASET_MAX_FORM_UPLOAD_BYTES = env_int("PITLANE_DATASET_MAX_FORM_UPLOAD_BYTES", 8 * 1024 * 1024, minimum=1)
# The largest request body the web server reads (webapp/server.py answers 413 before reading it):
# an upload chunk or a form upload, with room for multipart headers and fields. Django's own limits
# agree: form fields and request.body up to 2.5 MB in memory, uploaded files above it on disk.
_LARGEST_UPLOAD_REQUEST = max(PITLANE_UPLOAD_CHUNK_BYTES, PITLANE_DATASET_MAX_FORM_UPLOAD_BYTES) + 64 * 1024
PITLANE_MAX_REQUEST_BYTES = env_int("PITLANE_MAX_REQUEST_BYTES", _LARGEST_UPLOAD_REQUEST + 1024 * 1024,
                                    minimum=_LARGEST_UPLOAD_REQUEST)
DATA_UPLOAD_MAX_MEMORY_SIZE = FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # Django's defaults, said here
PITLANE_DATASET_MAX_UNCOMPRESSED_BYTES = env_int("PITLANE_DATASET_MAX_UNCOMPRESSED_BYTES", 20 * 1024**3)
PITLANE_DATASET_MAX_COMPRESSION_RATIO = env_float("PITLANE_DATASET_MAX_COMPRESSION_RATIO", 200.0)
PITLANE_DATASET_MAX_MEMBERS = env_int("PITLANE_DATASET_MAX_MEMBERS", 500000)
# Models (webapp.garage): ImageNet Inception v3 weights (.h5) on the workers' disk, if any; teams
# may also upload their own. Grid searches are capped at this many jobs.
PITLANE_INCEPTION_WEIGHTS = os.environ.get("PITLANE_INCEPTION_WEIGHTS") or None
PITLANE_MAX_GRID_JOBS = env_int("PITLANE_MAX_GRID_JOBS", 32, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "webapp.api.authentication.TeamTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pitlane API",
    "DESCRIPTION": "Team API for drive agents, lap timers and scripts. Authenticate with a team token: "
    "`Authorization: Bearer plt_...`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
