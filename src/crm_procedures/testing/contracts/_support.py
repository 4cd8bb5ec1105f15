"""What every contract suite shares: the store's capabilities and before/after snapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_procedures.errors import InvalidInput
from crm_procedures.ports import Store

__all__ = ["CAPABILITIES", "StoreFactory", "capabilities_of", "dump", "has"]

StoreFactory = Callable[[], Store]
"""What the ``crm_contract_store`` fixture returns: a callable that makes an empty store."""

CAPABILITIES = {
    "dump": "store.dump() returns every committed record as plain, comparable data",
    "fulltext": "visit_reports.search(keyword=...) finds reports by the words they hold",
    "inbound": "units of work have uow.inbound and uow.events (InboundUnitOfWork)",
    "threads": "one store object may be used by several threads at once",
    "cadence": "prospects keep due fields; due, claim_due and the leases work (T1, T2)",
}
"""The capability flags a store may declare in its ``capabilities`` attribute.

A store without a flag still runs every contract: the suite checks what the
missing flag promises instead (see the docs of each contract).
"""


def capabilities_of(store: Store) -> frozenset[str]:
    """The flags ``store`` declares (``store.capabilities``; none when it has no such attribute)."""
    declared: frozenset[str] = getattr(store, "capabilities", frozenset())
    return frozenset(declared)


def has(store: Store, capability: str) -> bool:
    """True when ``store`` declares ``capability`` (one of :data:`CAPABILITIES`)."""
    if capability not in CAPABILITIES:
        raise InvalidInput(
            "capability", f"is not one of {', '.join(sorted(CAPABILITIES))}", capability
        )
    return capability in capabilities_of(store)


def dump(store: Store) -> Any:
    """Everything the store holds, as plain data, for before/after comparisons.

    A store with the ``dump`` capability answers with its own ``dump()`` (every
    committed record). Any other store is read through the ports: every
    repository's count, every relation, user and group, and every outbox
    message, which still shows a write that should not have happened.
    """
    if has(store, "dump"):
        return store.dump()  # type: ignore[attr-defined]
    return port_snapshot(store)


def port_snapshot(store: Store) -> dict[str, Any]:
    """What the ports can list without knowing an id: counts and the listable records."""
    with store.unit_of_work() as uow:
        counts = {
            name: getattr(uow, name).count()
            for name in (
                "relations",
                "contacts",
                "projects",
                "prospects",
                "activities",
                "appointments",
                "visit_reports",
                "documents",
                "users",
                "groups",
            )
        }
        projects = uow.projects.visible()
        prospects = {p.id: uow.prospects.of_project(p.id) for p in projects}
        return {
            "counts": counts,
            "projects": projects,
            "prospects": prospects,
            "relations": uow.relations.search("", limit=1_000_000),
            "users": uow.users.all(),
            "groups": uow.groups.all(),
            "visit_reports": uow.visit_reports.search(limit=1_000_000),
            "outbox": uow.outbox.list(limit=1_000_000),
        }
