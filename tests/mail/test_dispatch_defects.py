"""Regression tests for the dispatch defects of issue 16 (2, 3, 4), against real aiosmtpd."""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import attrs
import pytest

from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.memory_mail import MemoryMailer
from crm_procedures.adapters.smtp import SmtpMailer
from crm_procedures.model.outbox import DeliveryOutcome, OutboxMessage, OutboxStatus
from crm_procedures.ports import Store
from crm_procedures.services.messages import build_email, outbox_message_for_email
from crm_procedures.services.outbox import dispatch_once, exponential_backoff
from crm_procedures.testing.clock import FrozenClock

from .conftest import NOW, free_port

BACKOFF = exponential_backoff(base_seconds=60, factor=2, cap_seconds=3600)


class RcptHandler:
    """Answers RCPT per address from ``replies`` (a list per address, the last for ever)."""

    def __init__(self, replies: dict[str, list[str]] | None = None) -> None:
        self.replies = replies or {}
        self.envelopes: list[list[str]] = []
        self.rcpt_calls: dict[str, int] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        calls = self.rcpt_calls.get(address, 0)
        self.rcpt_calls[address] = calls + 1
        answers = self.replies.get(address, ["250 OK"])
        reply = answers[min(calls, len(answers) - 1)]
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


@pytest.fixture
def serve() -> Iterator[Callable[[Any], int]]:
    from aiosmtpd.controller import Controller

    started: list[Any] = []

    def start(handler: Any) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


def record(store: Store, to: Sequence[Any], key: str = "k-1", message_id: str = "m-1") -> None:
    msg = build_email(
        sender=("Acme CRM", "crm@crm.example.com"),
        to=list(to),
        subject="Demo",
        text="Hello.\n",
        key=key,
        date=NOW,
    )
    with store.unit_of_work() as uow:
        uow.outbox.add(outbox_message_for_email(msg, key, NOW, lambda: message_id))
        uow.commit()


def stored(store: Store, message_id: str = "m-1") -> OutboxMessage:
    with store.unit_of_work() as uow:
        return uow.outbox.get(message_id)


def test_defect_02_every_attendee_is_in_the_smtp_envelope(serve: Callable[[Any], int]) -> None:
    handler = RcptHandler()
    port = serve(handler)
    store = MemoryStore()
    first = ("Łukasz Żółć-Nowak, sales", "lukasz@acme.example.pl")
    second = ("Bob", "bob@acme.example.nl")
    record(store, [first, second])
    message = stored(store)
    assert message.envelope == ["lukasz@acme.example.pl", "bob@acme.example.nl"]
    report = dispatch_once(store, FrozenClock(NOW), SmtpMailer("127.0.0.1", port))
    assert report.delivered == 1
    assert handler.envelopes == [["lukasz@acme.example.pl", "bob@acme.example.nl"]]
    assert stored(store).status is OutboxStatus.DELIVERED


def test_defect_02_the_envelope_never_comes_from_the_written_headers(
    serve: Callable[[Any], int],
) -> None:
    # What CPython gh-100884 writes: the comma after a non-ASCII display name
    # inside the encoded word, so the header names one address where there
    # were two. The stored envelope, not the header, decides who receives it.
    handler = RcptHandler()
    port = serve(handler)
    store = MemoryStore()
    record(store, [("Zoë", "zoe@acme.example.pl"), ("Bob", "bob@acme.example.nl")])
    message = stored(store)
    text = message.payload["message"]
    start = text.index("To:")
    end = text.index("\r\n", text.index("bob@acme.example.nl"))
    broken = (
        text[:start]
        + "To: =?utf-8?q?Zo=C3=AB_=3Czoe=40acme=2Eexample=2Epl=3E=2C_Bob?= "
        + ("<bob@acme.example.nl>" + text[end:])
    )
    reread = email.message_from_string(broken)
    assert len(email.utils.getaddresses(reread.get_all("To", []))) == 1
    other = MemoryStore()
    with other.unit_of_work() as uow:
        uow.outbox.add(attrs.evolve(message, payload={**message.payload, "message": broken}))
        uow.commit()
    assert stored(other).payload["message"] == broken
    store = other
    assert dispatch_once(store, FrozenClock(NOW), SmtpMailer("127.0.0.1", port)).delivered == 1
    assert handler.envelopes == [["zoe@acme.example.pl", "bob@acme.example.nl"]]


def test_defect_03_refused_and_deferred_recipients_are_stored_and_retried_alone(
    serve: Callable[[Any], int],
) -> None:
    handler = RcptHandler(
        {
            "refused@acme.example.nl": ["550 5.1.1 no such user"],
            "deferred@acme.example.nl": ["451 4.7.1 greylisted", "250 OK"],
        }
    )
    port = serve(handler)
    store, clock = MemoryStore(), FrozenClock(NOW)
    mailer = SmtpMailer("127.0.0.1", port)
    record(
        store,
        ["ok@acme.example.nl", "refused@acme.example.nl", "deferred@acme.example.nl"],
    )
    first = dispatch_once(store, clock, mailer, backoff=BACKOFF)
    assert (first.delivered, first.retried) == (0, 1)
    after = stored(store)
    assert after.status is OutboxStatus.PENDING
    assert {a: (o.state.value, o.code) for a, o in after.recipients.items()} == {
        "ok@acme.example.nl": ("accepted", 250),
        "refused@acme.example.nl": ("refused", 550),
        "deferred@acme.example.nl": ("deferred", 451),
    }
    assert after.last_error is not None
    assert "refused@acme.example.nl" in after.last_error
    assert after.due_at == NOW + timedelta(seconds=60)  # backoff after one try
    assert mailer_state_free(mailer)
    clock.set(after.due_at)
    second = dispatch_once(store, clock, mailer, backoff=BACKOFF)
    assert second.partially_failed == 1
    done = stored(store)
    assert done.status is OutboxStatus.PARTIALLY_FAILED
    assert done.recipients["deferred@acme.example.nl"].state == "accepted"
    assert done.recipients["refused@acme.example.nl"].state == "refused"
    assert done.attempts == 2
    # Only the deferred recipient was tried again; the refused one never was.
    assert handler.envelopes == [
        ["ok@acme.example.nl"],
        ["deferred@acme.example.nl"],
    ]
    assert handler.rcpt_calls["refused@acme.example.nl"] == 1
    clock.advance(days=1)
    assert dispatch_once(store, clock, mailer).claimed == 0


def mailer_state_free(mailer: SmtpMailer) -> bool:
    """The mailer keeps no per-send state that a next send would overwrite."""
    return not hasattr(mailer, "refused")


def test_defect_03_deferred_until_the_last_attempt_counts_as_refused() -> None:
    store, clock, mailer = MemoryStore(), FrozenClock(NOW), MemoryMailer()
    record(store, ["a@acme.example.nl", "b@acme.example.nl"])
    mailer.answer("b@acme.example.nl", 451, 451, 451)
    for _ in range(3):
        dispatch_once(store, clock, mailer, max_attempts=3, backoff=BACKOFF)
        clock.advance(hours=2)
    done = stored(store)
    assert (done.status, done.attempts) == (OutboxStatus.PARTIALLY_FAILED, 3)
    assert done.recipients["b@acme.example.nl"].state == "refused"
    assert done.recipients["b@acme.example.nl"].code == 451
    assert mailer.deliveries == {next(iter(mailer.deliveries)): ["a@acme.example.nl"]}


def test_defect_03_nobody_accepting_is_failed() -> None:
    store, mailer = MemoryStore(), MemoryMailer()
    record(store, ["a@acme.example.nl"])
    mailer.answer("a@acme.example.nl", 550)
    assert dispatch_once(store, FrozenClock(NOW), mailer).failed == 1
    assert stored(store).status is OutboxStatus.FAILED


class SlowMailer(MemoryMailer):
    """Each send moves the clock on by ``seconds``; ``during`` runs inside the n-th send."""

    def __init__(self, clock: FrozenClock, seconds: float) -> None:
        super().__init__()
        self.clock = clock
        self.seconds = seconds
        self.during: dict[int, Callable[[], None]] = {}
        self.calls = 0

    def send_to(self, message: Any, recipients: Sequence[str]) -> DeliveryOutcome:
        self.calls += 1
        self.clock.advance(seconds=self.seconds)
        action = self.during.pop(self.calls, None)
        if action is not None:
            action()
        return super().send_to(message, recipients)


def test_defect_04_a_message_past_its_claim_lease_is_not_sent_twice() -> None:
    store, clock = MemoryStore(), FrozenClock(NOW)
    for n in range(3):
        record(store, [f"p{n}@acme.example.nl"], key=f"k-{n}", message_id=f"m-{n}")
    shared = MemoryMailer()
    slow = SlowMailer(clock, seconds=40)
    slow.deliveries = shared.deliveries  # one server: both dispatchers deliver into it
    other: list[Any] = []
    # While the first dispatcher sends its second message (t = 40..80 s), the
    # claim lease of 60 s has run out for the messages not yet tried: a second
    # dispatcher claims what is due and delivers it.
    slow.during[2] = lambda: other.append(dispatch_once(store, clock, shared, lease_seconds=60))
    report = dispatch_once(store, clock, slow, lease_seconds=60)
    (second,) = other
    assert second.delivered == 1  # m-2 only: m-1's lease was renewed when its send began
    assert (report.delivered, report.lost_leases) == (2, 1)
    assert shared.duplicates == 0
    assert sorted(len(v) for v in shared.deliveries.values()) == [1, 1, 1]
    for n in range(3):
        message = stored(store, f"m-{n}")
        assert (message.status, message.attempts) == (OutboxStatus.DELIVERED, 1)


def test_defect_04_a_claim_that_is_never_tried_does_not_use_up_attempts() -> None:
    store, clock, mailer = MemoryStore(), FrozenClock(NOW), MemoryMailer()
    record(store, ["a@acme.example.nl"])
    for _ in range(5):  # dispatchers killed after claiming, before trying
        with store.unit_of_work() as uow:
            assert len(uow.outbox.claim_due(clock.now(), 10, 60)) == 1
            uow.commit()
        clock.advance(seconds=61)
    assert stored(store).attempts == 0
    report = dispatch_once(store, clock, mailer, max_attempts=1)
    assert report.delivered == 1
    assert stored(store).attempts == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda s, c, m: dispatch_once(s, c, m, lease_seconds=1e30),
        lambda s, c, m: dispatch_once(s, c, m, lease_seconds=float("nan")),
        lambda s, c, m: dispatch_once(s, c, m, limit=-1),
        lambda s, c, m: dispatch_once(s, c, m, max_attempts="8"),  # type: ignore[arg-type]
        lambda s, c, m: dispatch_once(s, c, m, senders={"sms": object()}),  # type: ignore[dict-item]
        lambda s, c, m: exponential_backoff(1e300, 1e300, 1e300),
        lambda s, c, m: m.send_to(build_mail(), ["jan@mill.example:evil"]),
        lambda s, c, m: m.send_to(build_mail(), "jan@acme.example.nl"),
        lambda s, c, m: SmtpMailer("127.0.0.1", 1).send_to(build_mail(), []),
    ],
)
def test_bad_dispatch_arguments_are_invalid_input(call: Callable[..., Any]) -> None:
    from crm_procedures.errors import InvalidInput

    store = MemoryStore()
    record(store, ["a@acme.example.nl"])
    with pytest.raises(InvalidInput):
        call(store, FrozenClock(NOW), MemoryMailer())
    assert stored(store).attempts == 0


def build_mail() -> Any:
    return build_email(
        sender="crm@crm.example.com",
        to="jan@acme.example.nl",
        subject="s",
        text="t",
        key="k",
        date=NOW,
    )


def test_a_huge_backoff_is_capped_not_an_overflow() -> None:
    delay = exponential_backoff(base_seconds=30, factor=1e6, cap_seconds=3600)
    assert delay(10**30) == timedelta(hours=1)
