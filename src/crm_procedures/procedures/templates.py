"""E-mail templates (W4): data with whitelisted placeholders, never code.

A template is text with placeholders written ``{{contact.first_name}}``
(spaces inside the braces are allowed: ``{{ contact.first_name }}``). Only the
names in :data:`TEMPLATE_FIELDS` exist; there is no attribute walking, no
expression and no filter, so ``{{contact.__class__}}`` is simply an unknown
field. ``{{`` always opens a placeholder and ``}}`` always closes one; single
braces are ordinary text (CSS in HTML bodies keeps working).

Rendering fills the values in as given for the plain-text body and the
subject, HTML-escapes them for the HTML body, and refuses a subject that would
contain a line break (a header injection).

A template may have variants in other languages (:class:`TemplateVariant`);
:meth:`EmailTemplate.in_language` picks the one for a contact. It may attach
documents from the blob store (:class:`TemplateAttachment`).
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType

import attrs

from crm_procedures.errors import Finding, InvalidInput, TemplateError
from crm_procedures.model._checks import LANGUAGE_CODE, shown
from crm_procedures.model.appointment import Appointment
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.project import Project
from crm_procedures.model.relation import Relation
from crm_procedures.policies.addresses import address_block

__all__ = [
    "MAX_BODY",
    "MAX_SUBJECT",
    "TEMPLATE_FIELDS",
    "EmailTemplate",
    "RenderedEmail",
    "TemplateAttachment",
    "TemplateVariant",
    "check_attachment",
    "check_template",
    "placeholders",
    "render",
    "template_values",
]

TEMPLATE_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "contact.first_name": "the contact's first name",
        "contact.last_name": "the contact's last name (without prefix)",
        "contact.full_name": "first name (or initials), prefix and last name",
        "contact.initials": "the contact's initials",
        "contact.name_prefix": "the name prefix, such as 'van der'",
        "contact.salutation": "a salutation in the template's language ('Dear Ms Jansen')",
        "contact.email": "the contact's e-mail address",
        "relation.name": "the relation's (company's) name",
        "relation.city": "the city of the relation's first address",
        "relation.address": (
            "the relation's first address as a letter's address block: one line each, "
            "laid out for its country (not for a subject)"
        ),
        "project.name": "the project's name",
        "project.description": "the project's description",
        "sender.name": "the acting user's name (who performs the step)",
        "sender.email": "the acting user's e-mail address (empty when none is stored)",
        "organisation.name": "the installation's name (CrmApp(sender_name=...))",
        "organisation.email": "the installation's address (CrmApp(sender_email=...))",
        "appointment.start": "start, 'YYYY-MM-DD HH:MM Zone', in the appointment's own zone",
        "appointment.end": "end, 'YYYY-MM-DD HH:MM Zone', in the appointment's own zone",
        "appointment.date": "the start date, 'YYYY-MM-DD'",
        "appointment.time": "the start time, 'HH:MM'",
        "appointment.location": "where the appointment takes place",
        "appointment.title": "the appointment's title",
    }
)
"""Every placeholder a template may use, with what it holds."""

MULTI_LINE_FIELDS: frozenset[str] = frozenset({"relation.address"})
"""Fields whose value has several lines: a subject may not use them."""

_TOKEN = re.compile(r"\{\{|\}\}")
_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x85]")
# What a header refuses besides line breaks: every other C0 control (TAB
# included), DEL, and lone surrogates (no encoding can write them).
_SUBJECT_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# What a body refuses: control characters other than TAB, LF and CR, and lone surrogates.
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

MAX_SUBJECT = 1_000
"""The longest template subject, in characters (before values are filled in)."""
MAX_BODY = 1_000_000
"""The longest template text or HTML body, in characters."""


@attrs.frozen(slots=True)
class TemplateVariant:
    """A template's content in one more language: subject, text and optional HTML."""

    subject: str
    text: str
    html: str | None = None


_DIGEST = re.compile(r"[0-9a-f]{64}")
_MIME_TYPE = re.compile(r"[a-z0-9.+-]+/[a-z0-9.+-]+")


@attrs.frozen(slots=True)
class TemplateAttachment:
    """A document an e-mail template attaches, from the blob store.

    Give exactly one of ``document`` (the id of a stored
    :class:`~crm_procedures.model.document.Document`, whose name and media
    type are used unless ``filename`` / ``mime_type`` say otherwise) or
    ``digest`` (the SHA-256 hex digest of the content in the blob store; then
    ``filename`` is required). The shape is checked by :func:`check_template`;
    whether the content exists is checked when the e-mail is built.
    """

    document: str | None = None
    digest: str | None = None
    filename: str = ""
    mime_type: str = ""


def _variants(value: Mapping[str, TemplateVariant]) -> dict[str, TemplateVariant]:
    return dict(sorted(dict(value).items()))


def _attachments(value: Iterable[TemplateAttachment]) -> tuple[TemplateAttachment, ...]:
    return tuple(value)


@attrs.frozen(slots=True)
class EmailTemplate:
    """An e-mail template (W4).

    ``subject``, ``text`` (the plain-text body) and ``html`` (an optional HTML
    alternative) are the content in the template's default ``language`` (an
    ISO 639-1 code; ``en``, ``nl`` and ``pl`` also have salutation wording).
    ``variants`` holds the content in further languages, keyed by language
    code; ``attachments`` the documents every variant carries.
    """

    key: str
    subject: str
    text: str
    html: str | None = None
    language: str = "en"
    variants: Mapping[str, TemplateVariant] = attrs.field(
        factory=dict, converter=_variants, hash=False
    )
    attachments: tuple[TemplateAttachment, ...] = attrs.field(default=(), converter=_attachments)

    @property
    def languages(self) -> tuple[str, ...]:
        """The default language, then every variant's, in order."""
        return (self.language, *(lang for lang in self.variants if lang != self.language))

    def in_language(self, *preferred: str | None) -> EmailTemplate:
        """This template in the first of ``preferred`` it has a variant for (the default otherwise).

        The result has that variant's content as its own, its language as
        ``language`` (which words the salutation) and no further variants.
        ``None`` entries are skipped. The attachments stay.
        """
        for language in preferred:
            if language is None:
                continue
            if language == self.language:
                break
            variant = self.variants.get(language)
            if variant is not None:
                return EmailTemplate(
                    self.key,
                    variant.subject,
                    variant.text,
                    variant.html,
                    language,
                    attachments=self.attachments,
                )
        if not self.variants:
            return self
        return EmailTemplate(
            self.key,
            self.subject,
            self.text,
            self.html,
            self.language,
            attachments=self.attachments,
        )


@attrs.frozen(slots=True)
class RenderedEmail:
    """A template with its values filled in, ready for the mailer."""

    subject: str
    text: str
    html: str | None = None


def _parse(source: str, key: str) -> list[tuple[bool, str]]:
    """Split ``source`` into (is_placeholder, text) parts. Raises TemplateError."""
    parts: list[tuple[bool, str]] = []
    pos = 0
    opened = -1
    for m in _TOKEN.finditer(source):
        if m.group() == "{{":
            if opened >= 0:
                raise TemplateError(
                    key, f"'{{{{' at offset {m.start()} opens a placeholder inside another one"
                )
            parts.append((False, source[pos : m.start()]))
            opened = m.end()
        else:
            if opened < 0:
                raise TemplateError(key, f"'}}}}' at offset {m.start()} closes nothing")
            inner = source[opened : m.start()]
            name = _NAME.fullmatch(inner)
            if name is None:
                raise TemplateError(
                    key,
                    f"{{{{{inner}}}}} is not a placeholder; write a field name such as "
                    "{{contact.first_name}}",
                    inner,
                )
            parts.append((True, name.group(1)))
            opened = -1
            pos = m.end()
    if opened >= 0:
        raise TemplateError(key, f"'{{{{' at offset {opened - 2} is never closed with '}}}}'")
    parts.append((False, source[pos:]))
    return parts


def placeholders(source: str, key: str = "") -> list[str]:
    """The placeholder names used in ``source``, in order of first use.

    Raises:
        TemplateError: the braces are malformed (an unclosed ``{{``, a stray
            ``}}``, or something between them that is not a field name).
    """
    seen: dict[str, None] = {}
    for is_name, text in _parse(source, key):
        if is_name:
            seen.setdefault(text, None)
    return list(seen)


def check_template(template: EmailTemplate) -> list[Finding]:
    """Every problem of ``template`` as findings (empty when it is fine).

    The default content and every variant are checked alike (a variant's
    locations read ``templates.<key>.variants.<language>.subject``).

    Codes: ``template-syntax`` (malformed braces), ``template-unknown-field``
    (a placeholder outside :data:`TEMPLATE_FIELDS`), ``template-subject-line-break``
    (a CR, LF or other line separator in the subject), ``template-subject-control``
    (a TAB, NUL, ESC, DEL or other control character, or a lone surrogate, in
    the subject: a mail header refuses them), ``template-control-character`` (a
    control character other than TAB, LF and CR, or a lone surrogate, in the
    text or HTML body), ``template-too-long`` (a subject over :data:`MAX_SUBJECT`
    or a body over :data:`MAX_BODY` characters), ``template-empty-subject``,
    ``template-language`` (a language that is not an ISO 639-1 code, or a
    variant in the default language, which the template's own content is),
    ``template-attachment`` (an attachment that names neither or both of a
    document and a digest, a malformed digest, a digest without a file name,
    a malformed file name or MIME type).
    """
    findings: list[Finding] = []
    base = f"templates.{template.key}"
    if not isinstance(template.language, str) or not LANGUAGE_CODE.fullmatch(template.language):
        findings.append(
            Finding(
                "template-language",
                f"{shown(template.language)} is not an ISO 639-1 language code; write two "
                "lower-case letters such as 'en' or 'nl'",
                f"{base}.language",
            )
        )
    _check_content(findings, template.key, base, template.subject, template.text, template.html)
    for language, variant in template.variants.items():
        where = f"{base}.variants.{language}"
        if not LANGUAGE_CODE.fullmatch(language):
            findings.append(
                Finding(
                    "template-language",
                    f"variant {shown(language)} is not an ISO 639-1 language code; write "
                    "two lower-case letters such as 'en' or 'nl'",
                    where,
                )
            )
        elif language == template.language:
            findings.append(
                Finding(
                    "template-language",
                    f"{language!r} is the template's default language, whose content is the "
                    "template's own subject and text; remove the variant or change 'language'",
                    where,
                )
            )
        _check_content(findings, template.key, where, variant.subject, variant.text, variant.html)
    for i, attachment in enumerate(template.attachments):
        findings.extend(check_attachment(attachment, f"{base}.attachments[{i}]"))
    return findings


def check_attachment(attachment: TemplateAttachment, where: str) -> list[Finding]:
    """The shape problems of one attachment reference (code ``template-attachment``)."""
    problems: list[str] = []
    document, digest = attachment.document, attachment.digest
    if (document is None) == (digest is None):
        problems.append(
            "name exactly one of document (a document id) or digest (a SHA-256 hex digest)"
        )
    if document is not None and (
        not isinstance(document, str) or not document.strip() or _LINE_BREAK.search(document)
    ):
        problems.append(f"document {shown(document)} is not a document id")
    if digest is not None:
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            problems.append(
                f"digest {shown(digest)} is not a SHA-256 digest (64 lower-case hex digits)"
            )
        if not attachment.filename:
            problems.append("an attachment by digest needs a filename, such as 'brochure.pdf'")
    filename = attachment.filename
    if (
        not isinstance(filename, str)
        or _SUBJECT_CONTROL.search(filename)
        or (_LINE_BREAK.search(filename))
    ):
        problems.append(f"filename {shown(filename)} contains a control character")
    elif filename and (not filename.strip() or "/" in filename or "\\" in filename):
        problems.append(f"filename {shown(filename)} must be a plain file name")
    mime = attachment.mime_type
    if not isinstance(mime, str) or (mime and not _MIME_TYPE.fullmatch(mime)):
        problems.append(f"mime_type {shown(mime)} must look like 'application/pdf'")
    return [Finding("template-attachment", p, where) for p in problems]


def _check_content(
    findings: list[Finding],
    key: str,
    base: str,
    subject: str,
    text: str,
    html: str | None,
) -> None:
    if not subject.strip():
        findings.append(
            Finding("template-empty-subject", "the subject is empty", f"{base}.subject")
        )
    if _LINE_BREAK.search(subject):
        findings.append(
            Finding(
                "template-subject-line-break",
                "the subject contains a line break; a subject is one line",
                f"{base}.subject",
            )
        )
    bad = _SUBJECT_CONTROL.search(subject)
    if bad:
        findings.append(
            Finding(
                "template-subject-control",
                f"the subject contains the control character U+{ord(bad.group()):04X} at "
                f"offset {bad.start()}; a mail header refuses tabs and control characters",
                f"{base}.subject",
            )
        )
    if len(subject) > MAX_SUBJECT:
        findings.append(
            Finding(
                "template-too-long",
                f"the subject has {len(subject)} characters; at most {MAX_SUBJECT} are allowed",
                f"{base}.subject",
            )
        )
    for part, body in (("text", text), ("html", html)):
        if body is None:
            continue
        bad = _BODY_CONTROL.search(body)
        if bad:
            findings.append(
                Finding(
                    "template-control-character",
                    f"the {part} contains the control character U+{ord(bad.group()):04X} at "
                    f"offset {bad.start()}; only tab and line breaks are allowed",
                    f"{base}.{part}",
                )
            )
        if len(body) > MAX_BODY:
            findings.append(
                Finding(
                    "template-too-long",
                    f"the {part} has {len(body)} characters; at most {MAX_BODY} are allowed",
                    f"{base}.{part}",
                )
            )
    for part, source in (("subject", subject), ("text", text), ("html", html)):
        if source is None:
            continue
        try:
            names = placeholders(source, key)
        except TemplateError as exc:
            findings.append(Finding("template-syntax", exc.reason, f"{base}.{part}"))
            continue
        for name in names:
            if part == "subject" and name in MULTI_LINE_FIELDS:
                findings.append(
                    Finding(
                        "template-subject-line-break",
                        f"{{{{{name}}}}} has several lines; a subject is one line, so use it "
                        "in the text or HTML body",
                        f"{base}.subject",
                    )
                )
            if name not in TEMPLATE_FIELDS:
                findings.append(
                    Finding(
                        "template-unknown-field",
                        f"{{{{{name}}}}} is not a template field; known fields: "
                        + ", ".join(TEMPLATE_FIELDS),
                        f"{base}.{part}",
                    )
                )


def _fill(source: str, key: str, values: Mapping[str, str], escape: bool) -> str:
    out: list[str] = []
    for is_name, text in _parse(source, key):
        if not is_name:
            out.append(text)
            continue
        if text not in TEMPLATE_FIELDS:
            raise TemplateError(key, f"{{{{{text}}}}} is not a template field", text)
        value = values.get(text, "")
        if not isinstance(value, str):
            raise TemplateError(key, f"the value for {{{{{text}}}}} is not text", text)
        out.append(_html.escape(value, quote=True) if escape else value)
    return "".join(out)


def render(template: EmailTemplate, values: Mapping[str, str]) -> RenderedEmail:
    """Fill ``values`` (field name -> text) into ``template``.

    A field missing from ``values`` renders as empty text. Values go into the
    subject and text body as given and HTML-escaped into the HTML body.

    Raises:
        TemplateError: malformed braces, a placeholder that is not in
            :data:`TEMPLATE_FIELDS`, a value that is not text, or a subject that
            would contain a line break (CR or LF) once filled in.
    """
    subject = _fill(template.subject, template.key, values, escape=False)
    if _LINE_BREAK.search(subject):
        raise TemplateError(
            template.key, "the rendered subject contains a line break; header values are one line"
        )
    text = _fill(template.text, template.key, values, escape=False)
    body_html = (
        None if template.html is None else _fill(template.html, template.key, values, escape=True)
    )
    return RenderedEmail(subject, text, body_html)


_SALUTATIONS: Mapping[str, Mapping[Gender | None, str]] = {
    "en": {Gender.FEMALE: "Dear Ms {name}", Gender.MALE: "Dear Mr {name}", None: "Dear {full}"},
    "nl": {
        Gender.FEMALE: "Geachte mevrouw {name}",
        Gender.MALE: "Geachte heer {name}",
        None: "Geachte {full}",
    },
    "pl": {Gender.FEMALE: "Szanowna Pani", Gender.MALE: "Szanowny Panie", None: "Szanowni Państwo"},
}


def _salutation(contact: Contact, language: str) -> str:
    forms = _SALUTATIONS.get(language, _SALUTATIONS["en"])
    form = forms.get(contact.gender, forms[None])
    prefix = contact.name_prefix
    if prefix and language == "nl":
        # Dutch capitalises the prefix when no first name or initials precede it.
        prefix = prefix[:1].upper() + prefix[1:]
    name = " ".join(p for p in (prefix, contact.last_name) if p)
    return form.format(name=name, full=contact.full_name)


def _when(value: datetime) -> str:
    zone = getattr(value.tzinfo, "key", None) or value.tzname() or ""
    return f"{value:%Y-%m-%d %H:%M} {zone}".strip()


_ADDRESS_LANGUAGES = ("en", "nl", "pl")
"""The languages in which an address block names a foreign country."""


def _address(relation: Relation, country: str, language: str) -> str:
    """The relation's first address as an address block, or empty text when it has none.

    An address the formatter refuses (a stored postcode that does not fit its
    country, an unknown installation country) is written as stored, one line
    each, rather than holding up the e-mail.
    """
    if not relation.addresses:
        return ""
    address = relation.addresses[0]
    lang = language if language in _ADDRESS_LANGUAGES else "en"
    try:
        lines = address_block(address, sender_country=country, language=lang)
    except InvalidInput:
        place = " ".join(p for p in (address.postcode, address.city) if p)
        lines = [line for line in (address.street, place) if line]
    return "\n".join(lines)


def template_values(
    contact: Contact,
    relation: Relation,
    project: Project,
    sender_name: str,
    sender_email: str,
    appointment: Appointment | None = None,
    language: str = "en",
    *,
    organisation_name: str = "",
    organisation_email: str = "",
    country: str = "NL",
) -> dict[str, str]:
    """The values of every field in :data:`TEMPLATE_FIELDS` for one e-mail.

    ``country`` is where the installation is (ISO 3166 alpha-2): an address
    block (``{{relation.address}}``, see
    :func:`~crm_procedures.policies.addresses.address_block`) to another
    country ends with that country's name in the template's language.

    ``sender_name`` and ``sender_email`` are the acting user's (``{{sender.*}}``);
    ``organisation_name`` and ``organisation_email`` the installation's
    (``{{organisation.*}}``, the From of step e-mails).

    Appointment fields are empty without an appointment; its times are shown
    in the appointment's own time zone (the zone it was made in), not the
    server's. ``language`` picks the salutation wording (en, nl, pl; others
    fall back to English).
    """
    city = relation.addresses[0].city if relation.addresses else ""
    values = {
        "contact.first_name": contact.first_name,
        "contact.last_name": contact.last_name,
        "contact.full_name": contact.full_name,
        "contact.initials": contact.initials,
        "contact.name_prefix": contact.name_prefix,
        "contact.salutation": _salutation(contact, language),
        "contact.email": contact.email or "",
        "relation.name": relation.name,
        "relation.city": city,
        "relation.address": _address(relation, country, language),
        "project.name": project.name,
        "project.description": project.description,
        "sender.name": sender_name,
        "sender.email": sender_email,
        "organisation.name": organisation_name,
        "organisation.email": organisation_email,
        "appointment.start": "",
        "appointment.end": "",
        "appointment.date": "",
        "appointment.time": "",
        "appointment.location": "",
        "appointment.title": "",
    }
    if appointment is not None:
        values["appointment.start"] = _when(appointment.start)
        values["appointment.end"] = _when(appointment.end)
        values["appointment.date"] = f"{appointment.start:%Y-%m-%d}"
        values["appointment.time"] = f"{appointment.start:%H:%M}"
        values["appointment.location"] = appointment.location
        values["appointment.title"] = appointment.title
    return values
