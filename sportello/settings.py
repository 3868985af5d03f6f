"""Sportello's settings: every value comes from the environment (see .env.example).

A missing or malformed variable stops start-up with a one-line SettingError naming it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.utils.csp import CSP

from sportello.core.env import Env, SettingError, document_numbering_problem

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env.string("SPORTELLO_DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env.boolean("DEBUG", False)
# The demo data (well-known passwords) may only be created when this is set or DEBUG is on.
SPORTELLO_DEMO = env.boolean("SPORTELLO_DEMO", False)

if DEBUG:
    SECRET_KEY = env.string("SECRET_KEY", "insecure-development-key-do-not-use-in-production-0123456789")
else:
    SECRET_KEY = env.string("SECRET_KEY")
    if len(SECRET_KEY) < 32:
        raise SettingError("SECRET_KEY must be at least 32 characters long")

# The address customers use; links in emails are built from it, never from the Host header.
SITE_URL = env.url("SITE_URL", "http://127.0.0.1:8000")
_site = urlsplit(SITE_URL)
SITE_HOST = _site.hostname or "127.0.0.1"
HTTPS = _site.scheme == "https"
_LOOPBACK = ["127.0.0.1", "localhost", "[::1]", "::1"]
ALLOWED_HOSTS = [SITE_HOST, *env.strings("ALLOWED_HOSTS", [])]
if DEBUG or SITE_HOST in _LOOPBACK:
    ALLOWED_HOSTS += _LOOPBACK
CSRF_TRUSTED_ORIGINS = [f"{_site.scheme}://{_site.netloc}"]

PROVIDER_NAME = env.string("PROVIDER_NAME", "Sportello Demo Hosting")
SUPPORT_EMAIL = env.string("SUPPORT_EMAIL", "support@example.com")

INSTALLED_APPS = [
    # Before the admin, so that its templates (admin/base_site.html: the back office's theme
    # and scripts) are found before the admin's own.
    "sportello.staff",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_tasks_db",
    "sportello.core",
    "sportello.accounts",
    "sportello.notifications",
    "sportello.catalog",
    "sportello.services",
    "sportello.support",
    "sportello.billing",
    "sportello.orders",
    "sportello.payments",
    "sportello.portal",
    "sportello.api",
    "sportello.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Outside every middleware that may log in or out, so that it sees the final session.
    "sportello.accounts.middleware_security.SessionTrackingMiddleware",
    "sportello.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "sportello.staff.impersonation.ImpersonationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After messages, htmx and impersonation, which it uses.
    "sportello.accounts.middleware_security.MfaRequiredMiddleware",
]

ROOT_URLCONF = "sportello.urls"
WSGI_APPLICATION = "sportello.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "sportello" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sportello.core.context_processors.site",
                "sportello.portal.context_processors.portal",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env.string("DATABASE_URL", f"sqlite:///{DATA_DIR / 'sportello.sqlite3'}")
try:
    _database = dj_database_url.parse(DATABASE_URL, conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 60, minimum=0))
except ValueError as exc:
    raise SettingError(f"DATABASE_URL is not a database URL this project understands ({exc})") from None
if _database["ENGINE"] == "django.db.backends.sqlite3":
    if _database["NAME"] != ":memory:":
        Path(_database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _database["CONN_MAX_AGE"] = 0
    _database["OPTIONS"] = {
        # IMMEDIATE takes the write lock when a transaction starts, so two writers queue
        # up instead of failing half way with "database is locked" (DESIGN: SQLite).
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
elif _database["ENGINE"] == "django.db.backends.postgresql":
    if env.boolean("DATABASE_POOL", False):
        _database["CONN_MAX_AGE"] = 0
        _database.setdefault("OPTIONS", {})["pool"] = True
else:
    raise SettingError("DATABASE_URL must name a sqlite:// or postgres:// database")
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Background work --------------------------------------------------------------------
TASKS_BACKEND = env.choice("TASKS_BACKEND", "database", ["database", "immediate"])
TASKS = {
    "default": {
        "BACKEND": {
            "database": "django_tasks_db.DatabaseBackend",
            "immediate": "django.tasks.backends.immediate.ImmediateBackend",
        }[TASKS_BACKEND],
        "QUEUES": ["default"],
    }
}
# Seconds between the scheduler's looks at the clock, and after which a worker that has
# not reported is considered gone (shown by /healthz).
SCHEDULER_INTERVAL = env.integer("SCHEDULER_INTERVAL", 15, minimum=1, maximum=3600)
WORKER_HEARTBEAT_TIMEOUT = env.integer("WORKER_HEARTBEAT_TIMEOUT", 90, minimum=5)
# Hour of the day (UTC) from which the daily jobs of a date are due.
DAILY_JOBS_HOUR = env.integer("DAILY_JOBS_HOUR", 2, minimum=0, maximum=23)

# --- Provisioning -------------------------------------------------------------------------
# Where the webhook module POSTs each provisioning action, and the secret it signs with
# (HMAC-SHA256). Addresses in loopback, link-local, private, unspecified and multicast
# ranges are refused unless PROVISIONING_ALLOW_PRIVATE_URLS is on (an endpoint on the LAN).
PROVISIONING_WEBHOOK_URL = env.string("PROVISIONING_WEBHOOK_URL", "")
PROVISIONING_WEBHOOK_SECRET = env.string("PROVISIONING_WEBHOOK_SECRET", "")
PROVISIONING_ALLOW_PRIVATE_URLS = env.boolean("PROVISIONING_ALLOW_PRIVATE_URLS", False)

# --- Support -------------------------------------------------------------------------------
# Notifications about a request are answered to SUPPORT_REPLY_ADDRESS with a signed
# reference added after a "+" (support+<reference>@example.com); the mail server hands
# those replies to POST /support/inbound/ with SUPPORT_INBOUND_SECRET (an empty secret
# turns the endpoint off) or to `sportello support_inbound` on stdin.
SUPPORT_REPLY_ADDRESS = env.string("SUPPORT_REPLY_ADDRESS", SUPPORT_EMAIL)
SUPPORT_INBOUND_SECRET = env.string("SUPPORT_INBOUND_SECRET", "")
SUPPORT_ATTACHMENT_MAX_BYTES = env.integer("SUPPORT_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
SUPPORT_ATTACHMENT_MAX_COUNT = env.integer("SUPPORT_ATTACHMENT_MAX_COUNT", 5, minimum=0, maximum=50)
# Days after closing during which the customer may reopen a request (or reopen it by replying).
SUPPORT_REOPEN_DAYS = env.integer("SUPPORT_REOPEN_DAYS", 14, minimum=0)
# Where a customer's new request or message is emailed when its department has no staff
# and nobody is assigned to it; empty: nobody is emailed (the queue still shows it).
SUPPORT_STAFF_EMAIL = env.string("SUPPORT_STAFF_EMAIL", "")
# --- Orders -------------------------------------------------------------------------------
# An account's first order above this total for its currency is held for review (fraud
# review) instead of awaiting payment: CURRENCY:AMOUNT pairs, e.g. "EUR:500,BRL:2500".
ORDERS_REVIEW_FIRST_ORDER_OVER = env.strings("ORDERS_REVIEW_FIRST_ORDER_OVER", [])

# --- Billing ------------------------------------------------------------------------------
# Document numbers: the format, with {series}, {year} and {seq} (e.g. {seq:05} pads to five
# digits), and the series of each document type. Numbers are gapless per series and year, so
# the format must print all three (core.env.document_numbering_problem says why each); a
# payment request or quote series must not be an invoice or credit note series.
BILLING_NUMBER_FORMAT = env.string("BILLING_NUMBER_FORMAT", "{series}-{year}-{seq:05}")
BILLING_SERIES = {
    "invoice": env.string("BILLING_SERIES_INVOICE", "INV"),
    "credit_note": env.string("BILLING_SERIES_CREDIT_NOTE", "CN"),
    "proforma": env.string("BILLING_SERIES_PROFORMA", "PRO"),
    "quote": env.string("BILLING_SERIES_QUOTE", "Q"),
}
_numbering_problem = document_numbering_problem(
    BILLING_NUMBER_FORMAT,
    fiscal_series={
        "BILLING_SERIES_INVOICE": BILLING_SERIES["invoice"],
        "BILLING_SERIES_CREDIT_NOTE": BILLING_SERIES["credit_note"],
    },
    other_series={
        "BILLING_SERIES_PROFORMA": BILLING_SERIES["proforma"],
        "BILLING_SERIES_QUOTE": BILLING_SERIES["quote"],
    },
    # The length of the number columns (Invoice.number, Invoice.proforma_number, Quote.number).
    max_length=40,
)
if _numbering_problem:
    raise SettingError(_numbering_problem)
# "issue": an invoice takes its fiscal number when issued. "payment": it is issued as a
# numbered payment request and takes the fiscal number when paid (Italian practice).
BILLING_NUMBERING = env.choice("BILLING_NUMBERING", "issue", ["issue", "payment"])
# Whether catalog and manual prices are entered with tax included (B2C shops) or without.
BILLING_PRICES_INCLUDE_TAX = env.boolean("BILLING_PRICES_INCLUDE_TAX", False)
# Days between issue and due date for invoices that are not renewals (orders, manual).
BILLING_PAYMENT_TERMS_DAYS = env.integer("BILLING_PAYMENT_TERMS_DAYS", 14, minimum=0, maximum=365)
# Render and keep each invoice's PDF (PDF/A-3b) when it is issued, in a background task.
BILLING_PDF_ON_ISSUE = env.boolean("BILLING_PDF_ON_ISSUE", True)
# A directory holding DejaVuSans.ttf and DejaVuSans-Bold.ttf for documents; empty: the
# system's DejaVu, else the Bitstream Vera fonts that ship with ReportLab.
BILLING_PDF_FONT_DIR = env.string("BILLING_PDF_FONT_DIR", "")
# Payments. The simulated card processor ("testcard", under /testcard/) is for the demo and
# tests: on with SPORTELLO_DEMO or this setting, never otherwise. Its notifications are signed
# with PAYMENTS_TESTCARD_WEBHOOK_SECRET (default: derived from SECRET_KEY).
PAYMENTS_TESTCARD_ENABLED = env.boolean("PAYMENTS_TESTCARD_ENABLED", False)
PAYMENTS_TESTCARD_WEBHOOK_SECRET = env.string("PAYMENTS_TESTCARD_WEBHOOK_SECRET", "")
# Bank transfers to the seller's IBAN (billing.Seller), and the business days customers are told to expect.
PAYMENTS_BANK_TRANSFER_ENABLED = env.boolean("PAYMENTS_BANK_TRANSFER_ENABLED", True)
PAYMENTS_BANK_TRANSFER_CLEARING_DAYS = env.integer("PAYMENTS_BANK_TRANSFER_CLEARING_DAYS", 3, minimum=0, maximum=30)
# What a customer may add to their account credit at once, in major units of their currency.
PAYMENTS_FUNDS_MIN = env.integer("PAYMENTS_FUNDS_MIN", 5, minimum=0)
PAYMENTS_FUNDS_MAX = env.integer("PAYMENTS_FUNDS_MAX", 10000, minimum=1)
# Stripe (hosted Checkout, saved cards, refunds): offered only when both the secret API key and
# the webhook endpoint's signing secret are set. Stripe is told to send events to
# /payments/webhooks/stripe/. The SDK retries a failed call this many times, with the same
# idempotency key.
PAYMENTS_STRIPE_SECRET_KEY = env.string("PAYMENTS_STRIPE_SECRET_KEY", "")
PAYMENTS_STRIPE_WEBHOOK_SECRET = env.string("PAYMENTS_STRIPE_WEBHOOK_SECRET", "")
PAYMENTS_STRIPE_NETWORK_RETRIES = env.integer("PAYMENTS_STRIPE_NETWORK_RETRIES", 2, minimum=0, maximum=5)
# PIX (BRL only) to the seller's PIX key (billing.Seller): a BR Code with a txid of its own per
# payment, confirmed by the PSP's notification (POST /payments/webhooks/pix/, header Pix-Signature,
# signed with PAYMENTS_PIX_WEBHOOK_SECRET; empty: notifications refused) or by staff. Customers
# are asked to pay within PAYMENTS_PIX_EXPIRY_MINUTES.
PAYMENTS_PIX_ENABLED = env.boolean("PAYMENTS_PIX_ENABLED", True)
PAYMENTS_PIX_WEBHOOK_SECRET = env.string("PAYMENTS_PIX_WEBHOOK_SECRET", "")
PAYMENTS_PIX_EXPIRY_MINUTES = env.integer("PAYMENTS_PIX_EXPIRY_MINUTES", 1440, minimum=5, maximum=43200)
# The daily billing run. Reminders: days from the due date (negative before it), each sent once.
BILLING_REMINDER_DAYS = env.string("BILLING_REMINDER_DAYS", "-7,0,3,10")
# Late fee, charged once per overdue invoice this many days after its due date: a fixed
# amount per currency ("EUR:5.00,BRL:25.00") where one is set, else a percentage of the
# amount still owed ("0" for none).
BILLING_LATE_FEE_FIXED = env.string("BILLING_LATE_FEE_FIXED", "")
BILLING_LATE_FEE_PERCENT = env.string("BILLING_LATE_FEE_PERCENT", "0")
BILLING_LATE_FEE_AFTER_DAYS = env.integer("BILLING_LATE_FEE_AFTER_DAYS", 1, minimum=1, maximum=365)
# Services the run bills in one transaction (whole accounts, so a batch may hold more).
BILLING_RUN_BATCH = env.integer("BILLING_RUN_BATCH", 2000, minimum=1, maximum=100000)
# Partitions of the daily run: above 1, the daily job enqueues one task per partition (the
# accounts whose id modulo n is i) so that several workers share the run.
BILLING_RUN_PARTITIONS = env.integer("BILLING_RUN_PARTITIONS", 1, minimum=1, maximum=256)
# Days a sent quote stays valid unless staff choose another date.
BILLING_QUOTE_VALID_DAYS = env.integer("BILLING_QUOTE_VALID_DAYS", 30, minimum=1, maximum=365)
# Auto-pay: after an automatic charge fails, the billing run charges again this many days
# after the first failure, once each ("1,3,7"; empty: no retries), then leaves it to reminders.
PAYMENTS_AUTOPAY_RETRY_DAYS = env.day_offsets("PAYMENTS_AUTOPAY_RETRY_DAYS", "1,3,7")
# Email each issued invoice and credit note, with its PDF, to the account's contacts who
# receive invoices (once per document, after its PDF is rendered, in the background).
BILLING_INVOICE_EMAILS = env.boolean("BILLING_INVOICE_EMAILS", True)

# --- Identity -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "sportello.accounts.passwords.StrengthValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:dashboard"
ACCOUNT_ADAPTER = "sportello.accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PREVENT_ENUMERATION = True
# Do not email addresses that have no login: the page answers the same either way.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
# Tell people by email when their password, email or second factor changes.
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = _site.scheme
ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR = "sportello.accounts.tokens.PasswordLinkTokenGenerator"
ACCOUNT_FORMS = {
    "reset_password_from_key": "sportello.portal.forms_public.ResetPasswordKeyForm",
    "change_password": "sportello.portal.auth_forms.ChangePasswordForm",
    "set_password": "sportello.portal.auth_forms.SetPasswordForm",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
# Password links (first access and reset) expire after one hour.
PASSWORD_RESET_TIMEOUT = 60 * 60
# Enabling or disabling two-factor and changing the email ask for the password again
# when the last authentication is older than this.
ACCOUNT_REAUTHENTICATION_TIMEOUT = 5 * 60
# Throttling (per IP and per key, i.e. the email typed): the same answer is given for
# known and unknown emails, so the limits reveal nothing either.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "10/m/ip,3/5m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "reauthenticate": "10/m/user",
    "first_access": "10/m/ip,3/5m/key",
    "password_strength": "120/m/ip",
}
MFA_ADAPTER = "sportello.accounts.mfa.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = PROVIDER_NAME
# WebAuthn needs a secure context; http://127.0.0.1 and localhost are one for browsers.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = not HTTPS
# Staff must enrol a second factor before using the back office.
STAFF_REQUIRE_MFA = env.boolean("STAFF_REQUIRE_MFA", not DEBUG and not SPORTELLO_DEMO)

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("es", "Español"),
    ("pt-br", "Português (Brasil)"),
    ("it", "Italiano"),
]
LOCALE_PATHS = [BASE_DIR / "sportello" / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static and uploaded files ----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Email ------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", f"{PROVIDER_NAME} <billing@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_DELIVERY = env.choice("EMAIL_DELIVERY", "outbox", ["outbox", "smtp"])
if EMAIL_DELIVERY == "smtp":
    _email_port = env.integer("EMAIL_PORT", 587, minimum=1, maximum=65535)
    _mailer = {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": env.string("EMAIL_HOST"),
            "port": _email_port,
            "username": env.string("EMAIL_HOST_USER", ""),
            "password": env.string("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env.boolean("EMAIL_USE_TLS", _email_port == 587),
            "use_ssl": env.boolean("EMAIL_USE_SSL", _email_port == 465),
            "timeout": 30,
        },
    }
else:
    # The embedded default: every email is written as a file to var/outbox.
    _mailer = {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OPTIONS": {"file_path": str(DATA_DIR / "outbox")},
    }
MAILERS = {"default": _mailer}

# --- Cache and sessions ------------------------------------------------------------------------
# Rate limits count in the cache, so it is shared by every web process: the database.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "sportello_cache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env.integer("SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=300)

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = HTTPS and env.boolean("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.boolean("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
LOG_FORMAT = env.choice("LOG_FORMAT", "text" if DEBUG else "json", ["json", "text"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "sportello.core.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

NINJA_PAGINATION_CLASS = "ninja.pagination.CursorPagination"
