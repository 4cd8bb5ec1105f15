"""The store contract suites: what every :class:`~crm_procedures.ports.Store` must do.

The same suites run against the shipped stores (memory, SQLite, PostgreSQL)
and against a host application's own adapter. A host writes one fixture and
one class::

    import pytest
    from crm_procedures.testing.contracts import StoreContract

    @pytest.fixture
    def crm_contract_store(tmp_path):
        return lambda: MyStore(tmp_path / "crm.db")  # a new, empty store per call

    class TestMyStore(StoreContract):
        pass

``crm_contract_store`` returns a :data:`StoreFactory`: a callable that makes an
empty store. The suite calls it once per test and closes the store after the
test. :class:`StoreContract` holds every suite; :class:`RepositoryContract`,
:class:`UnitOfWorkContract`, :class:`OutboxContract`, :class:`QueryContract`,
:class:`BoundaryContract`, :class:`FaultContract`,
:class:`ConcurrencyContract` and :class:`CadenceContract` are the parts, for
a host that runs them one by one. :class:`InboxContract` (from
:mod:`~crm_procedures.testing.contracts.inbox`) checks an
:class:`~crm_procedures.ports.Inbox` adapter, with a ``crm_contract_inbox`` fixture.

A store declares what it can do in its ``capabilities`` attribute (a set of
names, see :data:`CAPABILITIES`). A missing capability never skips a test:
the suite checks what the store promises instead (a keyword search refused
with a named error without ``fulltext``; threads taking turns without
``threads``; the cadence calls refused by name without ``cadence``;
before/after comparisons read through the ports without ``dump``).

This package imports pytest: import it from tests only.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from crm_procedures.ports import Store
from crm_procedures.testing.contracts import (
    boundaries,
    cadence,
    concurrency,
    faults,
    inbound,
    outbox,
    queries,
    repositories,
    unit_of_work,
)
from crm_procedures.testing.contracts._support import (
    CAPABILITIES,
    StoreFactory,
    capabilities_of,
    dump,
    has,
    port_snapshot,
)
from crm_procedures.testing.contracts.inbox import InboxContract
from crm_procedures.testing.contracts.kinds import KIND_PARAMS, Kind

__all__ = [
    "CAPABILITIES",
    "BoundaryContract",
    "CadenceContract",
    "ConcurrencyContract",
    "FaultContract",
    "InboundContract",
    "InboxContract",
    "OutboxContract",
    "QueryContract",
    "RepositoryContract",
    "StoreContract",
    "StoreFactory",
    "UnitOfWorkContract",
    "capabilities_of",
    "contract_tests",
    "dump",
    "has",
    "port_snapshot",
]


class _Contract:
    """The ``store`` fixture every contract test takes: a new store from the host's factory."""

    @pytest.fixture
    def store(self, crm_contract_store: StoreFactory) -> Iterator[Store]:
        """An empty store made by ``crm_contract_store``; closed after the test."""
        if not callable(crm_contract_store):
            pytest.fail(
                "the crm_contract_store fixture must return a callable that makes an empty "
                f"store, not {type(crm_contract_store).__name__}",
                pytrace=False,
            )
        made = crm_contract_store()
        if not isinstance(made, Store):
            pytest.fail(
                f"crm_contract_store made a {type(made).__name__}, which lacks "
                "unit_of_work() or close() of the Store port",
                pytrace=False,
            )
        try:
            yield made
        finally:
            made.close()


def contract_tests(module: ModuleType) -> dict[str, staticmethod[..., None]]:
    """The ``test_*`` functions of a contract module, as static methods of a suite class."""
    return {
        name: staticmethod(value)
        for name, value in vars(module).items()
        if name.startswith("test_") and callable(value)
    }


def _adopt(suite: type, module: ModuleType) -> None:
    for name, test in contract_tests(module).items():
        setattr(suite, name, test)


class RepositoryContract(_Contract):
    """add, get, find, save, count and add_many, for every record kind."""

    @pytest.fixture(params=KIND_PARAMS)
    def kind(self, request: pytest.FixtureRequest) -> Kind:
        """One record kind (see :mod:`crm_procedures.testing.contracts.kinds`)."""
        found: Kind = request.param
        return found


class UnitOfWorkContract(_Contract):
    """Commit, rollback, isolation of failed writes, stale copies, refused writes."""


class OutboxContract(_Contract):
    """Recording, claiming with a lease, marking, retrying, idempotency keys, dispatching."""


class QueryContract(_Contract):
    """The queries of each repository: order, filters, paging, the viewer's visibility."""


class BoundaryContract(_Contract):
    """Text no store can hold, visibility of reports and relations, read-only units of work."""


class FaultContract(_Contract):
    """1,000 messages through a failing mailer and a dying dispatcher: 0 lost, 0 doubled."""


class ConcurrencyContract(_Contract):
    """Threads performing steps on one prospect at once lose no update."""


class CadenceContract(_Contract):
    """Due lists, claims and leases of the prospects (the ``cadence`` capability)."""


class InboundContract(_Contract):
    """Sent and processed Message-IDs, inbox positions, kept messages, addresses, events."""


_adopt(RepositoryContract, repositories)
_adopt(InboundContract, inbound)
_adopt(UnitOfWorkContract, unit_of_work)
_adopt(OutboxContract, outbox)
_adopt(QueryContract, queries)
_adopt(BoundaryContract, boundaries)
_adopt(FaultContract, faults)
_adopt(ConcurrencyContract, concurrency)
_adopt(CadenceContract, cadence)


class StoreContract(
    RepositoryContract,
    UnitOfWorkContract,
    OutboxContract,
    QueryContract,
    BoundaryContract,
    FaultContract,
    ConcurrencyContract,
    InboundContract,
    CadenceContract,
):
    """Every store contract. Subclass it as ``Test...`` next to a ``crm_contract_store`` fixture."""
