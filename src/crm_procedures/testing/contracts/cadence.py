"""The cadence queries of the prospect repository: due lists, claims and leases (T1, T2).

A store with the ``cadence`` capability keeps a prospect's due fields
(``next_due_at``, ``due_step``, ``due_role``, ``due_automatic``,
``paused_until``, ``paused_at``, ``sequence_exit``) and answers ``due``, ``due_page``
(:class:`~crm_procedures.ports.DuePages`), ``claim_due``, ``lease``,
``lease_of`` and ``release_lease`` as
:class:`~crm_procedures.ports.ProspectRepository` describes. A store without
it must say so: each of those calls raises
:class:`~crm_procedures.errors.CapabilityMissing` (or the method is absent),
never a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crm_procedures.errors import CapabilityMissing, InvalidInput
from crm_procedures.ids import UserId
from crm_procedures.model.due import DueEntry
from crm_procedures.model.prospect import Prospect, ProspectStatus
from crm_procedures.ports import DuePages, Store, UnitOfWork
from crm_procedures.testing.contracts._support import has
from crm_procedures.testing.contracts.queries import _projects, _prospect, ids, viewer

UTC = ZoneInfo("UTC")
AMS = ZoneInfo("Europe/Amsterdam")
NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RUNNING = ProspectStatus.RUNNING


def _due(
    pid: str,
    at: datetime | None,
    *,
    project: str = "p-open",
    status: ProspectStatus = RUNNING,
    step: str = "call_back",
    role: str = "marketeer",
    owner: str | None = None,
    automatic: bool = False,
) -> Prospect:
    p = _prospect(pid, project, status, last_step="call")
    if owner is not None:
        p.owner = UserId(owner)
    if at is not None:
        p.next_due_at = at
        p.due_step = step
        p.due_role = role
        p.due_automatic = automatic
    return p


def _cadence(uow: UnitOfWork) -> None:
    _projects(uow)
    uow.prospects.add_many(
        [
            _due("d-01", NINE, owner="ann"),
            # 09:30 in Amsterdam is 08:30 UTC: earlier than d-01 although it reads later
            _due("d-02", datetime(2026, 3, 2, 9, 30, tzinfo=AMS), owner="bas"),
            _due("d-03", NINE + timedelta(days=1), owner="ann"),
            _due("d-04", NINE, owner="ann", role="client"),
            _due("d-05", NINE - timedelta(hours=1), step="send_info", automatic=True),
            _due("d-06", NINE + timedelta(hours=2), step="send_info", automatic=True),
            _due("d-07", None, owner="ann"),  # nothing due
            _due("d-08", NINE, owner="ann", status=ProspectStatus.CLOSED),
            _due("d-09", NINE, owner="ann", project="p-ann"),
            _due("d-10", NINE - timedelta(minutes=1), step="send_info", automatic=True),
        ]
    )


def _seed(store: Store) -> None:
    with store.unit_of_work() as uow:
        _cadence(uow)
        uow.commit()


def _refused(call: Callable[[], Any]) -> None:
    with pytest.raises((CapabilityMissing, AttributeError)):
        call()


def test_without_the_capability_the_cadence_calls_are_refused_by_name(store: Store) -> None:
    if has(store, "cadence"):
        return  # the other tests of this suite check what the capability promises
    with store.unit_of_work() as uow:
        _refused(lambda: uow.prospects.due(until=NINE))
        _refused(lambda: uow.prospects.due_page(until=NINE))  # type: ignore[attr-defined]
        _refused(lambda: uow.prospects.claim_due(NINE, 10, "w1", 60.0))
        _refused(lambda: uow.prospects.lease("x", "w1", NINE, NINE + timedelta(minutes=1)))
        _refused(lambda: uow.prospects.lease_of("x"))


def test_the_due_fields_survive_a_round_trip(store: Store) -> None:
    if not has(store, "cadence"):
        return
    p = _due("d-01", datetime(2026, 3, 2, 9, 30, tzinfo=AMS), owner="ann", automatic=True)
    p.paused_until = datetime(2026, 3, 1, 12, 0, tzinfo=AMS)
    p.paused_at = datetime(2026, 2, 27, 8, 15, tzinfo=AMS)
    p.sequence_exit = "reply"
    with store.unit_of_work() as uow:
        _projects(uow)
        uow.prospects.add(p)
        uow.commit()
    with store.unit_of_work() as uow:
        got = uow.prospects.get("d-01")
    assert got.next_due_at == p.next_due_at
    assert (got.due_step, got.due_role, got.due_automatic) == ("call_back", "marketeer", True)
    assert got.paused_until == p.paused_until
    assert got.paused_at == p.paused_at
    assert got.sequence_exit == "reply"
    assert got.owner == "ann"


def test_due_lists_running_prospects_in_a_range_by_due_time_then_id(store: Store) -> None:
    if not has(store, "cadence"):
        return
    _seed(store)
    with store.unit_of_work() as uow:
        due = uow.prospects.due
        people = due(until=NINE + timedelta(microseconds=1), automatic=False)
        assert ids(people) == ["d-02", "d-01", "d-04", "d-09"]
        assert ids(due(until=NINE, automatic=False)) == ["d-02"]  # until is exclusive
        assert ids(due(since=NINE, automatic=False)) == ["d-01", "d-04", "d-09", "d-03"]
        assert ids(due(automatic=True)) == ["d-05", "d-10", "d-06"]
        assert ids(due(owner="ann")) == ["d-01", "d-04", "d-09", "d-03"]
        assert ids(due(project_id="p-open", role="client")) == ["d-04"]
        assert ids(due(owner="ann", limit=2, offset=1)) == ["d-04", "d-09"]
        assert due(owner="nobody") == []
        assert all(p.status is RUNNING and p.next_due_at is not None for p in due(limit=100))


def test_due_applies_the_viewers_visibility(store: Store) -> None:
    if not has(store, "cadence"):
        return
    _seed(store)
    with store.unit_of_work() as uow:
        assert "d-09" not in ids(uow.prospects.due(owner="ann", viewer=viewer("otto")))
        assert "d-09" in ids(uow.prospects.due(owner="ann", viewer=viewer("ann")))


def test_due_refuses_a_naive_instant_and_a_bad_page(store: Store) -> None:
    if not has(store, "cadence"):
        return
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidInput):
            uow.prospects.due(until=datetime(2026, 3, 2, 9, 0))
        with pytest.raises(InvalidInput):
            uow.prospects.due(limit=-1)


def _page_of(uow: UnitOfWork, **filters: Any) -> list[DueEntry]:
    repo = uow.prospects
    assert isinstance(repo, DuePages), "a store with the cadence capability has due_page"
    return repo.due_page(**filters)


def test_due_page_lists_what_due_lists_as_small_rows(store: Store) -> None:
    if not has(store, "cadence"):
        return
    _seed(store)
    just_after = NINE + timedelta(microseconds=1)
    shapes: list[dict[str, Any]] = [
        {},
        {"until": just_after, "automatic": False},
        {"until": NINE, "automatic": False},
        {"since": NINE, "automatic": False},
        {"automatic": True},
        {"owner": "ann"},
        {"project_id": "p-open", "role": "client"},
        {"project_id": "p-open", "role": "marketeer", "since": NINE},
        {"owner": "ann", "viewer": viewer("otto")},
        {"owner": "nobody"},
    ]
    with store.unit_of_work() as uow:
        for filters in shapes:
            prospects = uow.prospects.due(**filters, limit=100)
            entries = _page_of(uow, **filters, limit=100)
            assert [e.prospect_id for e in entries] == ids(prospects), filters
            for e, p in zip(entries, prospects, strict=True):
                assert (e.project_id, e.relation_id, e.owner) == (
                    p.project_id,
                    p.relation_id,
                    p.owner,
                )
                assert (e.step, e.role, e.automatic) == (p.due_step, p.due_role, p.due_automatic)
                assert e.due_at == p.next_due_at
                assert e.due_at.utcoffset() == timedelta(0)


def test_due_page_continues_after_the_last_entry_of_the_previous_page(store: Store) -> None:
    if not has(store, "cadence"):
        return
    _seed(store)
    with store.unit_of_work() as uow:
        everything = [e.prospect_id for e in _page_of(uow, limit=100)]
        for size in (1, 2, 3):
            walked: list[str] = []
            after: DueEntry | None = None
            while True:
                page = _page_of(uow, limit=size, after=after)
                assert len(page) <= size
                walked.extend(e.prospect_id for e in page)
                if len(page) < size:
                    break
                after = page[-1]
            assert walked == everything, size
        # d-01, d-04 and d-09 are due at the same instant: the id breaks the tie
        first = _page_of(uow, owner="ann", limit=1)
        assert [e.prospect_id for e in first] == ["d-01"]
        rest = _page_of(uow, owner="ann", after=first[0].cursor)
        assert [e.prospect_id for e in rest] == ["d-04", "d-09", "d-03"]
        assert _page_of(uow, owner="ann", limit=0) == []


def test_due_page_refuses_a_bad_cursor_a_naive_instant_and_a_bad_page(store: Store) -> None:
    if not has(store, "cadence"):
        return
    with store.unit_of_work() as uow:
        bad_pages: list[dict[str, Any]] = [
            {"after": (datetime(2026, 3, 2, 9, 0), "d-01")},
            {"after": "d-01"},
            {"after": (NINE, 7)},
            {"since": datetime(2026, 3, 2, 9, 0)},
            {"limit": -1},
            {"limit": True},
        ]
        for bad in bad_pages:
            with pytest.raises(InvalidInput):
                _page_of(uow, **bad)


def test_claims_take_due_automatic_steps_earliest_first_and_lease_them(store: Store) -> None:
    if not has(store, "cadence"):
        return
    _seed(store)
    with store.unit_of_work() as uow:
        assert uow.prospects.claim_due(NINE, 1, "w1", 60.0) == ["d-05"]
        uow.commit()
    with store.unit_of_work() as uow:
        # d-05 is leased to w1; d-06 is not due yet
        assert uow.prospects.claim_due(NINE, 10, "w2", 60.0) == ["d-10"]
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.prospects.claim_due(NINE, 10, "w3", 60.0) == []
        held = uow.prospects.lease_of("d-05")
        assert held is not None
        assert held[0] == "w1"
        assert held[1] == NINE + timedelta(seconds=60)
        uow.commit()
    later = NINE + timedelta(hours=2)  # the leases ran out; d-06 fell due
    with store.unit_of_work() as uow:
        assert uow.prospects.claim_due(later, 10, "w3", 60.0) == ["d-05", "d-10", "d-06"]
        uow.commit()


def test_a_lease_keeps_others_away_until_it_ends_or_is_released(store: Store) -> None:
    if not has(store, "cadence"):
        return
    _seed(store)
    until = NINE + timedelta(minutes=5)
    with store.unit_of_work() as uow:
        assert uow.prospects.lease("d-05", "w1", NINE, until)
        uow.commit()
    with store.unit_of_work() as uow:
        assert not uow.prospects.lease("d-05", "w2", NINE, until)
        assert uow.prospects.lease("d-05", "w1", NINE, until + timedelta(minutes=1))
        uow.prospects.release_lease("d-05", "w2")  # not w2's: nothing happens
        uow.commit()
    with store.unit_of_work() as uow:
        held = uow.prospects.lease_of("d-05")
        assert held is not None
        assert held[0] == "w1"
        assert uow.prospects.lease(
            "d-05", "w2", until + timedelta(minutes=1), until + timedelta(minutes=9)
        )
        uow.commit()
    with store.unit_of_work() as uow:
        uow.prospects.release_lease("d-05", "w2")
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.prospects.lease_of("d-05") is None
        assert uow.prospects.lease_of("nobody") is None
