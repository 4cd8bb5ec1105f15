"""Outbox messages for the tests: small e-mails keyed ``msg-<n>@crm.test``."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from crm_procedures.model.outbox import OutboxMessage

AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=AMS)


def mail_text(key: str) -> str:
    """A small e-mail whose Message-ID the dispatcher derives from the outbox key."""
    message = EmailMessage()
    message["From"] = "crm@example.com"
    message["To"] = "jan@example.com"
    message["Subject"] = f"Information {key}"
    message.set_content("Hello Jan,\n\nhere is the information.\n")
    return message.as_string()


def a_message(
    n: int,
    *,
    channel: str = "mail",
    created_at: datetime | None = T0,
    due_at: datetime | None = None,
    key: str | None = None,
) -> OutboxMessage:
    key = key or f"msg-{n}@crm.test"
    return OutboxMessage(
        id=f"m{n:04d}",
        key=key,
        channel=channel,
        payload={"message": mail_text(key)},
        created_at=created_at,
        due_at=due_at,
    )
