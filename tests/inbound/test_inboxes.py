"""The inbox adapters against real files and a real IMAP server (pymap).

Every adapter passes the shipped :class:`InboxContract`; what only one adapter
promises (name order, Maildir layout, UIDVALIDITY, logins) is tested below it.
"""

from __future__ import annotations

import itertools
import mailbox
from pathlib import Path
from typing import Any

import pytest

from crm_procedures.adapters.imap import ImapInbox
from crm_procedures.adapters.inbox_folder import FolderInbox
from crm_procedures.errors import InboxUnavailable, InvalidInput
from crm_procedures.inbound.cursor import InboundMessage, InboxCursor
from crm_procedures.ports import Inbox
from crm_procedures.testing.contracts import InboxContract
from crm_procedures.testing.contracts.inbox import InboxAppend, InboxFactory
from crm_procedures.testing.contracts.inbox import a_message as message
from inbound.conftest import IMAP_PASSWORD, IMAP_USER, ImapClient

_boxes = itertools.count(1)


def drain(inbox: Any, after: InboxCursor | None = None, limit: int = 3) -> list[InboundMessage]:
    """Every message after ``after``, fetched ``limit`` at a time, each cursor round-tripped."""
    out: list[InboundMessage] = []
    while batch := inbox.fetch(after, limit=limit):
        assert len(batch) <= limit
        out.extend(batch)
        after = InboxCursor.parse(batch[-1].cursor.dump())
    return out


def test_cursor_round_trips_and_refuses_other_text() -> None:
    cursor = InboxCursor("12345", "67")
    assert InboxCursor.parse(cursor.dump()) == cursor
    for bad in ["", "12345 67", "inbox-cursor/1 a b c", "inbox-cursor/1 a\tb x"]:
        with pytest.raises(InvalidInput):
            InboxCursor.parse(bad)
    with pytest.raises(InvalidInput):
        InboxCursor("has space", "1")


# -- the contract, on every adapter ---------------------------------------------------------


class TestMaildirInbox(InboxContract):
    @pytest.fixture
    def crm_contract_inbox(self, tmp_path: Path) -> InboxFactory:
        def make(messages: list[bytes]) -> tuple[Inbox, InboxAppend]:
            path = tmp_path / f"maildir-{next(_boxes)}"
            box = mailbox.Maildir(path, create=True)
            for raw in messages:
                box.add(raw)

            def append(raw: bytes) -> None:
                box.add(raw)

            inbox = FolderInbox(path)
            assert inbox.is_maildir
            return inbox, append

        return make


class TestEmlFolderInbox(InboxContract):
    @pytest.fixture
    def crm_contract_inbox(self, tmp_path: Path) -> InboxFactory:
        def make(messages: list[bytes]) -> tuple[Inbox, InboxAppend]:
            path = tmp_path / f"eml-{next(_boxes)}"
            path.mkdir()
            names = itertools.count(1)

            def append(raw: bytes) -> None:
                # Names grow with arrival, as the adapter asks; 9 < 10 in its natural order.
                (path / f"msg-{next(names)}.eml").write_bytes(raw)

            for raw in messages:
                append(raw)
            return FolderInbox(path), append

        return make


class TestImapInbox(InboxContract):
    @pytest.fixture
    def crm_contract_inbox(
        self, imap_server: tuple[str, int], imap_client: ImapClient
    ) -> InboxFactory:
        def make(messages: list[bytes]) -> tuple[Inbox, InboxAppend]:
            name = f"Contract{next(_boxes)}"
            imap_client.recreate(name)
            for raw in messages:
                imap_client.append(name, raw)

            def append(raw: bytes) -> None:
                imap_client.append(name, raw)

            return imap_inbox(imap_server, name), append

        return make


# -- folders --------------------------------------------------------------------------------


def test_eml_folder_reads_in_natural_order_and_resumes(tmp_path: Path) -> None:
    for i in (10, 2, 1, 33, 9):
        (tmp_path / f"msg-{i}.eml").write_bytes(message(i))
    (tmp_path / "notes.txt").write_text("not a message")
    inbox = FolderInbox(tmp_path)
    got = drain(inbox, limit=2)
    assert [m.source_id for m in got] == [f"msg-{i}.eml" for i in (1, 2, 9, 10, 33)]
    assert got[0].raw == message(1)
    (tmp_path / "msg-40.eml").write_bytes(message(40))
    assert [m.source_id for m in inbox.fetch(got[-1].cursor)] == ["msg-40.eml"]


def test_eml_folder_names_with_spaces_and_accents_make_valid_cursors(tmp_path: Path) -> None:
    (tmp_path / "Ré ponse 1.eml").write_bytes(message(1))
    (tmp_path / "Ré ponse 2.eml").write_bytes(message(2))
    inbox = FolderInbox(tmp_path)
    first = inbox.fetch(limit=1)
    again = inbox.fetch(InboxCursor.parse(first[0].cursor.dump()))
    assert [m.source_id for m in again] == ["Ré ponse 2.eml"]


def test_maildir_reads_new_and_cur_without_moving_anything(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    keys = [box.add(message(i)) for i in range(5)]
    box.lock()
    box.close()
    inbox = FolderInbox(tmp_path / "mail")
    assert inbox.is_maildir
    got = drain(inbox, limit=2)
    assert sorted(m.source_id for m in got) == sorted(keys)
    assert sorted(m.raw for m in got) == sorted(message(i) for i in range(5))
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 5
    assert inbox.fetch(got[-1].cursor) == []


def test_missing_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(InboxUnavailable):
        FolderInbox(tmp_path / "nope").fetch()


def test_a_cursor_of_another_inbox_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        FolderInbox(tmp_path).fetch(InboxCursor("2555503052", "101"))


# -- IMAP (a real pymap server) --------------------------------------------------------------


def imap_inbox(server: tuple[str, int], mailbox_name: str, **kw: Any) -> ImapInbox:
    host, port = server
    return ImapInbox(
        host, IMAP_USER, IMAP_PASSWORD, port=port, mailbox=mailbox_name, ssl=False, **kw
    )


def test_imap_reads_by_uid_and_resumes(
    imap_server: tuple[str, int], imap_client: ImapClient
) -> None:
    imap_client.recreate("Resume")
    for i in range(7):
        imap_client.append("Resume", message(i))
    with imap_inbox(imap_server, "Resume") as inbox:
        got = drain(inbox, limit=3)
        assert [m.raw.replace(b"\r\n", b"\n") for m in got] == [
            message(i).replace(b"\r\n", b"\n") for i in range(7)
        ]
        uids = [int(m.cursor.position) for m in got]
        assert uids == sorted(uids)
        assert {m.cursor.epoch for m in got} == {got[0].source_id.split(":")[0]}
        # "UID n:*" matches the last message even past the end: it is not returned again.
        assert inbox.fetch(got[-1].cursor) == []
        imap_client.append("Resume", message(7))
        assert [m.raw.count(b"m7@") for m in inbox.fetch(got[-1].cursor)] == [1]


def test_imap_does_not_mark_messages_seen(
    imap_server: tuple[str, int], imap_client: ImapClient
) -> None:
    imap_client.recreate("Peek")
    imap_client.append("Peek", message(1))
    with imap_inbox(imap_server, "Peek") as inbox:
        assert len(inbox.fetch()) == 1
    imap_client.conn.select("Peek")
    status, data = imap_client.conn.uid("SEARCH", "UNSEEN")
    assert status == "OK"
    assert data[0].split()


def test_imap_uidvalidity_change_reads_again_from_the_beginning(
    imap_server: tuple[str, int], imap_client: ImapClient
) -> None:
    imap_client.recreate("Renumbered")
    for i in range(3):
        imap_client.append("Renumbered", message(i))
    with imap_inbox(imap_server, "Renumbered") as inbox:
        before = drain(inbox)
        imap_client.recreate("Renumbered")
        imap_client.append("Renumbered", message(9))
        after = inbox.fetch(before[-1].cursor)
    assert len(after) == 1
    assert b"m9@" in after[0].raw
    assert after[0].cursor.epoch != before[-1].cursor.epoch


def test_imap_bad_login_is_unavailable_and_names_no_password(
    imap_server: tuple[str, int],
) -> None:
    host, port = imap_server
    inbox = ImapInbox(host, IMAP_USER, "wrong-secret", port=port, ssl=False)
    with pytest.raises(InboxUnavailable) as caught:
        inbox.fetch()
    assert "wrong-secret" not in str(caught.value)


def test_imap_missing_mailbox_and_closed_port_are_unavailable(
    imap_server: tuple[str, int],
) -> None:
    with pytest.raises(InboxUnavailable):
        imap_inbox(imap_server, "No such box").fetch()
    with pytest.raises(InboxUnavailable):
        ImapInbox("127.0.0.1", "u", "p", port=1, ssl=False, timeout=2).fetch()


def test_imap_refuses_a_folder_cursor_and_bad_settings(imap_server: tuple[str, int]) -> None:
    with pytest.raises(InvalidInput):
        imap_inbox(imap_server, "INBOX").fetch(InboxCursor("folder", "a.eml"))
    with pytest.raises(InvalidInput):
        ImapInbox("h", "u", "p\r\nA1 LOGOUT")
    with pytest.raises(InvalidInput):
        ImapInbox("h", "u", "p", mailbox='x" y')
    with pytest.raises(InvalidInput):
        ImapInbox("h", "u", "p", port=70_000)
