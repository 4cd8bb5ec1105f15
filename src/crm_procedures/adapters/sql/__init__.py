"""The SQL store (SQLAlchemy Core; SQLite embedded default, PostgreSQL). Extra: ``sql``.

Importing this package is cheap: SQLAlchemy is imported when one of the names
below is first used (``from crm_procedures.adapters.sql import open_store``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_procedures.adapters.sql.schema import (
        LATEST_VERSION,
        SchemaError,
        create_schema,
        upgrade_schema,
    )
    from crm_procedures.adapters.sql.store import SqlStore, SqlUnitOfWork, make_engine, open_store

__all__ = [
    "LATEST_VERSION",
    "SchemaError",
    "SqlStore",
    "SqlUnitOfWork",
    "create_schema",
    "make_engine",
    "open_store",
    "upgrade_schema",
]

_HOMES = {
    "LATEST_VERSION": "schema",
    "SchemaError": "schema",
    "create_schema": "schema",
    "upgrade_schema": "schema",
    "SqlStore": "store",
    "SqlUnitOfWork": "store",
    "make_engine": "store",
    "open_store": "store",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{home}")
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in ("sqlalchemy", "psycopg"):
            raise
        raise ModuleNotFoundError(
            f"{name} needs the SQL extra, which is not installed ({exc.name} is missing); "
            "install it with: pip install 'crm_procedures[sql]'",
            name=exc.name,
        ) from exc
    return getattr(module, name)
