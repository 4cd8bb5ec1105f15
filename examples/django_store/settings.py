"""Django settings of the example: one SQLite database file (``CRM_DJANGO_DB``)."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "example-only"
INSTALLED_APPS = ["crm_store"]
USE_TZ = True
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CRM_DJANGO_DB", str(BASE_DIR / "crm.sqlite3")),
        "OPTIONS": {
            # Writers take the lock when their transaction begins and wait for it:
            # no unit of work fails half-way because another one wrote meanwhile.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
