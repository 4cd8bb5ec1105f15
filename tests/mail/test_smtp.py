"""SmtpMailer against a real SMTP server (aiosmtpd on 127.0.0.1) and failing ones."""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Iterator
from email import policy

import pytest

from crm_procedures.adapters.smtp import SmtpMailer
from crm_procedures.errors import DeliveryError, InvalidInput
from crm_procedures.services.messages import invitation_email

from .conftest import RecordingHandler, free_port
from .test_invitation_ics import STAMP, appointment

SENDER = ("Acme CRM", "crm@crm.example.com")


def test_invitation_arrives_complete(smtp_server: tuple[RecordingHandler, int]) -> None:
    handler, port = smtp_server
    msg = invitation_email(appointment(), sender=SENDER, date=STAMP)
    SmtpMailer("127.0.0.1", port, timeout=5).send(msg)

    (envelope,) = handler.envelopes
    assert envelope.mail_from == "crm@crm.example.com"
    assert envelope.rcpt_tos == ["jan@acme.example.nl"]
    received = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert received["Message-ID"] == msg["Message-ID"]
    assert received["From"] == "Acme CRM <crm@crm.example.com>"
    assert received["To"] == "Jan de Vries <jan@acme.example.nl>"
    assert "Product demo" in str(received["Subject"])
    plain = received.get_body(("plain",))
    assert plain is not None
    assert "When: Tue 10 Mar 2026 10:00-11:00 (Europe/Amsterdam)" in plain.get_content()
    calendar = next(p for p in received.walk() if p.get_content_type() == "text/calendar")
    assert calendar.get_param("method") == "REQUEST"
    ics = calendar.get_payload(decode=True)
    assert b"METHOD:REQUEST\r\n" in ics
    assert b"UID:a-1@crm.example.com\r\n" in ics
    assert b"DTSTART;TZID=Europe/Amsterdam:20260310T100000\r\n" in ics
    (attachment,) = list(received.iter_attachments())
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == ics


def test_cancellation_arrives_with_same_uid(smtp_server: tuple[RecordingHandler, int]) -> None:
    handler, port = smtp_server
    mailer = SmtpMailer("127.0.0.1", port, timeout=5)
    mailer.send(invitation_email(appointment(), sender=SENDER, date=STAMP))
    mailer.send(
        invitation_email(appointment(sequence=1), sender=SENDER, date=STAMP, method="CANCEL")
    )
    first, second = (
        email.message_from_bytes(e.original_content, policy=policy.default)
        for e in handler.envelopes
    )
    assert first["Message-ID"] != second["Message-ID"]
    ics = next(p for p in second.walk() if p.get_content_type() == "text/calendar")
    data = ics.get_payload(decode=True)
    assert b"METHOD:CANCEL\r\n" in data
    assert b"STATUS:CANCELLED\r\n" in data
    assert b"UID:a-1@crm.example.com\r\n" in data
    assert b"SEQUENCE:1\r\n" in data


@pytest.fixture
def failing_server(request: pytest.FixtureRequest) -> Iterator[int]:
    from aiosmtpd.controller import Controller

    data_reply, rcpt_reply = request.param
    port = free_port()
    controller = Controller(
        RecordingHandler(data_reply=data_reply, rcpt_reply=rcpt_reply),
        hostname="127.0.0.1",
        port=port,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.mark.parametrize(
    ("failing_server", "permanent"),
    [
        (("451 4.3.0 Try again later", None), False),
        (("550 5.7.1 Message refused", None), True),
        (("250 OK", "450 4.2.1 Mailbox busy"), False),
        (("250 OK", "550 5.1.1 No such user"), True),
    ],
    indirect=["failing_server"],
)
def test_server_replies_map_to_temporary_or_permanent(failing_server: int, permanent: bool) -> None:
    msg = invitation_email(appointment(), sender=SENDER, date=STAMP)
    with pytest.raises(DeliveryError) as info:
        SmtpMailer("127.0.0.1", failing_server, timeout=5).send(msg)
    assert info.value.permanent is permanent


def test_connection_refused_is_temporary() -> None:
    port = free_port()  # nothing listens there
    msg = invitation_email(appointment(), sender=SENDER, date=STAMP)
    with pytest.raises(DeliveryError) as info:
        SmtpMailer("127.0.0.1", port, timeout=2).send(msg)
    assert info.value.permanent is False
    assert "cannot reach" in str(info.value)


def test_server_that_never_answers_times_out_temporarily() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    accepted: list[socket.socket] = []

    def accept() -> None:
        conn, _ = silent.accept()
        accepted.append(conn)  # keep it open and say nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        msg = invitation_email(appointment(), sender=SENDER, date=STAMP)
        with pytest.raises(DeliveryError) as info:
            SmtpMailer("127.0.0.1", silent.getsockname()[1], timeout=0.5).send(msg)
        assert info.value.permanent is False
        assert "did not answer in time" in str(info.value)
    finally:
        thread.join(timeout=2)
        for conn in accepted:
            conn.close()
        silent.close()


def test_settings_are_checked_and_password_is_not_shown() -> None:
    with pytest.raises(InvalidInput):
        SmtpMailer("smtp.example.com", 465, ssl=True, starttls=True)
    with pytest.raises(InvalidInput):
        SmtpMailer("smtp.example.com", 70000)
    with pytest.raises(InvalidInput):
        SmtpMailer("smtp.example.com", 587, password="secret")
    mailer = SmtpMailer("smtp.example.com", 587, starttls=True, username="u", password="secret")
    assert "secret" not in repr(mailer)


def test_starttls_not_offered_is_permanent(smtp_server: tuple[RecordingHandler, int]) -> None:
    _, port = smtp_server
    msg = invitation_email(appointment(), sender=SENDER, date=STAMP)
    with pytest.raises(DeliveryError) as info:
        SmtpMailer("127.0.0.1", port, starttls=True, timeout=5).send(msg)
    assert info.value.permanent is True
