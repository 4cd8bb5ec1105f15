"""MemoryMailer, MemoryCalendar, FolderMailer, FolderCalendar and EmailCalendar."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.adapters.files import (
    FolderCalendar,
    FolderMailer,
    safe_file_name,
    uid_file_name,
)
from crm_procedures.adapters.memory_mail import MemoryCalendar, MemoryMailer
from crm_procedures.errors import DeliveryError, InvalidInput
from crm_procedures.formats.ical import EmailCalendar
from crm_procedures.model.appointment import AppointmentStatus
from crm_procedures.services.messages import build_email, invitation_email

from .test_invitation_ics import STAMP, appointment

SENDER = ("Acme CRM", "crm@crm.example.com")


def a_message(key: str = "k-1") -> email.message.EmailMessage:
    return build_email(
        sender=SENDER,
        to=["jan@acme.example.nl"],
        subject="Hello",
        text="Hi\n",
        key=key,
        date=STAMP,
    )


def test_memory_mailer_delivers_a_message_id_once() -> None:
    mailer = MemoryMailer()
    mailer.send(a_message())
    mailer.send(a_message())
    mailer.send(a_message("k-2"))
    assert len(mailer.sent) == 2
    assert mailer.duplicates == 1
    assert len(mailer.to("jan@acme.example.nl")) == 2


def test_memory_mailer_fails_when_told_and_then_recovers() -> None:
    mailer = MemoryMailer()
    mailer.fail_next(2)
    mailer.fail_next(1, permanent=True)
    outcomes = []
    for _ in range(4):
        try:
            mailer.send(a_message())
            outcomes.append("sent")
        except DeliveryError as exc:
            outcomes.append("permanent" if exc.permanent else "temporary")
    assert outcomes == ["temporary", "temporary", "permanent", "sent"]
    assert len(mailer.sent) == 1


def test_memory_mailer_failure_rate_is_reproducible() -> None:
    def run() -> list[bool]:
        mailer = MemoryMailer(failure_rate=0.5, seed=7)
        results = []
        for i in range(40):
            try:
                mailer.send(a_message(f"k-{i}"))
                results.append(True)
            except DeliveryError:
                results.append(False)
        return results

    first = run()
    assert first == run()
    assert 5 < first.count(False) < 35
    with pytest.raises(InvalidInput):
        MemoryMailer(failure_rate=1.5)


def test_memory_mailer_refuses_a_message_without_id() -> None:
    msg = email.message.EmailMessage()
    msg["Subject"] = "no id"
    with pytest.raises(InvalidInput):
        MemoryMailer().send(msg)


def test_memory_calendar_ignores_older_or_equal_sequence() -> None:
    cal = MemoryCalendar()
    cal.publish(appointment(sequence=1, title="v1"))
    cal.publish(appointment(sequence=1, title="v1 again"))
    cal.publish(appointment(sequence=0, title="v0 late"))
    assert cal.events["a-1@crm.example.com"].title == "v1"
    assert cal.ignored == 2
    cal.publish(appointment(sequence=2, title="v2"))
    assert cal.events["a-1@crm.example.com"].title == "v2"


def test_memory_calendar_cancel_wins_at_the_same_sequence_but_not_older() -> None:
    cal = MemoryCalendar()
    cal.publish(appointment(sequence=3))
    cal.cancel(appointment(sequence=2))
    assert not cal.events["a-1@crm.example.com"].cancelled
    cal.cancel(appointment(sequence=3))
    assert cal.events["a-1@crm.example.com"].status is AppointmentStatus.CANCELLED
    assert cal.active() == []


def test_folder_mailer_writes_one_eml_per_message_id(tmp_path: Path) -> None:
    mailer = FolderMailer(tmp_path / "out")
    msg = a_message()
    mailer.send(msg)
    mailer.send(a_message())
    (path,) = mailer.files()
    assert path.name == uid_file_name(msg["Message-ID"].strip()[1:-1]) + ".eml"
    assert path.name.endswith("@crm.example.com.eml")  # the usual ids keep a readable name
    assert "<" not in path.name
    assert ">" not in path.name
    raw = path.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert email.message_from_bytes(raw, policy=policy.default)["Message-ID"] == msg["Message-ID"]
    assert not list((tmp_path / "out").glob(".tmp-*"))


def test_defect_17_two_message_ids_never_share_an_eml_file(tmp_path: Path) -> None:
    mailer = FolderMailer(tmp_path / "out")
    for mid in ("<a/b@x>", "<a_b@x>", "<a%2Fb@x>", "<A_b@x>", "<..@x>"):
        message = a_message()
        message.replace_header("Message-ID", mid)
        mailer.send(message)
    names = [p.name for p in mailer.files()]
    assert len(names) == 5
    assert all(p.parent == tmp_path / "out" for p in mailer.files())
    assert {"a%2Fb@x.eml", "a_b@x.eml", "a%252%46b@x.eml", "%41_b@x.eml"} <= set(names)


@given(st.text(min_size=1), st.text(min_size=1))
def test_defect_17_folder_mailer_file_names_are_one_to_one(first: str, second: str) -> None:
    mailer = FolderMailer.__new__(FolderMailer)
    mailer.folder = Path("out")
    a, b = mailer.path_for(f"<{first}>"), mailer.path_for(f"<{second}>")
    assert (a == b) == (first.strip() == second.strip() or first == second)
    assert a.parent == Path("out")


def test_safe_file_name_cannot_escape_the_folder() -> None:
    assert safe_file_name("<../../etc/passwd@x>") == "_.._.._etc_passwd@x"
    assert "/" not in safe_file_name("a/b\\c")
    assert safe_file_name("..").startswith("_")


def test_folder_calendar_replaces_on_higher_sequence_and_writes_cancel(tmp_path: Path) -> None:
    cal = FolderCalendar(tmp_path, clock=lambda: STAMP)
    cal.publish(appointment(sequence=0, title="First"))
    path = cal.path_for("a-1@crm.example.com")
    assert b"SUMMARY:First\r\n" in path.read_bytes()
    cal.publish(appointment(sequence=0, title="Same sequence, ignored"))
    assert b"SUMMARY:First\r\n" in path.read_bytes()
    cal.publish(appointment(sequence=1, title="Moved"))
    assert b"SUMMARY:Moved\r\n" in path.read_bytes()
    assert cal.held("a-1@crm.example.com") == (1, False)
    cal.cancel(appointment(sequence=2, status=AppointmentStatus.CANCELLED))
    data = path.read_bytes()
    assert b"METHOD:CANCEL\r\n" in data
    assert b"STATUS:CANCELLED\r\n" in data
    assert cal.held("a-1@crm.example.com") == (2, True)
    cal.publish(appointment(sequence=1, title="Late update"))
    assert b"METHOD:CANCEL\r\n" in path.read_bytes()
    assert [p.name for p in cal.files()] == ["a-1@crm.example.com.ics"]


def test_email_calendar_sends_request_then_cancel_once_each() -> None:
    mailer = MemoryMailer()
    cal = EmailCalendar(
        mailer, SENDER, extra_recipients=["anna@crm.example.com"], clock=lambda: STAMP
    )
    cal.publish(appointment())
    cal.publish(appointment())
    cal.cancel(appointment(sequence=1, status=AppointmentStatus.CANCELLED))
    assert len(mailer.sent) == 2
    request, cancel = mailer.sent
    assert mailer.to("anna@crm.example.com") == [request, cancel]
    methods = [
        next(p for p in m.walk() if p.get_content_type() == "text/calendar").get_param("method")
        for m in mailer.sent
    ]
    assert methods == ["REQUEST", "CANCEL"]


def test_email_calendar_passes_delivery_errors_on_and_retries() -> None:
    mailer = MemoryMailer()
    mailer.fail_next(1)
    cal = EmailCalendar(mailer, SENDER, clock=lambda: datetime(2026, 3, 1, tzinfo=UTC))
    with pytest.raises(DeliveryError):
        cal.publish(appointment())
    cal.publish(appointment())
    assert len(mailer.sent) == 1


def test_folder_mailer_and_invitation_together(tmp_path: Path) -> None:
    mailer = FolderMailer(tmp_path)
    mailer.send(invitation_email(appointment(), sender=SENDER, date=STAMP))
    (path,) = mailer.files()
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_filename() == "invite.ics"
