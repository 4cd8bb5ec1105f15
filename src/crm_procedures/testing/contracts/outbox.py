"""The outbox: recording, claiming with a lease, marking, retrying, idempotency keys."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from crm_procedures.adapters.memory_mail import MemoryMailer
from crm_procedures.errors import ConcurrencyConflict, InvalidInput, NotFound
from crm_procedures.model.outbox import OutboxMessage, OutboxStatus
from crm_procedures.ports import Store
from crm_procedures.services.outbox import dispatch_once, exponential_backoff
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.contracts._support import dump
from crm_procedures.testing.contracts.messages import T0, a_message, mail_text


def record(store: Store, *messages: OutboxMessage) -> None:
    with store.unit_of_work() as uow:
        for message in messages:
            uow.outbox.add(message)
        uow.commit()


def claim(
    store: Store,
    at: datetime,
    limit: int = 100,
    lease: float = 60.0,
    channels: list[str] | None = None,
) -> list[OutboxMessage]:
    with store.unit_of_work() as uow:
        claimed = uow.outbox.claim_due(at, limit, lease, channels)
        uow.commit()
    return claimed


def stored(store: Store, message_id: str) -> OutboxMessage:
    with store.unit_of_work() as uow:
        return uow.outbox.get(message_id)


def test_a_recorded_message_is_pending_as_version_one(store: Store) -> None:
    record(store, a_message(1))
    got = stored(store, "m0001")
    assert got.status is OutboxStatus.PENDING
    assert (got.attempts, got.version, got.key) == (0, 1, "msg-1@crm.test")
    assert got.payload == {"message": mail_text("msg-1@crm.test")}
    assert got.created_at == T0


def test_claim_leases_due_messages_under_a_token_without_counting_a_try(store: Store) -> None:
    record(store, a_message(1))
    claimed = claim(store, T0, lease=60)
    assert [m.id for m in claimed] == ["m0001"]
    assert claimed[0].attempts == 0  # a claim is not a try
    assert claimed[0].lease_token
    assert claimed[0].due_at == T0 + timedelta(seconds=60)
    after = stored(store, "m0001")
    assert (after.attempts, after.due_at, after.status, after.lease_token) == (
        0,
        T0 + timedelta(seconds=60),
        OutboxStatus.PENDING,
        claimed[0].lease_token,
    )


def test_a_leased_message_is_not_claimed_again_until_the_lease_expires(store: Store) -> None:
    record(store, a_message(1))
    first = claim(store, T0, lease=60)
    assert claim(store, T0 + timedelta(seconds=59)) == []
    again = claim(store, T0 + timedelta(seconds=60))
    assert [(m.id, m.attempts) for m in again] == [("m0001", 0)]
    assert again[0].lease_token != first[0].lease_token


def test_a_claim_that_is_rolled_back_leaves_the_message_due(store: Store) -> None:
    record(store, a_message(1))
    with store.unit_of_work() as uow:
        assert len(uow.outbox.claim_due(T0, 10, 60)) == 1
    assert stored(store, "m0001").lease_token is None
    assert [m.id for m in claim(store, T0)] == ["m0001"]


def start(store: Store, message_id: str, token: str, at: datetime, lease: float = 60.0) -> object:
    with store.unit_of_work() as uow:
        started = uow.outbox.start_attempt(message_id, token, at, lease)
        uow.commit()
    return started


def test_defect_04_the_fence_renews_only_the_lease_still_held(store: Store) -> None:
    record(store, a_message(1))
    (mine,) = claim(store, T0, lease=60)
    assert mine.lease_token is not None
    started = start(store, "m0001", mine.lease_token, T0 + timedelta(seconds=30), lease=60)
    assert isinstance(started, OutboxMessage)
    assert (started.attempts, started.due_at) == (1, T0 + timedelta(seconds=90))
    # The lease runs out; another dispatcher claims the message: the first may not send.
    (theirs,) = claim(store, T0 + timedelta(seconds=90))
    assert theirs.lease_token is not None
    before = dump(store)
    assert start(store, "m0001", mine.lease_token, T0 + timedelta(seconds=91)) is None
    assert dump(store) == before
    assert isinstance(
        start(store, "m0001", theirs.lease_token, T0 + timedelta(seconds=91)), OutboxMessage
    )
    assert stored(store, "m0001").attempts == 2
    # A settled message has no lease to renew.
    with store.unit_of_work() as uow:
        uow.outbox.mark_delivered("m0001", T0 + timedelta(seconds=95))
        uow.commit()
    assert start(store, "m0001", theirs.lease_token, T0 + timedelta(seconds=96)) is None


def test_record_stores_a_new_state_over_the_version_read_or_conflicts(store: Store) -> None:
    record(store, a_message(1))
    (claimed,) = claim(store, T0)
    changed = OutboxMessage(
        id=claimed.id,
        key=claimed.key,
        channel=claimed.channel,
        payload=claimed.payload,
        created_at=claimed.created_at,
        due_at=T0 + timedelta(minutes=5),
        status=OutboxStatus.PARTIALLY_FAILED,
        attempts=1,
        last_error="b@example.com: refused 550 no such user",
        delivered_at=T0,
        version=claimed.version,
        recipients={
            "a@example.com": {"state": "accepted", "code": 250, "detail": ""},
            "b@example.com": {"state": "refused", "code": 550, "detail": "no such user"},
        },
        lease_token=None,
    )
    with store.unit_of_work() as uow:
        saved = uow.outbox.record(changed)
        uow.commit()
    assert saved.version == claimed.version + 1
    back = stored(store, "m0001")
    assert back == saved
    assert back.recipients["b@example.com"].code == 550
    assert back.status is OutboxStatus.PARTIALLY_FAILED
    before = dump(store)
    with store.unit_of_work() as uow, pytest.raises(ConcurrencyConflict):
        uow.outbox.record(changed)  # the version read is stale now
    assert dump(store) == before


def test_claim_orders_by_due_time_missing_first_then_creation_then_id(store: Store) -> None:
    record(
        store,
        a_message(1, due_at=T0 - timedelta(minutes=5)),
        a_message(2, created_at=T0 + timedelta(seconds=1)),
        a_message(3),
        a_message(4, due_at=T0 - timedelta(minutes=10)),
        a_message(5, due_at=T0 + timedelta(minutes=1)),  # not due yet
        a_message(6, created_at=None),
    )
    claimed = claim(store, T0)
    assert [m.id for m in claimed] == ["m0006", "m0003", "m0002", "m0004", "m0001"]


def test_claim_takes_at_most_the_limit_and_only_the_channels_asked_for(store: Store) -> None:
    record(
        store,
        a_message(1, channel="calendar"),
        a_message(2),
        a_message(3),
        a_message(4),
    )
    assert [m.id for m in claim(store, T0, limit=2, channels=["mail"])] == ["m0002", "m0003"]
    assert [m.id for m in claim(store, T0, channels=["mail"])] == ["m0004"]
    assert [m.id for m in claim(store, T0)] == ["m0001"]
    assert claim(store, T0, limit=0) == []


def test_a_naive_time_or_a_negative_limit_is_invalid_input(store: Store) -> None:
    record(store, a_message(1))
    with store.unit_of_work() as uow:
        with pytest.raises(InvalidInput):
            uow.outbox.claim_due(datetime(2026, 3, 2, 9, 0), 10, 60)
        with pytest.raises(InvalidInput):
            uow.outbox.claim_due(T0, -1, 60)
        with pytest.raises(InvalidInput):
            uow.outbox.mark_delivered("m0001", datetime(2026, 3, 2, 9, 0))


def test_mark_delivered_is_final_and_idempotent(store: Store) -> None:
    record(store, a_message(1))
    claim(store, T0)
    with store.unit_of_work() as uow:
        uow.outbox.mark_delivered("m0001", T0 + timedelta(seconds=2))
        uow.commit()
    first = stored(store, "m0001")
    assert first.status is OutboxStatus.DELIVERED
    assert first.delivered_at == T0 + timedelta(seconds=2)
    with store.unit_of_work() as uow:
        uow.outbox.mark_delivered("m0001", T0 + timedelta(seconds=9))
        # a late failure report of an attempt that was delivered meanwhile changes nothing
        uow.outbox.mark_failed("m0001", "timeout", T0 + timedelta(minutes=1))
        uow.commit()
    assert stored(store, "m0001") == first
    assert claim(store, T0 + timedelta(days=1)) == []


def test_mark_failed_with_a_retry_time_makes_the_message_due_at_that_time(
    store: Store,
) -> None:
    record(store, a_message(1))
    claim(store, T0)
    retry_at = T0 + timedelta(minutes=5)
    with store.unit_of_work() as uow:
        uow.outbox.mark_failed("m0001", "DeliveryError: 451 try later", retry_at)
        uow.commit()
    failed = stored(store, "m0001")
    assert failed.status is OutboxStatus.PENDING
    assert failed.last_error == "DeliveryError: 451 try later"
    assert failed.due_at == retry_at
    assert claim(store, retry_at - timedelta(seconds=1)) == []
    assert [(m.id, m.attempts) for m in claim(store, retry_at)] == [("m0001", 0)]


def test_mark_failed_without_a_retry_time_fails_for_good(store: Store) -> None:
    record(store, a_message(1), a_message(2))
    claim(store, T0)
    with store.unit_of_work() as uow:
        uow.outbox.mark_failed("m0001", "DeliveryError: 550 no such user", None)
        uow.commit()
    failed = stored(store, "m0001")
    assert failed.status is OutboxStatus.FAILED
    assert failed.last_error == "DeliveryError: 550 no such user"
    assert claim(store, T0 + timedelta(days=30)) == [stored(store, "m0002")]
    with store.unit_of_work() as uow:
        assert [m.id for m in uow.outbox.list(status="failed")] == ["m0001"]
        assert [m.id for m in uow.outbox.list(status=OutboxStatus.PENDING)] == ["m0002"]


def test_list_is_by_creation_then_id_and_limited(store: Store) -> None:
    record(
        store,
        a_message(3),
        a_message(1, created_at=T0 + timedelta(hours=1)),
        a_message(2),
    )
    with store.unit_of_work() as uow:
        assert [m.id for m in uow.outbox.list()] == ["m0002", "m0003", "m0001"]
        assert [m.id for m in uow.outbox.list(limit=1)] == ["m0002"]
        assert uow.outbox.list(status="delivered") == []


def test_unknown_messages_are_not_found(store: Store) -> None:
    with store.unit_of_work() as uow:
        with pytest.raises(NotFound):
            uow.outbox.get("m9999")
        with pytest.raises(NotFound):
            uow.outbox.mark_delivered("m9999", T0)
        with pytest.raises(NotFound):
            uow.outbox.mark_failed("m9999", "error", None)


def test_a_second_message_with_a_recorded_key_is_ignored(store: Store) -> None:
    record(store, a_message(1, key="invite-42-0"))
    before = dump(store)
    with store.unit_of_work() as uow:
        uow.outbox.add(a_message(2, key="invite-42-0"))
        uow.commit()
    assert dump(store) == before
    with store.unit_of_work() as uow:
        uow.outbox.add(a_message(3, key="invite-43-0"))
        uow.outbox.add(a_message(4, key="invite-43-0"))  # twice in one unit of work
        assert [m.id for m in uow.outbox.list()] == ["m0001", "m0003"]
        uow.commit()
    with store.unit_of_work() as uow:
        assert sorted(m.key for m in uow.outbox.list()) == ["invite-42-0", "invite-43-0"]


def test_a_key_stays_taken_after_its_message_was_delivered(store: Store) -> None:
    record(store, a_message(1))
    claim(store, T0)
    with store.unit_of_work() as uow:
        uow.outbox.mark_delivered("m0001", T0)
        uow.commit()
    record(store, a_message(2, key="msg-1@crm.test"))
    assert claim(store, T0 + timedelta(hours=1)) == []


def test_a_taken_id_with_another_key_is_a_conflict(store: Store) -> None:
    record(store, a_message(1))
    before = dump(store)
    with store.unit_of_work() as uow:
        with pytest.raises(ConcurrencyConflict) as caught:
            uow.outbox.add(a_message(1, key="other-key"))
        uow.commit()
    assert caught.value.aggregate_id == "m0001"
    assert dump(store) == before


# -- the dispatcher over the store --


def test_dispatch_delivers_and_marks(store: Store) -> None:
    record(store, a_message(1), a_message(2))
    mailer = MemoryMailer()
    report = dispatch_once(store, FrozenClock(T0), mailer)
    assert (report.claimed, report.delivered) == (2, 2)
    assert mailer.message_ids == ["<msg-1@crm.test>", "<msg-2@crm.test>"]
    with store.unit_of_work() as uow:
        assert {m.status for m in uow.outbox.list()} == {OutboxStatus.DELIVERED}
    assert dispatch_once(store, FrozenClock(T0 + timedelta(days=1)), mailer).claimed == 0


def test_dispatch_retries_a_failure_with_exponential_backoff(store: Store) -> None:
    record(store, a_message(1))
    clock = FrozenClock(T0)
    mailer = MemoryMailer()
    backoff = exponential_backoff(base_seconds=30, factor=2, cap_seconds=3600)
    mailer.fail_next(3)
    waits = []
    for _ in range(3):
        report = dispatch_once(store, clock, mailer, backoff=backoff, max_attempts=5)
        assert (report.claimed, report.retried) == (1, 1)
        after = stored(store, "m0001")
        assert after.status is OutboxStatus.PENDING
        assert after.last_error is not None
        assert after.due_at is not None
        waits.append(after.due_at - clock.now())
        assert dispatch_once(store, clock, mailer, backoff=backoff).claimed == 0  # not yet
        clock.set(after.due_at)
    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert dispatch_once(store, clock, mailer, backoff=backoff).delivered == 1
    done = stored(store, "m0001")
    assert (done.status, done.attempts) == (OutboxStatus.DELIVERED, 4)
    assert mailer.message_ids == ["<msg-1@crm.test>"]


def test_dispatch_fails_for_good_after_the_last_attempt(store: Store) -> None:
    record(store, a_message(1))
    clock = FrozenClock(T0)
    mailer = MemoryMailer()
    mailer.fail_next(5)
    for _ in range(3):
        dispatch_once(store, clock, mailer, max_attempts=3)
        clock.advance(hours=7)
    failed = stored(store, "m0001")
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 3)
    assert dispatch_once(store, clock, mailer, max_attempts=3).claimed == 0
    assert mailer.sent == []


def test_dispatch_fails_a_permanent_error_at_once(store: Store) -> None:
    record(store, a_message(1), a_message(2))
    mailer = MemoryMailer()
    mailer.fail_next(1, permanent=True)
    report = dispatch_once(store, FrozenClock(T0), mailer)
    assert (report.delivered, report.failed, report.retried) == (1, 1, 0)
    assert stored(store, "m0001").status is OutboxStatus.FAILED
    assert stored(store, "m0002").status is OutboxStatus.DELIVERED


def multi_recipient_message(n: int) -> OutboxMessage:
    message = a_message(n)
    return OutboxMessage(
        id=message.id,
        key=message.key,
        channel="mail",
        payload={
            "message": message.payload["message"],
            "recipients": ["ok@example.com", "later@example.com", "never@example.com"],
        },
        created_at=message.created_at,
    )


def test_defect_03_recipient_states_are_stored_by_every_store(store: Store) -> None:
    record(store, multi_recipient_message(1))
    clock, mailer = FrozenClock(T0), MemoryMailer()
    mailer.answer("later@example.com", 451)
    mailer.answer("never@example.com", 550)
    backoff = exponential_backoff(base_seconds=30, factor=2, cap_seconds=3600)
    first = dispatch_once(store, clock, mailer, backoff=backoff)
    assert (first.retried, first.delivered) == (1, 0)
    waiting = stored(store, "m0001")
    assert waiting.status is OutboxStatus.PENDING
    assert {a: o.state.value for a, o in waiting.recipients.items()} == {
        "ok@example.com": "accepted",
        "later@example.com": "deferred",
        "never@example.com": "refused",
    }
    assert (waiting.attempts, waiting.lease_token) == (1, None)
    assert waiting.due_at == T0 + timedelta(seconds=30)
    clock.set(T0 + timedelta(seconds=30))
    second = dispatch_once(store, clock, mailer, backoff=backoff)
    assert second.partially_failed == 1
    done = stored(store, "m0001")
    assert done.status is OutboxStatus.PARTIALLY_FAILED
    assert done.recipients["later@example.com"].state == "accepted"
    assert done.recipients["never@example.com"].code == 550
    assert done.last_error is not None
    assert "never@example.com" in done.last_error
    assert done.delivered_at == T0 + timedelta(seconds=30)
    assert mailer.deliveries == {"<msg-1@crm.test>": ["ok@example.com", "later@example.com"]}
    with store.unit_of_work() as uow:
        assert [m.id for m in uow.outbox.list(status="partially_failed")] == ["m0001"]
