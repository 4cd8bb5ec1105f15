"""Outgoing e-mail: building messages and recording them in the outbox (W3, W4, X4).

A service that sends e-mail never talks to a mail server. It builds an
``email.message.EmailMessage`` (:func:`build_email`, :func:`invitation_email`)
and records it with :func:`outbox_message_for_email` in the same unit of work
as the state change. The outbox dispatcher delivers it after the commit,
through the installation's :class:`~crm_procedures.ports.Mailer`, retrying
with the same Message-ID until the mailer accepts it.

The message is stored complete (``payload["message"]`` is its RFC 5322 text,
Message-ID included) so that a retry sends exactly the same bytes, and a
mailer that remembers Message-IDs can drop a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage

from crm_procedures.adapters.ical import (
    EmailCalendar,
    invitation_email,
    invitation_ics,
    invitation_key,
)
from crm_procedures.adapters.mime import (
    SMTP_POLICY,
    Attachment,
    Recipient,
    build_email,
    check_header,
    envelope_of,
    message_id_for,
)
from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import require_aware
from crm_procedures.model.outbox import OutboxMessage

__all__ = [
    "MAIL_CHANNEL",
    "SMTP_POLICY",
    "Attachment",
    "EmailCalendar",
    "Recipient",
    "build_email",
    "check_header",
    "invitation_email",
    "invitation_ics",
    "invitation_key",
    "message_id_for",
    "outbox_message_for_email",
]

MAIL_CHANNEL = "mail"
"""The outbox channel the dispatcher hands to the Mailer."""


def outbox_message_for_email(
    msg: EmailMessage,
    key: str,
    now: datetime,
    new_id: Callable[[], str],
    *,
    due_at: datetime | None = None,
) -> OutboxMessage:
    """The outbox record that delivers ``msg``: channel ``"mail"``.

    The payload is ``{"message": text, "recipients": [addresses]}``: the RFC
    5322 text and the envelope (To, Cc and Bcc of ``msg`` as built), so the
    dispatcher delivers to exactly these addresses.

    ``key`` is the idempotency key the message's Message-ID was derived from
    (the outbox ignores a second message with the same key). ``due_at``
    defaults to ``now``.

    Raises:
        InvalidInput: ``msg`` has no Message-ID or no recipient, ``key`` is
            empty, or ``now`` is naive.
    """
    require_aware(now, "now")
    if not isinstance(key, str) or not key:
        raise InvalidInput("key", "must be a non-empty text", key)
    if not msg.get("Message-ID"):
        raise InvalidInput(
            "message", "has no Message-ID (build it with build_email, which derives one)", None
        )
    if not envelope_of(msg):
        raise InvalidInput("message", "has no recipient in To, Cc or Bcc", None)
    return OutboxMessage(
        id=new_id(),
        key=key,
        channel=MAIL_CHANNEL,
        # The envelope is stored with the text, read from the header objects as
        # built (never re-parsed from the text: see envelope_of).
        payload={"message": msg.as_string(), "recipients": envelope_of(msg)},
        created_at=now,
        due_at=due_at or now,
    )
