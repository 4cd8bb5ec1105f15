"""Acceptance (X4): 1,000 messages through a failing mailer and a dispatcher that dies.

The mailer fails at random before delivering; the dispatcher is "killed"
now and then after the mailer accepted a message and before the outbox
recorded it (an exception that is not an ``Exception`` escapes
``dispatch_once``, as a stopped process would), and is simply run again. The
receiving side keeps one copy per Message-ID, as the Mailer port requires.
Every message must arrive exactly once: 0 lost, 0 duplicates.
"""

from __future__ import annotations

import random
from collections import Counter
from email.message import EmailMessage

from crm_procedures.adapters.memory_mail import message_id_of
from crm_procedures.errors import DeliveryError
from crm_procedures.model.outbox import OutboxStatus
from crm_procedures.ports import Store
from crm_procedures.services.outbox import dispatch_once, exponential_backoff
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.contracts.messages import T0, a_message

MESSAGES = 1000
FAILURE_RATE = 0.2
KILL_RATE = 0.02
LEASE = 60.0


class DispatcherKilled(BaseException):
    """The dispatcher process dies (not an Exception: nothing catches it)."""


class Receiver:
    """The far side of the mailer: keeps one copy per Message-ID, counts hand-overs."""

    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.handed_over: Counter[str] = Counter()

    def accept(self, message: EmailMessage) -> None:
        mid = message_id_of(message)
        self.handed_over[mid] += 1
        if self.handed_over[mid] == 1:
            self.delivered.append(mid)


class FlakyMailer:
    """Fails at random before delivering; kills the dispatcher at random after."""

    def __init__(self, receiver: Receiver, seed: int) -> None:
        self.receiver = receiver
        self.random = random.Random(seed)
        self.failures = 0
        self.kills = 0

    def send(self, message: EmailMessage) -> None:
        if self.random.random() < FAILURE_RATE:
            self.failures += 1
            raise DeliveryError("451 4.3.0 try again later")
        self.receiver.accept(message)
        if self.random.random() < KILL_RATE:
            self.kills += 1
            raise DispatcherKilled


def test_every_message_is_delivered_exactly_once_despite_failures_and_crashes(
    store: Store,
) -> None:
    with store.unit_of_work() as uow:
        for n in range(MESSAGES):
            uow.outbox.add(a_message(n))
        uow.commit()
    receiver = Receiver()
    mailer = FlakyMailer(receiver, seed=20260302)
    clock = FrozenClock(T0)
    backoff = exponential_backoff(base_seconds=10, factor=2, cap_seconds=LEASE)
    rounds = 0
    while rounds < 500:
        rounds += 1
        try:
            report = dispatch_once(
                store,
                clock,
                mailer,
                limit=100,
                lease_seconds=LEASE,
                max_attempts=100,
                backoff=backoff,
            )
        except DispatcherKilled:
            pass  # a new dispatcher starts; the messages it held wait for their lease
        else:
            if report.claimed == 0:
                with store.unit_of_work() as uow:
                    if not uow.outbox.list(status="pending", limit=1):
                        break
        clock.advance(seconds=LEASE + 1)

    expected = [f"<msg-{n}@crm.test>" for n in range(MESSAGES)]
    lost = set(expected) - set(receiver.delivered)
    duplicates = len(receiver.delivered) - len(set(receiver.delivered))
    assert (len(lost), duplicates) == (0, 0)
    assert sorted(receiver.delivered) == sorted(expected)
    with store.unit_of_work() as uow:
        statuses = Counter(m.status for m in uow.outbox.list(limit=MESSAGES + 1))
    assert statuses == {OutboxStatus.DELIVERED: MESSAGES}
    # the faults did happen, and the redeliveries they caused were recognised by key
    assert mailer.failures > 0
    assert mailer.kills > 0
    redelivered = sum(n - 1 for n in receiver.handed_over.values())
    assert redelivered >= mailer.kills
    print(
        f"\n{MESSAGES} messages in {rounds} rounds: {mailer.failures} failures, "
        f"{mailer.kills} crashes, {redelivered} repeated hand-overs, 0 lost, 0 duplicates"
    )
