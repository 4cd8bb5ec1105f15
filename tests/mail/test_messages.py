"""Building e-mails: Message-ID from the outbox key, header injection refused."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

import pytest

from crm_procedures.errors import InvalidInput
from crm_procedures.formats.mime import Attachment
from crm_procedures.model.outbox import OutboxStatus
from crm_procedures.services.messages import (
    build_email,
    invitation_email,
    message_id_for,
    outbox_message_for_email,
)

from .test_invitation_ics import STAMP, appointment

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def body(parsed: email.message.EmailMessage, kind: str) -> str:
    """The decoded text of the body part of ``kind`` (line endings as in Python)."""
    part = parsed.get_body((kind,))
    assert part is not None
    text: str = part.get_content()
    return text.replace("\r\n", "\n")


def simple(**fields: object) -> email.message.EmailMessage:
    values: dict[str, object] = {
        "sender": ("Acme CRM", "crm@crm.example.com"),
        "to": [("Jan de Vries", "jan@acme.example.nl")],
        "subject": "Your information pack",
        "text": "Dear Mr De Vries,\n\nAs promised.\n",
        "key": "prospect-7:send-info:1",
        "date": WHEN,
    }
    values.update(fields)
    return build_email(**values)  # type: ignore[arg-type]


def test_message_id_is_derived_from_the_key_and_stable() -> None:
    a, b = simple(), simple()
    assert a["Message-ID"] == b["Message-ID"]
    assert a["Message-ID"] == message_id_for("prospect-7:send-info:1", "crm@crm.example.com")
    assert a["Message-ID"].endswith("@crm.example.com>")
    assert simple(key="prospect-7:send-info:2")["Message-ID"] != a["Message-ID"]
    assert a.as_string() == b.as_string()


def test_headers_and_body_are_as_given() -> None:
    msg = simple(html="<p>As promised.</p>", headers={"Auto-Submitted": "auto-generated"})
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed["From"] == "Acme CRM <crm@crm.example.com>"
    assert parsed["To"] == "Jan de Vries <jan@acme.example.nl>"
    assert parsed["Subject"] == "Your information pack"
    assert parsed["Date"].datetime == WHEN
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert body(parsed, "plain") == "Dear Mr De Vries,\n\nAs promised.\n"
    assert body(parsed, "html").strip() == "<p>As promised.</p>"


def test_lines_end_in_crlf_on_the_wire() -> None:
    raw = simple(text="één\ntwee\n").as_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_non_ascii_names_and_text_are_encoded() -> None:
    msg = simple(
        to=[("Paweł Żółć", "pawel@firma.example.pl")],
        subject="Zażółć gęślą jaźń",
        text="Dzień dobry\n",
    )
    raw = msg.as_bytes()
    assert raw.isascii()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Zażółć gęślą jaźń"
    assert parsed["To"].addresses[0].display_name == "Paweł Żółć"
    assert body(parsed, "plain") == "Dzień dobry\n"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Hello\r\nBcc: victim@x.example"),
        ("subject", "Hello\nBcc: victim@x.example"),
        ("subject", "Hello\rBcc: victim@x.example"),
        ("subject", "Null\x00byte"),
        ("subject", "Line\u2028separator"),
        ("to", [("Jan\r\nBcc: victim@x.example", "jan@acme.example.nl")]),
        ("to", ["jan@acme.example.nl\r\nBcc: victim@x.example"]),
        ("sender", ("CRM\nX-Evil: 1", "crm@crm.example.com")),
        ("headers", {"X-Note": "ok\r\nBcc: victim@x.example"}),
        ("headers", {"Bcc": "victim@x.example"}),
        ("headers", {"X-Evil\r\nBcc": "victim@x.example"}),
    ],
)
def test_header_injection_is_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        simple(**{field: value})
    assert info.value.field is not None
    assert info.value.field.startswith(field)


def test_invalid_addresses_and_naive_dates_are_refused() -> None:
    with pytest.raises(InvalidInput):
        simple(to=["not-an-address"])
    with pytest.raises(InvalidInput):
        simple(to=[])
    with pytest.raises(InvalidInput):
        simple(date=datetime(2026, 3, 2, 9, 30))


def test_attachment_is_carried_with_its_file_name() -> None:
    msg = simple(attachments=[Attachment("offer.pdf", b"%PDF-1.4 fake", "application/pdf")])
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    (part,) = list(parsed.iter_attachments())
    assert part.get_filename() == "offer.pdf"
    assert part.get_content() == b"%PDF-1.4 fake"
    with pytest.raises(InvalidInput):
        Attachment("evil\r\n.pdf", b"x", "application/pdf")


def test_outbox_message_carries_the_full_message_with_its_id() -> None:
    msg = simple()
    ids = iter(["m-1"])
    record = outbox_message_for_email(msg, "prospect-7:send-info:1", WHEN, lambda: next(ids))
    assert record.id == "m-1"
    assert record.key == "prospect-7:send-info:1"
    assert record.channel == "mail"
    assert record.status is OutboxStatus.PENDING
    assert record.due_at == WHEN
    again = email.message_from_string(record.payload["message"], policy=policy.SMTP)
    assert again["Message-ID"] == msg["Message-ID"]
    assert again["Subject"] == "Your information pack"


def test_invitation_email_has_calendar_alternative_and_ics_attachment() -> None:
    msg = invitation_email(appointment(), sender=("Acme CRM", "crm@crm.example.com"), date=STAMP)
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    alternative = next(p for p in parsed.walk() if p.get_content_type() == "multipart/alternative")
    kinds = [p.get_content_type() for p in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/calendar"]
    calendar_part = list(alternative.iter_parts())[1]
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_content_charset() == "utf-8"
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_type() == "application/ics"
    ics = attachment.get_content()
    assert ics == calendar_part.get_payload(decode=True)
    assert b"UID:a-1@crm.example.com\r\n" in ics
    assert parsed["To"] == "Jan de Vries <jan@acme.example.nl>"
    # The stdlib may fold right after "Subject:"; readers drop the leading blank.
    subject = str(parsed["Subject"]).strip()
    assert subject.startswith("Invitation: Product demo @ Tue 10 Mar 2026 10:00-11:00")


def test_invitation_message_id_follows_uid_and_sequence() -> None:
    sender = ("Acme CRM", "crm@crm.example.com")
    first = invitation_email(appointment(), sender=sender, date=STAMP)
    retry = invitation_email(appointment(), sender=sender, date=STAMP)
    update = invitation_email(appointment(sequence=1), sender=sender, date=STAMP)
    cancel = invitation_email(appointment(sequence=1), sender=sender, date=STAMP, method="CANCEL")
    assert first["Message-ID"] == retry["Message-ID"]
    ids = {first["Message-ID"], update["Message-ID"], cancel["Message-ID"]}
    assert len(ids) == 3
    assert str(cancel["Subject"]).strip().startswith("Cancelled: ")
    assert str(update["Subject"]).strip().startswith("Updated invitation: ")


def test_invitation_without_attendees_is_refused() -> None:
    with pytest.raises(InvalidInput):
        invitation_email(
            appointment(attendees=()), sender=("Acme CRM", "crm@crm.example.com"), date=STAMP
        )
