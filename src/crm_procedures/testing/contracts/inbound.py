"""The inbound records (capability ``inbound``): sent and processed Message-IDs, positions,
kept messages, address records and events.

A store that declares ``inbound`` must keep them like any record (versions,
rollback, conflicts); a store that does not must say so: the inbound services
raise CapabilityMissing on its units of work.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from crm_procedures.errors import CapabilityMissing, ConcurrencyConflict, NotFound
from crm_procedures.model.inbound import (
    AddressStatus,
    InboxPosition,
    ProcessedMessage,
    SentMessage,
    SuppressionReason,
    UnmatchedMessage,
    UnmatchedStatus,
)
from crm_procedures.ports import Store
from crm_procedures.procedures.events import BOUNCE, REPLY, Event
from crm_procedures.services.inbound import inbound_of
from crm_procedures.testing.contracts._support import has
from crm_procedures.testing.contracts.messages import T0


def _kept(n: int, status: UnmatchedStatus = UnmatchedStatus.OPEN) -> UnmatchedMessage:
    return UnmatchedMessage(
        id=f"u{n}",
        message_id=f"<m{n}@example.com>",
        kind="unmatched",
        reason="no rule matched",
        received_at=T0 + timedelta(minutes=10 - n),
        status=status,
    )


def test_inbound_capability_is_declared_truthfully(store: Store) -> None:
    with store.unit_of_work() as uow:
        if has(store, "inbound"):
            assert inbound_of(uow).inbound.processed("<none@example.com>") is None
        else:
            with pytest.raises(CapabilityMissing, match="inbound"):
                inbound_of(uow)


def test_inbound_records_commit_and_roll_back(store: Store) -> None:
    if not has(store, "inbound"):
        return  # checked by test_inbound_capability_is_declared_truthfully
    with store.unit_of_work() as uow:
        records = inbound_of(uow)
        records.inbound.mark_processed(ProcessedMessage("<a@example.com>", "reply", T0))
        records.inbound.add_sent(
            SentMessage("<s@example.com>", "o1", "k1", "p1", ("a@example.com",), T0)
        )
        records.inbound.save_position(InboxPosition("default", "inbox-cursor/1 folder 1.eml", T0))
        records.inbound.add_unmatched(_kept(1))
        assert records.events.add(Event(REPLY, "p1", T0, {"x": "y"}, id="e1"))
        assert not records.events.add(Event(REPLY, "p1", T0, {}, id="e1"))
        uow.commit()
    with store.unit_of_work() as uow:
        records = inbound_of(uow)
        records.inbound.mark_processed(ProcessedMessage("<b@example.com>", "reply", T0))
        records.events.add(Event(BOUNCE, "p1", T0, id="e2"))
        uow.rollback()
    with store.unit_of_work() as uow:
        records = inbound_of(uow)
        assert records.inbound.processed("<a@example.com>") is not None
        assert records.inbound.processed("<b@example.com>") is None
        sent = records.inbound.sent("<s@example.com>")
        assert sent is not None
        assert sent.recipients == ("a@example.com",)
        assert [e.id for e in records.events.of_prospect("p1")] == ["e1"]
        assert records.events.of_prospect("p1")[0].detail == {"x": "y"}
        with pytest.raises(ConcurrencyConflict):
            records.inbound.mark_processed(ProcessedMessage("<a@example.com>", "reply", T0))


def test_positions_and_addresses_are_versioned(store: Store) -> None:
    if not has(store, "inbound"):
        return
    with store.unit_of_work() as uow:
        records = inbound_of(uow)
        first = records.inbound.save_position(InboxPosition("x", "c1", T0))
        moved = records.inbound.save_position(attrs.evolve(first, cursor="c2"))
        assert moved.version == 2
        with pytest.raises(ConcurrencyConflict):
            records.inbound.save_position(attrs.evolve(first, cursor="c3"))
        status = records.inbound.save_address(AddressStatus("a@example.com", T0, soft_failures=1))
        records.inbound.save_address(AddressStatus("b@example.com", T0))
        records.inbound.save_address(
            attrs.evolve(status, suppressed=SuppressionReason.HARD_BOUNCE, suppressed_at=T0)
        )
        uow.commit()
    with store.unit_of_work() as uow:
        records = inbound_of(uow)
        position = records.inbound.position("x")
        assert position is not None
        assert position.cursor == "c2"
        assert [a.id for a in records.inbound.suppressed()] == ["a@example.com"]


def test_kept_messages_list_by_status_oldest_first(store: Store) -> None:
    if not has(store, "inbound"):
        return
    with store.unit_of_work() as uow:
        records = inbound_of(uow)
        for n in (1, 2, 3):
            records.inbound.add_unmatched(_kept(n))
        uow.commit()
    with store.unit_of_work() as uow:
        records = inbound_of(uow)
        assert [m.id for m in records.inbound.unmatched()] == ["u3", "u2", "u1"]
        done = attrs.evolve(records.inbound.get_unmatched("u2"), status="dismissed")
        records.inbound.save_unmatched(done)
        uow.commit()
    with store.unit_of_work() as uow:
        records = inbound_of(uow)
        assert [m.id for m in records.inbound.unmatched(UnmatchedStatus.OPEN)] == ["u3", "u1"]
        assert [m.id for m in records.inbound.unmatched(UnmatchedStatus.DISMISSED)] == ["u2"]
        assert [m.id for m in records.inbound.unmatched(limit=1, offset=1)] == ["u2"]
        with pytest.raises(NotFound):
            records.inbound.get_unmatched("nope")
