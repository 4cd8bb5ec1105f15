"""``crm-procedures inbox``: applying a folder of received mail to the store."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from cli.conftest import Database
from cli.test_cli import perform_send_info, run
from crm_procedures import open_store
from crm_procedures.inbound.samples import bounce_of
from crm_procedures.services.inbound import inbound_of, is_suppressed


def test_inbox_applies_a_bounce_once_from_a_folder(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    perform_send_info(database)
    store = open_store(database.url)
    try:
        with store.unit_of_work() as uow:
            (message,) = uow.outbox.list()
            assert inbound_of(uow).inbound.address("jan@acme.example.nl") is None
    finally:
        store.close()
    sent = email.message_from_string(message.payload["message"], policy=policy.default)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "1.eml").write_bytes(
        bounce_of(
            str(sent["Message-ID"]),
            recipient="jan@acme.example.nl",
            to="campaigns@example.com",
            message_id="<dsn@mail.example.com>",
            date=message.created_at or sent["Date"].datetime,
        )
    )
    code, out, err = run(capsys, "inbox", "--db", database.url, "--folder", str(folder))
    assert (code, err) == (0, "")
    assert out == "fetched 1, applied 1, already 0, kept 0, events 1\n"
    code, out, _ = run(capsys, "inbox", "--db", database.url, "--folder", str(folder))
    assert (code, out) == (0, "fetched 0, applied 0, already 0, kept 0, events 0\n")
    store = open_store(database.url)
    try:
        with store.unit_of_work() as uow:
            assert is_suppressed(uow, "jan@acme.example.nl")
    finally:
        store.close()


def test_inbox_refuses_a_malformed_imap_url(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "inbox", "--db", database.url, "--imap", "http://x")
    assert (code, out) == (2, "")
    assert "imaps://user@host" in err
