"""The shipped store contract suites, run against memory, SQLite and PostgreSQL.

The suites live in :mod:`crm_procedures.testing.contracts`, where a host's
own store adapter runs them too; ``crm_contract_store`` (in ``conftest.py``)
makes the stores, one adapter per parameter.
"""

from __future__ import annotations

from crm_procedures.testing.contracts import StoreContract


class TestShippedStores(StoreContract):
    """Every store contract, on every shipped adapter."""
