"""Django settings of the example: one SQLite database file (``CRM_DJANGO_DB``)."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "example-only"
INSTALLED_APPS = ["crm_store"]
USE_TZ = True
NAME = os.environ.get("CRM_DJANGO_DB", str(BASE_DIR / "crm.sqlite3"))
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": NAME,
        "OPTIONS": {
            # Writers take the lock when their transaction begins and wait for it:
            # no unit of work fails half-way because another one wrote meanwhile.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    },
    # The same file for read-only units of work (DjangoStore(read_using="reader")):
    # deferred transactions take no write lock, so in WAL a page that only reads
    # proceeds beside a writer; query_only makes SQLite itself refuse a write.
    "reader": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": NAME,
        "OPTIONS": {
            "transaction_mode": "DEFERRED",
            "timeout": 30,
            "init_command": "PRAGMA query_only=ON;",
        },
        "TEST": {"MIRROR": "default"},
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
