"""The contract suite of the :class:`~crm_procedures.ports.Inbox` port.

Every inbox adapter (a folder, IMAP, a host's own) must hand out what it
holds oldest first, after a cursor that survives ``dump``/``parse``, at most
``limit`` at a time, without consuming anything, and resume after a stored
cursor with the messages that arrived since. A host runs the suite on its
adapter with one fixture and one class::

    import pytest
    from crm_procedures.testing.contracts.inbox import InboxContract

    @pytest.fixture
    def crm_contract_inbox(tmp_path):
        def make(messages: list[bytes]):
            mailbox = MyMailbox(tmp_path / "box", messages)  # holds them, oldest first
            return MyInbox(mailbox), mailbox.deliver  # deliver(raw) adds one later
        return make

    class TestMyInbox(InboxContract):
        pass

``crm_contract_inbox`` returns an :data:`InboxFactory`: called with a list
of raw messages (RFC 5322 bytes, oldest first) it returns a new inbox holding
exactly those, and an :data:`InboxAppend` that delivers one more message to
that inbox. The suite may call it several times per test and closes every
inbox it made. Adapter-specific behaviour (renumbered IMAP mailboxes, bad
logins, missing folders) stays in the adapter's own tests.

This module imports pytest: import it from tests only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crm_procedures.errors import InvalidInput
from crm_procedures.inbound.cursor import InboundMessage, InboxCursor
from crm_procedures.ports import Inbox

__all__ = ["InboxAppend", "InboxContract", "InboxFactory", "a_message", "normalised"]

InboxAppend = Callable[[bytes], None]
"""``append(raw)``: delivers one more message to the inbox (it sorts after the others)."""
InboxFactory = Callable[[list[bytes]], tuple[Inbox, InboxAppend]]
"""``make(messages)``: a new inbox holding ``messages`` (oldest first), and its append."""


def a_message(i: int) -> bytes:
    """A small plain-text message with the Message-ID ``<m{i}@acme.example.nl>``.

    Raises:
        InvalidInput: ``i`` is not a whole number from 0 to 2**63 - 1.
    """
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < 2**63:
        raise InvalidInput("i", "must be a whole number from 0 to 2**63 - 1", None)
    return (
        f"From: c{i}@acme.example.nl\r\nTo: crm@crm.example.com\r\n"
        f"Message-ID: <m{i}@acme.example.nl>\r\nSubject: message {i}\r\n\r\nbody {i}\r\n"
    ).encode()


def normalised(raw: bytes) -> bytes:
    """``raw`` with CRLF line ends as LF: servers may store either."""
    return raw.replace(b"\r\n", b"\n")


def _drain(inbox: Inbox, after: InboxCursor | None = None, limit: int = 3) -> list[InboundMessage]:
    """Every message after ``after``, ``limit`` at a time, each cursor dumped and parsed."""
    out: list[InboundMessage] = []
    while batch := inbox.fetch(after, limit=limit):
        assert len(batch) <= limit
        out.extend(batch)
        after = InboxCursor.parse(batch[-1].cursor.dump())
        assert len(out) <= 1_000, "the inbox keeps handing out messages"
    return out


def _bodies(messages: list[InboundMessage]) -> list[bytes]:
    return [normalised(m.raw) for m in messages]


def _expected(numbers: range | list[int]) -> list[bytes]:
    return [normalised(a_message(i)) for i in numbers]


class InboxContract:
    """Every Inbox contract test. Subclass it next to a ``crm_contract_inbox`` fixture."""

    @pytest.fixture
    def make_inbox(self, crm_contract_inbox: InboxFactory) -> Iterator[InboxFactory]:
        """``crm_contract_inbox``, checked; every inbox it makes is closed after the test."""
        if not callable(crm_contract_inbox):
            pytest.fail(
                "the crm_contract_inbox fixture must return a callable that takes a list of "
                "raw messages and returns (inbox, append)",
                pytrace=False,
            )
        made: list[Inbox] = []

        def make(messages: list[bytes]) -> tuple[Inbox, InboxAppend]:
            result: Any = crm_contract_inbox(list(messages))
            if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
                pytest.fail(
                    "crm_contract_inbox(messages) must return (inbox, append), "
                    f"not {type(result).__name__}",
                    pytrace=False,
                )
            inbox, append = result
            if not (
                callable(getattr(inbox, "fetch", None)) and callable(getattr(inbox, "close", None))
            ):
                pytest.fail(f"{type(inbox).__name__} lacks fetch() or close()", pytrace=False)
            made.append(inbox)
            return inbox, append

        yield make
        for inbox in made:
            inbox.close()

    def test_an_empty_inbox_hands_out_nothing(self, make_inbox: InboxFactory) -> None:
        inbox, _append = make_inbox([])
        assert inbox.fetch() == []

    def test_every_message_comes_once_oldest_first_in_batches_of_limit(
        self, make_inbox: InboxFactory
    ) -> None:
        inbox, _append = make_inbox([a_message(i) for i in range(7)])
        got = _drain(inbox, limit=3)
        assert _bodies(got) == _expected(range(7))
        assert len({m.source_id for m in got}) == 7
        assert len({m.cursor for m in got}) == 7

    def test_a_limit_above_the_count_returns_everything(self, make_inbox: InboxFactory) -> None:
        inbox, _append = make_inbox([a_message(i) for i in range(3)])
        assert _bodies(inbox.fetch(limit=10_000)) == _expected(range(3))
        assert _bodies(inbox.fetch(limit=1)) == _expected([0])

    def test_a_stored_cursor_resumes_with_the_following_messages(
        self, make_inbox: InboxFactory
    ) -> None:
        inbox, _append = make_inbox([a_message(i) for i in range(5)])
        first = inbox.fetch(limit=2)
        stored = first[-1].cursor.dump()
        assert _bodies(inbox.fetch(InboxCursor.parse(stored))) == _expected(range(2, 5))

    def test_after_the_last_message_nothing_until_one_arrives(
        self, make_inbox: InboxFactory
    ) -> None:
        inbox, append = make_inbox([a_message(i) for i in range(3)])
        got = _drain(inbox)
        assert inbox.fetch(got[-1].cursor) == []
        append(a_message(40))
        later = inbox.fetch(got[-1].cursor)
        assert _bodies(later) == _expected([40])
        assert later[0].source_id not in {m.source_id for m in got}
        assert inbox.fetch(later[-1].cursor) == []

    def test_reading_consumes_nothing(self, make_inbox: InboxFactory) -> None:
        inbox, _append = make_inbox([a_message(i) for i in range(4)])
        first = _drain(inbox, limit=2)
        again = _drain(inbox, limit=10)
        assert _bodies(again) == _bodies(first) == _expected(range(4))
        assert [m.source_id for m in again] == [m.source_id for m in first]
        assert [m.cursor for m in again] == [m.cursor for m in first]

    def test_a_closed_inbox_opens_again_on_fetch(self, make_inbox: InboxFactory) -> None:
        inbox, _append = make_inbox([a_message(1)])
        assert _bodies(inbox.fetch()) == _expected([1])
        inbox.close()
        inbox.close()  # closing twice is harmless
        assert _bodies(inbox.fetch()) == _expected([1])

    def test_a_message_is_handed_out_byte_for_byte(self, make_inbox: InboxFactory) -> None:
        raw = (
            "From: =?utf-8?q?J=C3=B6rg?= <j@acme.example.nl>\r\nMessage-ID: <x@acme.example.nl>\r\n"
            "Subject: bytes\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße, Jörg\r\n"
        ).encode()
        inbox, _append = make_inbox([raw])
        assert _bodies(inbox.fetch()) == [normalised(raw)]

    @pytest.mark.parametrize("limit", [0, -1, 10_001, True, 2.5, "3"])
    def test_bad_limits_are_refused(self, make_inbox: InboxFactory, limit: Any) -> None:
        inbox, _append = make_inbox([a_message(1)])
        with pytest.raises(InvalidInput):
            inbox.fetch(limit=limit)

    def test_a_cursor_no_inbox_of_this_kind_writes_is_refused(
        self, make_inbox: InboxFactory
    ) -> None:
        inbox, _append = make_inbox([a_message(1)])
        for bad in ["inbox-cursor/1 folder a.eml", 3]:
            with pytest.raises(InvalidInput):
                inbox.fetch(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            inbox.fetch(InboxCursor("another-kind-of-inbox", "x"))
