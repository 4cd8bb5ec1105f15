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

import mimetypes
from collections.abc import Callable
from datetime import datetime
from email import policy as _policy
from email.message import EmailMessage
from email.parser import Parser
from typing import TYPE_CHECKING

from crm_procedures.errors import AttachmentMissing, InvalidInput, TemplateError
from crm_procedures.formats.ical import (
    EmailCalendar,
    invitation_email,
    invitation_ics,
    invitation_key,
)
from crm_procedures.formats.mime import (
    SMTP_POLICY,
    Attachment,
    Recipient,
    build_email,
    check_header,
    envelope_of,
    message_id_for,
)
from crm_procedures.model._checks import require_aware
from crm_procedures.model.outbox import OutboxMessage
from crm_procedures.ports import BlobStore, UnitOfWork
from crm_procedures.procedures.templates import (
    EmailTemplate,
    check_template,
    render,
    template_values,
)
from crm_procedures.services.previews import EmailPreview

if TYPE_CHECKING:
    from crm_procedures.services.step_kinds import StepContext

__all__ = [
    "MAIL_CHANNEL",
    "SMTP_POLICY",
    "Attachment",
    "EmailCalendar",
    "EmailPreview",
    "Recipient",
    "build_email",
    "check_header",
    "edited_template",
    "email_preview",
    "invitation_email",
    "invitation_ics",
    "invitation_key",
    "message_id_for",
    "outbox_message_for_email",
    "step_email",
    "template_attachments",
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


def edited_template(
    template: EmailTemplate, subject: str | None, text: str | None
) -> EmailTemplate:
    """``template`` with the user's edited ``subject`` and/or ``text``, checked like any template.

    The edits may use the same ``{{fields}}``. An edited text replaces the
    HTML alternative too (the e-mail goes as plain text), so the two parts
    never say different things.

    Raises:
        InvalidInput: ``subject`` or ``text`` is not text.
        TemplateError: the edited template has a problem validation would
            report (unknown field, malformed braces, an empty subject or one
            with a line break).
    """
    if subject is None and text is None:
        return template
    for name, value in (("subject", subject), ("text", text)):
        if value is not None and not isinstance(value, str):
            raise InvalidInput(name, "must be text", value)
    edited = EmailTemplate(
        template.key,
        template.subject if subject is None else subject,
        template.text if text is None else text,
        template.html if text is None else None,
        template.language,
        template.variants,
        template.attachments,
    )
    findings = check_template(edited)
    if findings:
        raise TemplateError(
            template.key, "the edited e-mail: " + "; ".join(f.message for f in findings)
        )
    return edited


def step_email(ctx: StepContext, key: str) -> EmailMessage:
    """The e-mail a send-e-mail step sends: its template rendered for the prospect's contact.

    From is the installation (``CrmApp(sender_name=..., sender_email=...)``),
    Reply-To the acting user when they have an address. ``{{sender.*}}`` is
    the acting user, ``{{organisation.*}}`` the installation. The template's
    variant in the contact's language is used (in the installation's
    language when the contact has none recorded; the template's default
    language when it has no such variant). The user's edits
    (``ctx.inputs.subject`` / ``text``) replace the chosen variant's. The
    template's attachments are read from the blob store.

    Raises:
        InvalidInput: the step has no template, the prospect no contact person,
            or the contact no e-mail address.
        TemplateError: an edit that does not pass the template checks, or
            attachments without a blob store.
        AttachmentMissing: an attached document, or its content, is missing.
    """
    step = ctx.step
    if step.template is None:
        raise InvalidInput("template", f"step {step.key!r} sends an e-mail but names no template")
    if ctx.prospect.contact_id is None:
        raise InvalidInput(
            "contact_id",
            f"step {step.key!r} sends an e-mail, but prospect {ctx.prospect.id} has no contact "
            "person; set one first",
        )
    contact = ctx.uow.contacts.get(ctx.prospect.contact_id)
    if not contact.email:
        raise InvalidInput(
            "contact.email",
            f"contact {contact.full_name} has no e-mail address; step {step.key!r} cannot "
            "send its e-mail",
        )
    services = ctx.services
    sender = ctx.uow.users.find(ctx.actor)
    sender_name = sender.name if sender else ""
    sender_email = (sender.email or "") if sender else ""
    chosen = ctx.definitions.template(step.template).in_language(
        contact.language or services.language
    )
    template = edited_template(chosen, ctx.inputs.subject, ctx.inputs.text)
    attachments = template_attachments(ctx.uow, services.blobs, template)
    values = template_values(
        contact,
        ctx.relation(),
        ctx.project,
        sender_name,
        sender_email,
        language=template.language,
        organisation_name=services.sender_name,
        organisation_email=services.sender_email,
        country=services.country,
    )
    rendered = render(template, values)
    return build_email(
        sender=(services.sender_name, services.sender_email),
        to=(contact.full_name, contact.email),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        key=key,
        date=ctx.now,
        reply_to=(sender_name, sender_email) if sender_email else None,
        attachments=attachments,
    )


def template_attachments(
    uow: UnitOfWork, blobs: BlobStore | None, template: EmailTemplate
) -> list[Attachment]:
    """The files ``template`` attaches, read from the blob store.

    A reference by document takes the document's name and media type (unless
    the template names others) and its content by the document's digest.

    Raises:
        AttachmentMissing: a referenced document does not exist, or its
            content (or the content of a digest) is not in the blob store.
        TemplateError: the template attaches files but the installation has
            no blob store (``CrmApp(blobs=...)``).
    """
    if not template.attachments:
        return []
    if blobs is None:
        raise TemplateError(
            template.key,
            "it attaches documents, but the installation has no blob store; "
            "give CrmApp(blobs=...) (or Context(blobs=...))",
        )
    out: list[Attachment] = []
    for ref in template.attachments:
        filename, mime_type = ref.filename, ref.mime_type
        if ref.document is not None:
            document = uow.documents.find(ref.document)
            if document is None:
                raise AttachmentMissing(template.key, "document", ref.document)
            digest = document.sha256
            filename = filename or document.name
            mime_type = mime_type or document.media_type
        else:
            digest = ref.digest or ""
        if not digest or not blobs.exists(digest):
            raise AttachmentMissing(template.key, "blob", digest, filename)
        out.append(Attachment(filename, blobs.get(digest), mime_type or _guess(filename)))
    return out


def _guess(filename: str) -> str:
    guessed, _encoding = mimetypes.guess_type(filename, strict=True)
    return guessed or "application/octet-stream"


def email_preview(message: OutboxMessage) -> EmailPreview | None:
    """The e-mail a ``mail``-channel outbox message holds; ``None`` for another channel."""
    if message.channel != MAIL_CHANNEL or not isinstance(message.payload.get("message"), str):
        return None
    parsed = Parser(policy=_policy.default).parsestr(message.payload["message"])
    assert isinstance(parsed, EmailMessage)
    recipients: list[str] = []
    for header in ("To", "Cc"):
        value = parsed.get(header)
        if value is not None:
            recipients.extend(a.addr_spec for a in value.addresses)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    attachments: list[tuple[str, str]] = []
    for part in parsed.walk():
        if part.is_multipart() or part in (text_part, html_part):
            continue
        attachments.append((part.get_filename() or "", part.get_content_type()))
    reply_to = parsed.get("Reply-To")
    return EmailPreview(
        key=message.key,
        sender=str(parsed.get("From", "")),
        recipients=tuple(recipients),
        subject=str(parsed.get("Subject", "")),
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else None,
        attachments=tuple(attachments),
        reply_to=str(reply_to) if reply_to is not None else None,
    )
