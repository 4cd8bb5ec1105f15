"""Plug in a store adapter of your own, and check it keeps the store's contract.

Run with ``python examples/custom_store.py``. A store is anything with
``unit_of_work()`` and ``close()`` (:class:`crm_procedures.ports.Store`); a unit
of work is one transaction with a repository per record kind, an outbox and
an audit log. This adapter wraps another store and tells your application
after every commit which records changed (a cache to clear, a search index
to update). A complete adapter for your own database has the same shape,
with SQL behind the repositories; ``adapters/memory.py`` is the shortest
complete one to read.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from crm_procedures import (
    ConcurrencyConflict,
    Group,
    MemoryStore,
    Relation,
    User,
    standard_definitions,
)
from crm_procedures.ports import Store, UnitOfWork
from crm_procedures.services import campaigns
from crm_procedures.services.app import CrmApp
from crm_procedures.testing import FrozenClock


class _Recording:
    """Wraps a repository: every add/save/add_many is remembered until the commit."""

    def __init__(self, inner: Any, kind: str, changed: list[tuple[str, str]]) -> None:
        self._inner = inner
        self._kind = kind
        self._changed = changed

    def add(self, record: Any) -> Any:
        stored = self._inner.add(record)
        self._changed.append((self._kind, stored.id))
        return stored

    def add_many(self, records: Any) -> None:
        self._inner.add_many(records)
        self._changed.extend((self._kind, r.id) for r in records)

    def save(self, record: Any) -> Any:
        stored = self._inner.save(record)
        self._changed.append((self._kind, stored.id))
        return stored

    def __getattr__(self, name: str) -> Any:  # get, find, count, the queries: unchanged
        return getattr(self._inner, name)


class _NotifyingUnitOfWork:
    KINDS = ("relations", "contacts", "projects", "prospects", "activities", "appointments")

    def __init__(self, inner: UnitOfWork, on_commit: Callable[[list[tuple[str, str]]], None]):
        self._inner = inner
        self._on_commit = on_commit
        self._changed: list[tuple[str, str]] = []
        for kind in self.KINDS:
            setattr(self, kind, _Recording(getattr(inner, kind), kind, self._changed))

    def commit(self) -> None:
        self._inner.commit()  # durable first; then tell the application
        changed, self._changed[:] = list(self._changed), []
        if changed:
            self._on_commit(changed)

    def rollback(self) -> None:
        self._inner.rollback()
        self._changed.clear()

    def __getattr__(self, name: str) -> Any:  # the other repositories, outbox, audit
        return getattr(self._inner, name)


class NotifyingStore:
    """A Store that calls ``on_commit(changes)`` after each successful commit."""

    def __init__(self, inner: Store, on_commit: Callable[[list[tuple[str, str]]], None]):
        self._inner = inner
        self._on_commit = on_commit

    def unit_of_work(self, *, read_only: bool = False) -> AbstractContextManager[UnitOfWork]:
        @contextmanager
        def scope() -> Iterator[UnitOfWork]:
            with self._inner.unit_of_work(read_only=read_only) as uow:
                yield _NotifyingUnitOfWork(uow, self._on_commit)

        return scope()

    def close(self) -> None:
        self._inner.close()


def notify(changes: list[tuple[str, str]]) -> None:
    print(f"  committed: {', '.join(f'{kind}/{rid[:8]}' for kind, rid in changes)}")


store = NotifyingStore(MemoryStore(), notify)  # or open_store("sqlite:///crm.db")
print(f"isinstance(store, Store): {isinstance(store, Store)}")
app = CrmApp(store=store, clock=FrozenClock(), definitions=standard_definitions())

print("setting up:")
with app.store.unit_of_work() as uow:
    uow.groups.add(Group("sales", "Sales", permissions={"project.write", "prospect.write"}))
    uow.users.add(User("ann", "Ann de Wit", groups={"sales"}, roles={"marketeer"}))
    uow.relations.add(Relation("client", "Klant B.V."))
    uow.relations.add(Relation("mill", "Molen Jansen B.V."))
    uow.commit()
print("the services run on it unchanged:")
project = campaigns.start_campaign(
    app.ctx, "ann", relation_id="client", name="Spring", procedure="standard"
)
(prospect,) = campaigns.add_prospects(app.ctx, "ann", project.id, [("mill", None)])
campaigns.release(app.ctx, "ann", project.id)
campaigns.perform_step(app.ctx, "ann", prospect.id, "call", role="marketeer")

# Two things every adapter must do (the contract suites test these and many more):
print("contract: leaving a unit of work without commit stores nothing")
with app.store.unit_of_work() as uow:
    uow.relations.add(Relation("ghost", "Never committed"))
with app.store.unit_of_work() as uow:
    print(f"  find('ghost') -> {uow.relations.find('ghost')}")

print("contract: saving a stale copy raises ConcurrencyConflict")
with app.store.unit_of_work() as uow:
    stale = uow.relations.get("mill")
with app.store.unit_of_work() as uow:
    uow.relations.save(uow.relations.get("mill"))
    uow.commit()
with app.store.unit_of_work() as uow:
    try:
        uow.relations.save(stale)
    except ConcurrencyConflict as conflict:
        print(f"  {conflict}")
app.close()
