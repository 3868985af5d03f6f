"""Settings for the test suite: the production settings, with tasks run immediately,
fast password hashing and a throw-away data directory. DATABASE_URL still chooses the
database (SQLite by default, PostgreSQL when it names one)."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ["TASKS_BACKEND"] = "immediate"
os.environ.setdefault("SPORTELLO_DATA_DIR", tempfile.mkdtemp(prefix="sportello-test-"))
os.environ.setdefault("LOG_FORMAT", "text")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from sportello.settings import *  # noqa: F403
from sportello.settings import STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
# One process runs the tests (the live server is a thread of it), so a local-memory cache
# is shared like the database cache is in production; tests clear it between them.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STAFF_REQUIRE_MFA = False
# Stripe is off unless a test configures it (with a replaying HTTP client): keys in the
# developer's environment never reach the tests.
PAYMENTS_STRIPE_SECRET_KEY = ""
PAYMENTS_STRIPE_WEBHOOK_SECRET = ""
