"""What a step would send, shown to the user before it goes (no I/O, no storage)."""

from __future__ import annotations

import attrs

from crm_procedures.model.outbox import OutboxMessage

__all__ = ["EmailPreview", "StepPreview"]


@attrs.frozen
class EmailPreview:
    """An e-mail as its recipient would read it.

    Attributes:
        key: the outbox idempotency key it would be recorded under.
        sender: the From header.
        recipients: the To (and Cc) addresses.
        subject: the subject line.
        text: the plain-text body.
        html: the HTML alternative, or ``None``.
        attachments: ``(file name, MIME type)`` of each attachment or
            calendar part.
        reply_to: the Reply-To header, or ``None``.
    """

    key: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[tuple[str, str], ...] = ()
    reply_to: str | None = None


@attrs.frozen
class StepPreview:
    """What performing a step would send, computed without storing anything.

    Attributes:
        step: the step's key.
        emails: the e-mails it would send (recipients, subject, text, HTML,
            attachments), in order; an invitation is one of them.
        messages: every outbox message it would record (any channel).
    """

    step: str
    emails: tuple[EmailPreview, ...] = ()
    messages: tuple[OutboxMessage, ...] = ()

    @property
    def email(self) -> EmailPreview | None:
        """The first e-mail, or ``None`` when the step sends none."""
        return self.emails[0] if self.emails else None
