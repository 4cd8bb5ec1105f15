"""The outbox dispatcher, exactly: every field of what a try leaves behind.

Each test pins one rule of ``services/outbox.py`` by the stored message
(status, per-recipient states, ``last_error``, ``due_at``, ``delivered_at``,
lease) and the whole :class:`DispatchReport`, and refusals by their ``field``
and ``value``: the run loop (bounded rounds, stop, interval), the calendar
channel, reports adding up, the Message-ID derived from the outbox key, the
``max_attempts`` boundary, backoff values, per-recipient settlement and lost
leases.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.memory_mail import MemoryCalendar, MemoryMailer
from crm_procedures.errors import ConcurrencyConflict, DeliveryError, InvalidInput, StoreBusy
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.outbox import (
    DeliveryOutcome,
    OutboxMessage,
    OutboxStatus,
    RecipientOutcome,
    RecipientState,
)
from crm_procedures.serialization import unstructure
from crm_procedures.services import outbox
from crm_procedures.services.outbox import (
    CalendarSender,
    DispatchReport,
    DispatchStop,
    MailSender,
    channel_senders,
    dispatch_once,
    envelope,
    exponential_backoff,
    open_recipients,
    parse_mail,
    run_dispatcher,
    settle,
)
from crm_procedures.testing.clock import FrozenClock

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
BACKOFF = exponential_backoff(base_seconds=60, factor=2, cap_seconds=3600)
A, B, C = "a@acme.example.nl", "b@acme.example.nl", "c@acme.example.nl"

ACCEPTED = RecipientOutcome(RecipientState.ACCEPTED, 250, "")

DISPATCH_REASONS = {
    "max_attempts": "at least 1",
    "limit": "whole number >= 0",
    "lease_seconds": "more than 0",
    "backoff": "function of the attempts",
}


RUN_REASONS = {"stop": "stop", "max_rounds": "whole number >= 0", "interval": "0 to 86400"}


def mail_text(to: Sequence[str], message_id: str | None = "<m-1@crm.example.com>") -> str:
    head = ["From: crm@crm.example.com", f"To: {', '.join(to)}", "Subject: Demo"]
    if message_id is not None:
        head.append(f"Message-ID: {message_id}")
    return "\r\n".join([*head, "", "Hello.", ""])


def mail(
    to: Sequence[str] = (A,),
    *,
    id: str = "m-1",
    key: str = "k-1",
    message_id: str | None = "",
    recipients: Sequence[str] | None = None,
) -> OutboxMessage:
    """A mail message; its Message-ID is ``<id@crm.example.com>`` unless given (None: none)."""
    own = f"<{id}@crm.example.com>" if message_id == "" else message_id
    payload: dict[str, Any] = {"message": mail_text(to, own)}
    payload["recipients"] = list(to if recipients is None else recipients)
    return OutboxMessage(
        id=id, key=key, channel="mail", payload=payload, created_at=NOW, due_at=NOW
    )


def appointment(sequence: int = 0) -> Appointment:
    return Appointment(
        id="ap-1",
        employee="anna",
        start=NOW + timedelta(days=1),
        end=NOW + timedelta(days=1, hours=1),
        title="Visit",
        uid="uid-1@crm.example.com",
        sequence=sequence,
    )


def calendar_message(action: Any = "publish", data: Any = None, id: str = "c-1") -> OutboxMessage:
    payload = {
        "action": action,
        "appointment": unstructure(appointment()) if data is None else data,
    }
    return OutboxMessage(
        id=id, key=f"key-{id}", channel="calendar", payload=payload, created_at=NOW, due_at=NOW
    )


def put(store: MemoryStore, *messages: OutboxMessage) -> None:
    with store.unit_of_work() as uow:
        for m in messages:
            uow.outbox.add(m)
        uow.commit()


def get(store: MemoryStore, message_id: str = "m-1") -> OutboxMessage:
    with store.unit_of_work() as uow:
        return uow.outbox.get(message_id)


def world(*messages: OutboxMessage) -> tuple[MemoryStore, FrozenClock]:
    store = MemoryStore()
    put(store, *(messages or (mail(),)))
    return store, FrozenClock(NOW)


class TickingMailer(MemoryMailer):
    """Each send moves the clock on, so that claim, fence and settle times differ."""

    def __init__(self, clock: FrozenClock, seconds: float = 5) -> None:
        super().__init__()
        self.clock, self.seconds = clock, seconds
        self.seen: list[OutboxMessage] = []
        self.store: MemoryStore | None = None

    def send_to(self, message: Any, recipients: Sequence[str]) -> DeliveryOutcome:
        if self.store is not None:
            with self.store.unit_of_work() as uow:
                self.seen.extend(uow.outbox.list())
        self.clock.advance(seconds=self.seconds)
        return super().send_to(message, recipients)


# --- DispatchReport and DispatchStop ------------------------------------------------------


def test_an_empty_report_counts_nothing() -> None:
    assert attrs.astuple(DispatchReport()) == (0, 0, 0, 0, (), 0, 0)


def test_reports_add_up_field_by_field() -> None:
    one = DispatchReport(1, 2, 3, 4, (("m-1", "x"),), partially_failed=5, lost_leases=6)
    two = DispatchReport(10, 20, 30, 40, (("m-2", "y"), ("m-3", "z")), 50, 60)
    assert one + two == DispatchReport(
        11, 22, 33, 44, (("m-1", "x"), ("m-2", "y"), ("m-3", "z")), 55, 66
    )
    assert two + one == DispatchReport(
        11, 22, 33, 44, (("m-2", "y"), ("m-3", "z"), ("m-1", "x")), 55, 66
    )


def test_a_dispatch_stop_is_a_flag_that_ends_waiting() -> None:
    stop = DispatchStop()
    assert stop() is False
    assert stop.wait(0) is False
    stop.set()
    assert stop() is True
    assert stop.wait(3600) is True  # returns at once


# --- backoff -----------------------------------------------------------------------------


def test_the_default_backoff_doubles_from_thirty_seconds_to_six_hours() -> None:
    delay = outbox._DEFAULT_BACKOFF
    assert [delay(n).total_seconds() for n in (0, 1, 2, 3, 4)] == [30, 30, 60, 120, 240]
    assert delay(10) == timedelta(seconds=30 * 2**9)
    assert delay(11) == timedelta(hours=6)
    assert delay(-3) == timedelta(seconds=30)


def test_a_backoff_is_base_times_factor_to_the_tries_before() -> None:
    delay = exponential_backoff(base_seconds=10, factor=3, cap_seconds=10_000)
    assert [delay(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 30, 90, 270]
    assert delay(2.9) == timedelta(seconds=30)  # type: ignore[arg-type]
    assert delay(9) == timedelta(seconds=10_000)


def test_the_exponent_stops_at_sixty_four() -> None:
    delay = exponential_backoff(base_seconds=1, factor=1.01, cap_seconds=366 * 24 * 3600)
    assert delay(65) == timedelta(seconds=1.01**64)
    assert delay(10**9) == timedelta(seconds=1.01**64)


def test_an_overflowing_backoff_is_the_cap() -> None:
    delay = exponential_backoff(base_seconds=1, factor=1e6, cap_seconds=3600)
    assert delay(60) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("base", "factor", "cap"),
    [(0, 1, 0), (366 * 24 * 3600.0, 1e6, 366 * 24 * 3600.0), (30, 1.0, 60), (0.5, 2, 1)],
)
def test_backoff_bounds_are_inclusive(base: float, factor: float, cap: float) -> None:
    delay = exponential_backoff(base, factor, cap)
    assert delay(1) == timedelta(seconds=min(base, cap))


@pytest.mark.parametrize(
    ("base", "factor", "cap"),
    [
        (-1, 2, 60),
        (366 * 24 * 3600.0 + 1, 2, 60),
        (30, 0.99, 60),
        (30, 1e6 + 1, 60),
        (30, 2, -1),
        (30, 2, 366 * 24 * 3600.0 + 1),
        (True, 2, 60),
        (30, True, 60),
        (30, 2, True),
        ("30", 2, 60),
        (30, None, 60),
        (30, 2, math.nan),
    ],
)
def test_backoff_out_of_bounds_is_refused(base: Any, factor: Any, cap: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        exponential_backoff(base, factor, cap)
    assert caught.value.field == "backoff"
    assert caught.value.value == (base, factor, cap) or math.isnan(cap)
    assert "31622400" in caught.value.reason


# --- parse_mail and the Message-ID ---------------------------------------------------------


def test_a_message_id_in_the_text_is_kept() -> None:
    parsed = parse_mail(mail(message_id="<own@host.example>"))
    assert parsed["Message-ID"] == "<own@host.example>"
    assert parsed["To"] == A


def digest_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@crm-procedures.invalid>"


@pytest.mark.parametrize(
    ("key", "message_id"),
    [
        ("k-1", "<k-1@crm-procedures.invalid>"),
        ("<k-9@host.example>", "<k-9@host.example>"),
        ("k-9@host.example", "<k-9@host.example>"),
        ("<plain>", "<plain@crm-procedures.invalid>"),
        ("X-9", "<X-9@crm-procedures.invalid>"),
        ("prospect:p-1:entry:2:mail", digest_id("prospect:p-1:entry:2:mail")),
        ("invite:u-1@crm.example.com:3", digest_id("invite:u-1@crm.example.com:3")),
        ("two words", digest_id("two words")),
    ],
)
def test_a_missing_message_id_is_derived_from_the_outbox_key(key: str, message_id: str) -> None:
    message = mail(key=key, message_id=None)
    first, again = parse_mail(message), parse_mail(message)
    assert first["Message-ID"] == again["Message-ID"] == message_id
    assert first.get_all("Message-ID") == [message_id]
    assert f"Message-ID: {message_id}\r\n" in first.as_string()


def test_defect_message_ids_derived_from_keys_with_colons_are_not_cut_short() -> None:
    # "<prospect:p-1:entry:2:mail@...>" is no valid msg-id: the header was
    # cut to "<prospect", one Message-ID for every prospect mail, and a
    # receiver that drops repeated ids dropped all but the first.
    store, clock = world(
        mail(id="m-1", key="prospect:p-1:entry:2:mail", message_id=None),
        mail(id="m-2", key="prospect:p-2:entry:2:mail", message_id=None),
    )
    mailer = MemoryMailer()
    assert dispatch_once(store, clock, mailer) == DispatchReport(2, 2, 0, 0, ())
    assert mailer.duplicates == 0
    assert sorted(mailer.deliveries) == sorted(
        [digest_id("prospect:p-1:entry:2:mail"), digest_id("prospect:p-2:entry:2:mail")]
    )


@pytest.mark.parametrize("text", [None, "", "  \r\n ", 42])
def test_a_payload_without_message_text_is_refused(text: Any) -> None:
    message = OutboxMessage(id="m-1", key="k", channel="mail", payload={"message": text})
    with pytest.raises(InvalidInput) as caught:
        parse_mail(message)
    assert caught.value.field == "payload.message"
    assert "RFC 5322" in caught.value.reason


# --- envelopes -----------------------------------------------------------------------------


def test_the_stored_envelope_decides_and_headers_only_for_old_messages() -> None:
    assert envelope(mail([A, B], recipients=[C])) == [C]
    old = mail([A, B])
    old = attrs.evolve(old, payload={"message": old.payload["message"]})
    assert envelope(old) == [A, B]
    assert envelope(calendar_message()) is None
    other = OutboxMessage(id="x", key="x", channel="sms", payload={"recipients": ["+3120"]})
    assert envelope(other) == ["+3120"]


def test_open_recipients_are_those_neither_accepted_nor_refused() -> None:
    message = attrs.evolve(
        mail([A, B, C]),
        recipients={
            A: ACCEPTED,
            B: RecipientOutcome(RecipientState.DEFERRED, 451, "later"),
            "d@x.example": RecipientOutcome(RecipientState.REFUSED, 550, "no"),
        },
    )
    assert open_recipients(message, [A, B, C, "d@x.example"]) == [B, C]


# --- senders and the registry --------------------------------------------------------------


class NoSendTo:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)


def test_a_mailer_without_send_to_gets_send_and_everyone_counts_as_accepted() -> None:
    mailer = NoSendTo()
    outcome = MailSender(mailer).deliver(mail([A, B], message_id=None, key="k-7"))
    assert outcome == DeliveryOutcome()
    (sent,) = mailer.sent
    assert sent["Message-ID"] == "<k-7@crm-procedures.invalid>"


def test_the_mail_sender_sends_to_the_open_recipients_only() -> None:
    mailer = MemoryMailer()
    message = attrs.evolve(mail([A, B, C]), recipients={A: ACCEPTED})
    assert MailSender(mailer).deliver(message) == DeliveryOutcome()
    assert mailer.deliveries == {"<m-1@crm.example.com>": [B, C]}


def test_a_send_to_that_returns_no_outcome_is_a_delivery_error() -> None:
    class Odd(NoSendTo):
        def send_to(self, message: Any, recipients: Sequence[str]) -> Any:
            return {"a": 1}

    with pytest.raises(DeliveryError) as caught:
        MailSender(Odd()).deliver(mail())
    assert str(caught.value) == "Odd.send_to returned {'a': 1}, not a DeliveryOutcome"
    assert caught.value.permanent is False


def test_senders_refuse_what_cannot_deliver() -> None:
    with pytest.raises(InvalidInput) as caught:
        MailSender(object())  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.value) == ("mailer", "object")
    assert caught.value.reason == "must have a send(message) method"
    for missing in ("publish", "cancel"):
        partial = type("Partial", (), {m: lambda self, a: None for m in ("publish", "cancel")})
        delattr(partial, missing)
        with pytest.raises(InvalidInput) as refused:
            CalendarSender(partial())
        assert (refused.value.field, refused.value.value) == ("calendar", "Partial")
        assert missing in refused.value.reason
    for sender in (MailSender(MemoryMailer()), CalendarSender(MemoryCalendar())):
        with pytest.raises(InvalidInput) as wrong:
            sender.deliver("m-1")  # type: ignore[arg-type]
        assert (wrong.value.field, wrong.value.value) == ("message", "str")
        assert wrong.value.reason == "must be an OutboxMessage"


def test_the_calendar_sender_publishes_and_cancels() -> None:
    calendar = MemoryCalendar()
    sender = CalendarSender(calendar)
    assert sender.deliver(calendar_message("publish")) == DeliveryOutcome()
    assert calendar.events["uid-1@crm.example.com"] == appointment()
    later = unstructure(attrs.evolve(appointment(), sequence=1))
    assert sender.deliver(calendar_message("cancel", later)) == DeliveryOutcome()
    held = calendar.events["uid-1@crm.example.com"]
    assert (held.sequence, held.cancelled) == (1, True)


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("delete", None, "payload.action"),
        (None, None, "payload.action"),
        ("publish", "not a mapping", "payload.appointment"),
        ("publish", {"id": "ap-1"}, "payload.appointment"),
    ],
)
def test_an_unreadable_calendar_payload_is_refused(action: Any, data: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        CalendarSender(MemoryCalendar()).deliver(calendar_message(action, data))
    assert caught.value.field is not None
    assert caught.value.field.startswith(field)
    assert caught.value.reason
    if field == "payload.action":
        assert caught.value.value == action


def test_the_registry_holds_the_ports_then_the_hosts_own() -> None:
    mailer, calendar = MemoryMailer(), MemoryCalendar()
    assert channel_senders() == {}
    both = channel_senders(mailer, calendar)
    assert sorted(both) == ["calendar", "mail"]
    assert isinstance(both["mail"], MailSender)
    assert both["mail"].mailer is mailer
    assert isinstance(both["calendar"], CalendarSender)
    assert both["calendar"].calendar is calendar
    own = CalendarSender(MemoryCalendar())
    replaced = channel_senders(mailer, calendar, {"mail": own, "sms": own})
    assert replaced == {"mail": own, "calendar": replaced["calendar"], "sms": own}
    assert channel_senders(calendar=calendar).keys() == {"calendar"}


@pytest.mark.parametrize(
    ("senders", "field", "value"),
    [
        ([("sms", None)], "senders", [("sms", None)]),
        ({"": CalendarSender(MemoryCalendar())}, "senders", ""),
        ({"  ": CalendarSender(MemoryCalendar())}, "senders", "  "),
        ({3: CalendarSender(MemoryCalendar())}, "senders", 3),
        ({"sms": object()}, "senders[sms]", None),
    ],
)
def test_a_bad_registry_is_refused(senders: Any, field: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        channel_senders(senders=senders)
    assert (caught.value.field, caught.value.value) == (field, value)
    assert "must" in caught.value.reason


# --- dispatch_once: arguments --------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": True}, "max_attempts"),
        ({"max_attempts": 2.0}, "max_attempts"),
        ({"limit": -1}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": 1.0}, "limit"),
        ({"limit": "3"}, "limit"),
        ({"lease_seconds": 0}, "lease_seconds"),
        ({"backoff": 30}, "backoff"),
    ],
)
def test_bad_dispatch_arguments_change_nothing(options: dict[str, Any], field: str) -> None:
    store, clock = world()
    before = store.dump()
    with pytest.raises(InvalidInput) as caught:
        dispatch_once(store, clock, MemoryMailer(), **options)
    assert caught.value.field == field
    assert DISPATCH_REASONS[field] in caught.value.reason
    assert caught.value.value == next(iter(options.values()))
    assert store.dump() == before


def test_a_naive_clock_is_refused() -> None:
    store, _ = world()

    class Naive:
        def now(self) -> datetime:
            return datetime(2026, 3, 2, 8, 0)

    with pytest.raises(InvalidInput) as caught:
        dispatch_once(store, Naive(), MemoryMailer())
    assert caught.value.field == "clock.now()"


def test_without_a_sender_nothing_is_claimed() -> None:
    store, clock = world()
    before = store.dump()
    assert dispatch_once(store, clock) == DispatchReport()
    assert store.dump() == before


def test_a_limit_of_zero_claims_nothing() -> None:
    store, clock = world()
    assert dispatch_once(store, clock, MemoryMailer(), limit=0) == DispatchReport()
    assert get(store).attempts == 0


def test_only_channels_with_a_sender_are_claimed_up_to_the_limit() -> None:
    store, clock = world(
        mail(id="m-1", key="k-1"), mail(id="m-2", key="k-2"), mail(id="m-3", key="k-3"),
        calendar_message(),
    )  # fmt: skip
    mailer = MemoryMailer()
    report = dispatch_once(store, clock, mailer, limit=2)
    assert report == DispatchReport(2, 2, 0, 0, ())
    assert [get(store, i).status.value for i in ("m-1", "m-2", "m-3", "c-1")] == [
        "delivered",
        "delivered",
        "pending",
        "pending",
    ]
    calendar = MemoryCalendar()
    assert dispatch_once(store, clock, calendar=calendar) == DispatchReport(1, 1, 0, 0, ())
    assert list(calendar.events) == ["uid-1@crm.example.com"]
    assert get(store, "m-3").status is OutboxStatus.PENDING


def test_the_fence_renews_the_lease_for_lease_seconds_from_the_try_and_counts_it() -> None:
    store, clock = world()
    mailer = TickingMailer(clock)
    mailer.store = store
    clock.advance(seconds=1)
    dispatch_once(store, clock, mailer, lease_seconds=90)
    (during,) = mailer.seen
    assert during.attempts == 1
    assert during.due_at == NOW + timedelta(seconds=1 + 90)
    assert during.lease_token is not None
    done = get(store)
    assert (done.status, done.lease_token) == (OutboxStatus.DELIVERED, None)
    assert done.delivered_at == NOW + timedelta(seconds=6)  # when the outcome was recorded


# --- settlement, per recipient -------------------------------------------------------------


def test_everyone_accepting_is_delivered() -> None:
    store, clock = world(mail([A, B]))
    mailer = TickingMailer(clock)
    report = dispatch_once(store, clock, mailer)
    assert report == DispatchReport(1, 1, 0, 0, ())
    done = get(store)
    assert done.status is OutboxStatus.DELIVERED
    assert done.recipients == {A: ACCEPTED, B: ACCEPTED}
    assert (done.last_error, done.lease_token, done.attempts) == (None, None, 1)
    assert done.delivered_at == NOW + timedelta(seconds=5)


def test_a_deferred_recipient_waits_for_the_backoff_alone() -> None:
    store, clock = world(mail([A, B]))
    mailer = TickingMailer(clock)
    mailer.answer(B, 451)
    report = dispatch_once(store, clock, mailer, backoff=BACKOFF)
    error = f"{B}: deferred 451 deferred"
    assert report == DispatchReport(1, 0, 1, 0, (("m-1", error),))
    after = get(store)
    assert after.status is OutboxStatus.PENDING
    assert after.recipients == {
        A: ACCEPTED,
        B: RecipientOutcome(RecipientState.DEFERRED, 451, "deferred"),
    }
    assert after.last_error == error
    assert after.due_at == NOW + timedelta(seconds=5 + 60)
    assert (after.lease_token, after.delivered_at, after.attempts) == (None, None, 1)
    clock.set(NOW + timedelta(seconds=64))
    assert dispatch_once(store, clock, mailer, backoff=BACKOFF) == DispatchReport()
    clock.advance(seconds=1)
    second = dispatch_once(store, clock, mailer, backoff=BACKOFF)
    assert second == DispatchReport(1, 1, 0, 0, ())
    done = get(store)
    assert done.recipients == {A: ACCEPTED, B: ACCEPTED}
    assert (done.status, done.attempts, done.last_error) == (OutboxStatus.DELIVERED, 2, None)
    assert mailer.deliveries == {"<m-1@crm.example.com>": [A, B]}
    assert mailer.duplicates == 0


def test_the_backoff_gets_the_number_of_tries_made() -> None:
    store, clock = world(mail([A]))
    mailer = MemoryMailer()
    mailer.answer(A, 451, 451, 451)
    asked: list[int] = []

    def backoff(attempts: int) -> timedelta:
        asked.append(attempts)
        return timedelta(minutes=attempts)

    for _ in range(3):
        dispatch_once(store, clock, mailer, backoff=backoff)
        assert get(store).due_at == clock.now() + timedelta(minutes=len(asked))
        clock.advance(hours=1)
    assert asked == [1, 2, 3]


def test_a_refused_recipient_beside_an_accepted_one_is_partially_failed() -> None:
    store, clock = world(mail([A, B, C]))
    mailer = TickingMailer(clock)
    mailer.answer(B, 550)
    mailer.answer(C, 553)
    report = dispatch_once(store, clock, mailer)
    error = f"{B}: refused 550 refused; {C}: refused 553 refused"
    assert report == DispatchReport(1, 0, 0, 0, (("m-1", error),), partially_failed=1)
    done = get(store)
    assert done.status is OutboxStatus.PARTIALLY_FAILED
    assert done.recipients == {
        A: ACCEPTED,
        B: RecipientOutcome(RecipientState.REFUSED, 550, "refused"),
        C: RecipientOutcome(RecipientState.REFUSED, 553, "refused"),
    }
    assert (done.last_error, done.lease_token) == (error, None)
    assert done.delivered_at == NOW + timedelta(seconds=5)


def test_refused_and_deferred_together_wait_for_the_deferred_one() -> None:
    store, clock = world(mail([A, B, C]))
    mailer = MemoryMailer()
    mailer.answer(B, 550)
    mailer.answer(C, 421, 250)
    first = dispatch_once(store, clock, mailer, backoff=BACKOFF)
    error = f"{B}: refused 550 refused; {C}: deferred 421 deferred"
    assert first == DispatchReport(1, 0, 1, 0, (("m-1", error),))
    clock.advance(hours=1)
    second = dispatch_once(store, clock, mailer, backoff=BACKOFF)
    assert second == DispatchReport(1, 0, 0, 0, (("m-1", f"{B}: refused 550 refused"),), 1)
    done = get(store)
    assert done.recipients[C] == ACCEPTED
    assert done.delivered_at == clock.now()
    assert mailer.deliveries == {"<m-1@crm.example.com>": [A, C]}


def test_nobody_accepting_is_failed_and_never_delivered() -> None:
    store, clock = world(mail([A, B]))
    mailer = MemoryMailer()
    mailer.answer(A, 550)
    mailer.answer(B, 551)
    report = dispatch_once(store, clock, mailer)
    error = f"{A}: refused 550 refused; {B}: refused 551 refused"
    assert report == DispatchReport(1, 0, 0, 1, (("m-1", error),))
    done = get(store)
    assert (done.status, done.delivered_at, done.last_error) == (OutboxStatus.FAILED, None, error)


@pytest.mark.parametrize("max_attempts", [1, 2])
def test_the_last_allowed_try_turns_deferred_into_refused(max_attempts: int) -> None:
    store, clock = world(mail([A, B]))
    mailer = MemoryMailer()
    mailer.answer(B, *[452] * max_attempts)
    reports = []
    for _ in range(max_attempts):
        reports.append(dispatch_once(store, clock, mailer, max_attempts=max_attempts))
        clock.advance(hours=7)
    reason = f"still deferred after {max_attempts} attempts"
    error = f"{B}: refused 452 {reason}"
    assert reports[-1] == DispatchReport(1, 0, 0, 0, (("m-1", error),), partially_failed=1)
    assert [r.retried for r in reports] == [1] * (max_attempts - 1) + [0]
    done = get(store)
    assert done.recipients[B] == RecipientOutcome(RecipientState.REFUSED, 452, reason)
    assert (done.status, done.attempts) == (OutboxStatus.PARTIALLY_FAILED, max_attempts)
    assert done.last_error == error


def test_max_attempts_one_still_delivers_a_first_try_that_succeeds() -> None:
    store, clock = world(mail([A]))
    report = dispatch_once(store, clock, MemoryMailer(), max_attempts=1)
    assert report == DispatchReport(1, 1, 0, 0, ())


def test_a_temporary_failure_of_the_whole_message_is_retried() -> None:
    store, clock = world(mail([A, B]))
    mailer = MemoryMailer()
    mailer.fail_next()
    report = dispatch_once(store, clock, mailer, backoff=BACKOFF)
    error = "DeliveryError: memory mailer told to fail (temporary)"
    assert report == DispatchReport(1, 0, 1, 0, (("m-1", error),))
    after = get(store)
    assert (after.status, after.recipients, after.last_error) == (OutboxStatus.PENDING, {}, error)
    assert (after.due_at, after.lease_token) == (NOW + timedelta(seconds=60), None)


def test_a_temporary_failure_on_the_last_try_fails_the_open_recipients() -> None:
    store, clock = world(mail([A, B]))
    mailer = MemoryMailer()
    mailer.answer(B, 451)
    dispatch_once(store, clock, mailer, max_attempts=2, backoff=BACKOFF)
    clock.advance(hours=1)
    mailer.fail_next()
    report = dispatch_once(store, clock, mailer, max_attempts=2, backoff=BACKOFF)
    error = "DeliveryError: memory mailer told to fail (temporary)"
    assert report == DispatchReport(1, 0, 0, 0, (("m-1", error),), partially_failed=1)
    done = get(store)
    assert done.recipients == {A: ACCEPTED, B: RecipientOutcome(RecipientState.REFUSED, 451, error)}
    assert done.last_error == f"{error}; {B}: refused 451 {error}"
    assert done.delivered_at == clock.now()  # when the message was settled


def test_a_permanent_failure_fails_every_open_recipient_at_once() -> None:
    store, clock = world(mail([A, B]))
    mailer = MemoryMailer()
    mailer.fail_next(permanent=True)
    report = dispatch_once(store, clock, mailer, max_attempts=5)
    error = "DeliveryError: memory mailer told to fail (permanent)"
    assert report == DispatchReport(1, 0, 0, 1, (("m-1", error),))
    done = get(store)
    refused = RecipientOutcome(RecipientState.REFUSED, None, error)
    assert done.recipients == {A: refused, B: refused}
    assert done.status is OutboxStatus.FAILED
    assert done.last_error == f"{error}; {A}: refused  {error}; {B}: refused  {error}"
    assert (done.delivered_at, done.lease_token, done.attempts) == (None, None, 1)


def test_an_unreadable_payload_fails_at_once() -> None:
    broken = OutboxMessage(
        id="m-1", key="k", channel="mail", payload={"message": " ", "recipients": [A]}, due_at=NOW
    )
    store, clock = world(broken)
    report = dispatch_once(store, clock, MemoryMailer(), max_attempts=5)
    error = "InvalidInput: payload.message: must hold the full RFC 5322 message text"
    assert report == DispatchReport(1, 0, 0, 1, (("m-1", error),))
    assert get(store).status is OutboxStatus.FAILED


# --- the calendar channel ------------------------------------------------------------------


def test_a_calendar_message_is_published_and_delivered() -> None:
    store, clock = world(calendar_message())
    calendar = MemoryCalendar()
    report = dispatch_once(store, clock, calendar=calendar)
    assert report == DispatchReport(1, 1, 0, 0, ())
    done = get(store, "c-1")
    assert (done.status, done.recipients, done.last_error) == (OutboxStatus.DELIVERED, {}, None)
    assert (done.delivered_at, done.attempts) == (NOW, 1)
    assert calendar.events["uid-1@crm.example.com"] == appointment()


def test_a_calendar_failure_is_retried_then_failed() -> None:
    store, clock = world(calendar_message("cancel"))
    calendar = MemoryCalendar()
    calendar.fail_next(2)
    first = dispatch_once(store, clock, calendar=calendar, max_attempts=2, backoff=BACKOFF)
    error = "DeliveryError: memory calendar told to fail"
    assert first == DispatchReport(1, 0, 1, 0, (("c-1", error),))
    after = get(store, "c-1")
    assert (after.status, after.last_error, after.recipients) == (OutboxStatus.PENDING, error, {})
    assert after.due_at == NOW + timedelta(seconds=60)
    clock.advance(minutes=1)
    second = dispatch_once(store, clock, calendar=calendar, max_attempts=2, backoff=BACKOFF)
    assert second == DispatchReport(1, 0, 0, 1, (("c-1", error),))
    done = get(store, "c-1")
    assert (done.status, done.last_error, done.delivered_at) == (OutboxStatus.FAILED, error, None)
    assert calendar.events == {}


def test_a_permanent_calendar_failure_fails_at_once() -> None:
    store, clock = world(calendar_message())
    calendar = MemoryCalendar()
    calendar.fail_next(permanent=True)
    report = dispatch_once(store, clock, calendar=calendar, max_attempts=8)
    assert report.failed == 1
    assert get(store, "c-1").last_error == "DeliveryError: memory calendar told to fail"


def test_a_bad_calendar_payload_fails_at_once_with_its_reason() -> None:
    store, clock = world(calendar_message("move"))
    report = dispatch_once(store, clock, calendar=MemoryCalendar())
    error = "InvalidInput: payload.action: must be 'publish' or 'cancel'"
    assert report == DispatchReport(1, 0, 0, 1, (("c-1", error),))


class Recorder:
    """A host's own sender: answers with a fixed outcome or raises."""

    def __init__(self, outcome: DeliveryOutcome | Exception | None = None) -> None:
        self.outcome = outcome or DeliveryOutcome()
        self.messages: list[OutboxMessage] = []

    def deliver(self, message: OutboxMessage) -> DeliveryOutcome:
        self.messages.append(message)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_a_mail_message_with_an_empty_envelope_is_retried_on_a_temporary_failure() -> None:
    store, clock = world(mail([A], recipients=[]))
    sender = Recorder(RuntimeError("down"))
    report = dispatch_once(store, clock, senders={"mail": sender}, backoff=BACKOFF)
    assert report == DispatchReport(1, 0, 1, 0, (("m-1", "RuntimeError: down"),))
    assert get(store).status is OutboxStatus.PENDING
    sender.outcome = DeliveryOutcome()
    clock.advance(minutes=1)
    assert dispatch_once(store, clock, senders={"mail": sender}) == DispatchReport(1, 1, 0, 0, ())


def test_a_hosts_channel_gets_the_same_retries() -> None:
    sms = OutboxMessage(id="s-1", key="s", channel="sms", payload={"text": "hi"}, due_at=NOW)
    store, clock = world(sms)
    sender = Recorder(DeliveryError("gateway busy"))
    first = dispatch_once(store, clock, senders={"sms": sender}, backoff=BACKOFF)
    assert first == DispatchReport(1, 0, 1, 0, (("s-1", "DeliveryError: gateway busy"),))
    assert sender.messages[0].attempts == 1
    sender.outcome = DeliveryOutcome()
    clock.advance(minutes=1)
    assert dispatch_once(store, clock, senders={"sms": sender}) == DispatchReport(1, 1, 0, 0, ())


def test_a_message_without_a_sender_fails_for_good() -> None:
    message = OutboxMessage(id="s-1", key="s", channel="sms", lease_token="t", attempts=1)
    tried = outbox._deliver(message, {})
    assert tried == outbox._Try(
        "t", None, error="DeliveryError: no sender for channel 'sms'", permanent=True
    )


# --- settle, directly ----------------------------------------------------------------------


def tried(**fields: Any) -> Any:
    return outbox._Try(**{"token": "mine", "envelope": (A, B), **fields})


def test_settling_never_overwrites_a_final_recipient() -> None:
    message = attrs.evolve(
        mail([A, B]),
        recipients={A: ACCEPTED, B: RecipientOutcome(RecipientState.REFUSED, 550, "no")},
        lease_token="mine",
        attempts=1,
    )
    outcome = DeliveryOutcome({A: RecipientOutcome(RecipientState.REFUSED, 554, "late")})
    new = settle(message, tried(tried=(A, B), outcome=outcome), NOW, 8, BACKOFF)
    assert new.recipients == message.recipients
    assert new.status is OutboxStatus.PARTIALLY_FAILED


def test_settling_under_another_claim_merges_states_and_leaves_the_lease() -> None:
    due = NOW + timedelta(minutes=5)
    message = attrs.evolve(mail([A, B]), lease_token="theirs", attempts=2, due_at=due)
    deferred = RecipientOutcome(RecipientState.DEFERRED, 451, "later")
    new = settle(
        message, tried(tried=(A, B), outcome=DeliveryOutcome({B: deferred})), NOW, 8, BACKOFF
    )
    assert new == attrs.evolve(
        message, recipients={A: ACCEPTED, B: deferred}, last_error=f"{B}: deferred 451 later"
    )


def test_settling_a_finished_message_under_another_claim_finishes_it() -> None:
    message = attrs.evolve(mail([A, B]), lease_token="theirs", attempts=1)
    new = settle(message, tried(tried=(A, B), outcome=DeliveryOutcome()), NOW, 8, BACKOFF)
    assert (new.status, new.lease_token, new.delivered_at) == (OutboxStatus.DELIVERED, None, NOW)


def test_a_recipient_without_a_code_is_described_without_one() -> None:
    message = attrs.evolve(mail([A, B]), lease_token="mine", attempts=1)
    deferred = RecipientOutcome(RecipientState.DEFERRED, None, "try later")
    new = settle(
        message, tried(tried=(A, B), outcome=DeliveryOutcome({A: deferred})), NOW, 8, BACKOFF
    )
    assert new.last_error == f"{A}: deferred  try later"
    assert new.due_at == NOW + timedelta(seconds=60)


# --- conflicts: the fence, recording, claiming ---------------------------------------------


class FaultyStore(MemoryStore):
    """A memory store whose outbox raises on chosen calls (by method name)."""

    def __init__(self) -> None:
        super().__init__()
        self.faults: dict[str, list[Exception]] = {}
        self.calls: dict[str, int] = {}

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        uow = super().unit_of_work(read_only=read_only)
        real = uow.outbox
        store = self

        class Outbox:
            def __getattr__(self, name: str) -> Any:
                method = getattr(real, name)

                def call(*args: Any, **kwargs: Any) -> Any:
                    store.calls[name] = store.calls.get(name, 0) + 1
                    pending = store.faults.get(name)
                    if pending:
                        raise pending.pop(0)
                    return method(*args, **kwargs)

                return call

        uow.outbox = Outbox()
        return uow


def faulty(*messages: OutboxMessage) -> tuple[FaultyStore, FrozenClock]:
    store = FaultyStore()
    put(store, *(messages or (mail(),)))
    return store, FrozenClock(NOW)


@pytest.mark.parametrize("error", [ConcurrencyConflict("outbox", "x", 1, 2), StoreBusy("claim")])
def test_a_claim_that_conflicts_is_an_empty_round(error: Exception) -> None:
    store, clock = faulty()
    store.faults["claim_due"] = [error]
    assert dispatch_once(store, clock, MemoryMailer()) == DispatchReport()
    assert get(store).attempts == 0
    assert dispatch_once(store, clock, MemoryMailer()) == DispatchReport(1, 1, 0, 0, ())


def test_a_fence_that_conflicts_is_a_lost_lease_and_nothing_is_sent() -> None:
    store, clock = faulty(mail(id="m-1", key="k-1"), mail(id="m-2", key="k-2"))
    store.faults["start_attempt"] = [ConcurrencyConflict("outbox", "m-1", 1, 2)]
    mailer = MemoryMailer()
    report = dispatch_once(store, clock, mailer)
    assert report == DispatchReport(2, 1, 0, 0, (), lost_leases=1)
    assert get(store, "m-1").attempts == 0
    assert get(store, "m-2").status is OutboxStatus.DELIVERED
    assert len(mailer.sent) == 1


def test_a_claimed_message_without_a_token_is_not_sent() -> None:
    store, _clock = world()
    with store.unit_of_work() as uow:
        (claimed,) = uow.outbox.claim_due(NOW, 10, 60)
        uow.commit()
    assert outbox._start(store, attrs.evolve(claimed, lease_token=None), NOW, 60) is None
    started = outbox._start(store, claimed, NOW, 60)
    assert started is not None
    assert started.attempts == 1


def test_recording_retries_a_conflict_then_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    store, clock = faulty()
    store.faults["record"] = [StoreBusy("record"), ConcurrencyConflict("outbox", "m-1", 1, 2)]
    report = dispatch_once(store, clock, MemoryMailer())
    assert report == DispatchReport(1, 1, 0, 0, ())
    assert slept == [0.01, 0.02]
    assert store.calls["record"] == 3

    slept.clear()
    store, clock = faulty()
    store.faults["record"] = [StoreBusy("record") for _ in range(10)]
    report = dispatch_once(store, clock, MemoryMailer())
    assert report == DispatchReport(1, 0, 0, 0, ())  # the lease runs out; a later round settles
    assert store.calls["record"] == 5
    assert slept == pytest.approx([0.01, 0.02, 0.03, 0.04])
    assert get(store).status is OutboxStatus.PENDING


def test_a_message_settled_by_someone_else_meanwhile_is_left_as_it_is() -> None:
    store, clock = world(mail([A]))
    marked = NOW - timedelta(minutes=1)

    class Meddler(MemoryMailer):
        def send_to(self, message: Any, recipients: Sequence[str]) -> DeliveryOutcome:
            with store.unit_of_work() as uow:
                uow.outbox.mark_delivered("m-1", marked)
                uow.commit()
            return DeliveryOutcome({A: RecipientOutcome(RecipientState.REFUSED, 550, "no")})

    report = dispatch_once(store, clock, Meddler())
    assert report == DispatchReport(1, 1, 0, 0, ())
    done = get(store)
    assert (done.status, done.delivered_at, done.recipients) == (
        OutboxStatus.DELIVERED,
        marked,
        {},
    )


# --- run_dispatcher ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "stop"),
        ({"stop": True}, "stop"),
        ({"max_rounds": -1}, "max_rounds"),
        ({"max_rounds": True}, "max_rounds"),
        ({"max_rounds": 1.0}, "max_rounds"),
        ({"max_rounds": 1, "interval": -0.1}, "interval"),
        ({"max_rounds": 1, "interval": 86400.5}, "interval"),
        ({"max_rounds": 1, "interval": True}, "interval"),
        ({"max_rounds": 1, "interval": "1"}, "interval"),
        ({"max_rounds": 1, "interval": math.nan}, "interval"),
    ],
)
def test_bad_run_arguments_are_refused(options: dict[str, Any], field: str) -> None:
    store, clock = world()
    before = store.dump()
    with pytest.raises(InvalidInput) as caught:
        run_dispatcher(store, clock, MemoryMailer(), **options)
    assert caught.value.field == field
    assert RUN_REASONS[field] in caught.value.reason
    if options == {"stop": True}:
        assert caught.value.value is True
    if options and field != "stop":
        assert caught.value.value is options[field] or caught.value.value == options[field]
    assert store.dump() == before


@pytest.mark.parametrize("interval", [0, 86400])
def test_the_interval_bounds_are_inclusive(interval: float) -> None:
    store, clock = world()
    slept: list[float] = []
    report = run_dispatcher(
        store, clock, MemoryMailer(), max_rounds=2, interval=interval, sleep=slept.append
    )
    assert report == DispatchReport(1, 1, 0, 0, ())
    assert slept == [interval]


def test_zero_rounds_do_nothing() -> None:
    store, clock = world()
    assert run_dispatcher(store, clock, MemoryMailer(), max_rounds=0) == DispatchReport()
    assert get(store).attempts == 0


def test_rounds_wait_the_interval_between_them_but_not_after_the_last() -> None:
    store, clock = world()
    slept: list[float] = []
    report = run_dispatcher(
        store, clock, MemoryMailer(), max_rounds=3, interval=2.5, sleep=slept.append
    )
    assert report == DispatchReport(1, 1, 0, 0, ())
    assert slept == [2.5, 2.5]


def test_a_full_round_is_followed_at_once_by_the_next() -> None:
    store, clock = world(*(mail(id=f"m-{n}", key=f"k-{n}") for n in range(3)))
    slept: list[float] = []
    mailer = MemoryMailer()
    report = run_dispatcher(
        store, clock, mailer, max_rounds=5, limit=1, interval=7, sleep=slept.append
    )
    assert report == DispatchReport(3, 3, 0, 0, ())
    assert slept == [7]  # after round 4, which claimed nothing; not after the last
    assert len(mailer.sent) == 3


def test_the_loop_ends_when_stop_says_so_and_sums_the_rounds() -> None:
    store, clock = world(mail([A, B]))
    mailer = MemoryMailer()
    mailer.answer(B, 451, 451)
    answers = iter([False, False, False, True])
    slept: list[float] = []

    def tick(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(hours=1)

    report = run_dispatcher(
        store, clock, mailer, stop=lambda: next(answers), sleep=tick, backoff=BACKOFF
    )
    error = f"{B}: deferred 451 deferred"
    assert report == DispatchReport(3, 1, 2, 0, (("m-1", error), ("m-1", error)))
    assert slept == [1.0, 1.0, 1.0]


def test_stop_and_max_rounds_both_bound_the_loop() -> None:
    store, clock = world()
    calls: list[int] = []

    def stop() -> bool:
        calls.append(1)
        return False

    report = run_dispatcher(
        store, clock, MemoryMailer(), stop=stop, max_rounds=2, sleep=lambda s: None
    )
    assert report == DispatchReport(1, 1, 0, 0, ())
    assert len(calls) == 3


def test_run_passes_every_setting_to_each_round() -> None:
    store, clock = world(
        mail([A, B], id="m-1", key="k-1"), mail(id="m-2", key="k-2"), calendar_message()
    )
    mailer = TickingMailer(clock, seconds=0)
    mailer.store = store
    mailer.answer(B, 451)
    calendar = MemoryCalendar()
    sms = Recorder()
    put(store, OutboxMessage(id="s-1", key="s", channel="sms", due_at=NOW))
    report = run_dispatcher(
        store,
        clock,
        mailer,
        calendar,
        senders={"sms": sms},
        max_rounds=1,
        limit=3,
        lease_seconds=123,
        max_attempts=1,
        backoff=BACKOFF,
    )
    reason = "still deferred after 1 attempts"
    assert report == DispatchReport(
        3, 2, 0, 0, (("m-1", f"{B}: refused 451 {reason}"),), partially_failed=1
    )
    assert mailer.seen[0].due_at == NOW + timedelta(seconds=123)
    assert [m.id for m in sms.messages] == ["s-1"]
    assert get(store, "m-2").status is OutboxStatus.PENDING  # beyond the limit
    assert list(calendar.events) == ["uid-1@crm.example.com"]


def test_a_dispatch_stop_interrupts_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s instead of waiting on the stop")

    monkeypatch.setattr(time, "sleep", no_sleep)
    store, clock = world()
    stop = DispatchStop()
    sender = Recorder()
    original = sender.deliver

    def deliver(message: OutboxMessage) -> DeliveryOutcome:
        stop.set()
        return original(message)

    sender.deliver = deliver  # type: ignore[method-assign]
    report = run_dispatcher(store, clock, senders={"mail": sender}, stop=stop, interval=3600)
    assert report == DispatchReport(1, 1, 0, 0, ())


def test_without_a_sleep_function_the_loop_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    store, clock = world()
    answers = iter([False, False, True])
    report = run_dispatcher(store, clock, MemoryMailer(), stop=lambda: next(answers), interval=0.25)
    assert report == DispatchReport(1, 1, 0, 0, ())
    assert slept == [0.25, 0.25]


def test_the_backoff_defaults_are_thirty_seconds_doubling_to_six_hours() -> None:
    delay = exponential_backoff()
    assert [delay(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert delay(11) == timedelta(hours=6)


def test_an_unset_dispatch_stop_waits_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s instead of waiting on the stop")

    monkeypatch.setattr(time, "sleep", no_sleep)
    store, clock = world()
    started = time.monotonic()
    report = run_dispatcher(
        store, clock, MemoryMailer(), stop=DispatchStop(), max_rounds=2, interval=0.05
    )
    assert report == DispatchReport(1, 1, 0, 0, ())
    assert time.monotonic() - started >= 0.05


def test_a_recipient_not_yet_tried_keeps_the_message_pending_without_an_error() -> None:
    message = attrs.evolve(mail([A, B]), lease_token="mine", attempts=1)
    new = settle(message, tried(tried=(A,), outcome=DeliveryOutcome()), NOW, 8, BACKOFF)
    assert new.status is OutboxStatus.PENDING
    assert new.recipients == {A: ACCEPTED}
    assert new.last_error is None
    assert new.due_at == NOW + timedelta(seconds=60)


def test_the_dispatch_defaults_are_limit_100_lease_60_and_8_attempts() -> None:
    store, clock = world(*(mail(id=f"m-{n:03d}", key=f"k-{n}") for n in range(101)))
    mailer = TickingMailer(clock, seconds=0)
    mailer.store = store
    assert dispatch_once(store, clock, mailer).claimed == 100
    assert mailer.seen[0].due_at == NOW + timedelta(seconds=60)
    assert get(store, "m-100").status is OutboxStatus.PENDING
    slept: list[float] = []
    again = run_dispatcher(store, clock, mailer, max_rounds=2, sleep=slept.append)
    assert again == DispatchReport(1, 1, 0, 0, ())
    assert slept == [1.0]


def test_the_run_defaults_are_limit_100_lease_60_and_8_attempts() -> None:
    store, clock = world(*(mail(id=f"m-{n:03d}", key=f"k-{n}") for n in range(100)))
    mailer = TickingMailer(clock, seconds=0)
    mailer.store = store
    slept: list[float] = []
    report = run_dispatcher(store, clock, mailer, max_rounds=2, sleep=slept.append)
    assert (report.claimed, report.delivered) == (100, 100)
    assert slept == []  # a full round of 100 is followed at once by the next
    assert mailer.seen[0].due_at == NOW + timedelta(seconds=60)


@pytest.mark.parametrize("run", [False, True])
def test_eight_tries_are_the_default_before_a_deferral_counts_as_refused(run: bool) -> None:
    store, clock = world(mail([A, B]))
    mailer = MemoryMailer()
    mailer.answer(B, *[451] * 9)
    for _ in range(8):
        if run:
            run_dispatcher(store, clock, mailer, max_rounds=1)
        else:
            dispatch_once(store, clock, mailer)
        clock.advance(hours=7)
    done = get(store)
    assert (done.status, done.attempts) == (OutboxStatus.PARTIALLY_FAILED, 8)
    assert done.recipients[B].detail == "still deferred after 8 attempts"


def test_settling_skips_a_final_recipient_and_goes_on_with_the_next() -> None:
    message = attrs.evolve(mail([A, B]), recipients={A: ACCEPTED}, lease_token="mine", attempts=1)
    refused = RecipientOutcome(RecipientState.REFUSED, 550, "no")
    new = settle(
        message, tried(tried=(A, B), outcome=DeliveryOutcome({B: refused})), NOW, 8, BACKOFF
    )
    assert new.recipients == {A: ACCEPTED, B: refused}
    assert new.status is OutboxStatus.PARTIALLY_FAILED


def test_a_bad_limit_is_refused_even_without_a_sender() -> None:
    store, clock = world()
    with pytest.raises(InvalidInput) as caught:
        dispatch_once(store, clock, limit=-1)
    assert (caught.value.field, caught.value.value) == ("limit", -1)


def test_every_message_of_a_round_is_counted() -> None:
    store, clock = faulty(*(mail(id=f"m-{n}", key=f"k-{n}") for n in range(4)))
    store.faults["start_attempt"] = [ConcurrencyConflict("outbox", "m", 1, 2) for _ in range(2)]
    mailer = MemoryMailer()
    mailer.fail_next(2)
    report = dispatch_once(store, clock, mailer)
    error = "DeliveryError: memory mailer told to fail (temporary)"
    assert report == DispatchReport(4, 0, 2, 0, (("m-2", error), ("m-3", error)), 0, 2)


def test_a_message_that_cannot_be_recorded_does_not_stop_the_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    store, clock = faulty(mail(id="m-1", key="k-1"), mail(id="m-2", key="k-2"))
    store.faults["record"] = [StoreBusy("record") for _ in range(5)]
    report = dispatch_once(store, clock, MemoryMailer())
    assert report == DispatchReport(2, 1, 0, 0, ())
    assert get(store, "m-1").status is OutboxStatus.PENDING
    assert get(store, "m-2").status is OutboxStatus.DELIVERED


def test_a_message_failed_meanwhile_without_a_reason_reports_an_empty_one() -> None:
    store, clock = world(mail([A]))

    class Meddler(MemoryMailer):
        def send_to(self, message: Any, recipients: Sequence[str]) -> DeliveryOutcome:
            with store.unit_of_work() as uow:
                uow.outbox.mark_failed("m-1", "", None)
                uow.commit()
            return DeliveryOutcome()

    assert dispatch_once(store, clock, Meddler()) == DispatchReport(1, 0, 0, 1, (("m-1", ""),))


def test_run_passes_the_backoff() -> None:
    store, clock = world(mail([A]))
    mailer = MemoryMailer()
    mailer.answer(A, 451)
    run_dispatcher(store, clock, mailer, max_rounds=1, backoff=lambda n: timedelta(minutes=7))
    assert get(store).due_at == NOW + timedelta(minutes=7)
