"""Templates in several languages and with attachments, through the services (issue 17)."""

from __future__ import annotations

import hashlib
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures import (
    AttachmentMissing,
    Contact,
    DefinitionError,
    Definitions,
    Document,
    InvalidInput,
    TemplateError,
    dump_definitions,
    load_definitions,
    standard_definitions,
)
from crm_procedures.adapters.blobs import MemoryBlobStore
from crm_procedures.procedures.templates import (
    EmailTemplate,
    TemplateAttachment,
    TemplateVariant,
    check_template,
)
from crm_procedures.services import campaigns
from integration.campaign import Campaign, snapshot
from integration.test_campaigns import parse, walk

BROCHURE = b"%PDF-1.4 a brochure about heat pumps\n"
DIGEST = hashlib.sha256(BROCHURE).hexdigest()


def with_info(**template: Any) -> Definitions:
    """The standard definitions with the ``info`` template's keys replaced by ``template``."""
    data = dump_definitions(standard_definitions())
    data["templates"]["info"].update(template)
    return load_definitions(data)


def use(c: Campaign, definitions: Definitions) -> None:
    """Run the campaign ``c`` on ``definitions``: a new campaign with acme released."""
    c.ctx.definitions = definitions
    c.project = campaigns.start_campaign(
        c.ctx, "pia", relation_id="client", name="Variants", procedure="standard"
    )
    (acme,) = campaigns.add_prospects(c.ctx, "pia", c.project.id, [("acme", "c-acme")])
    campaigns.release(c.ctx, "pia", c.project.id)
    c.acme = acme.id


def set_language(c: Campaign, language: str | None) -> None:
    with c.store.unit_of_work() as uow:
        contact = uow.contacts.get("c-acme")
        uow.contacts.save(attrs.evolve(contact, language=language))
        uow.commit()


DUTCH = {
    "subject": "Informatie over {{project.name}}",
    "text": "{{contact.salutation}},\n\nHierbij de informatie.\n",
}
POLISH = {"subject": "Informacja o {{project.name}}", "text": "{{contact.salutation}},\n"}


def sent_info(c: Campaign) -> Any:
    walk(c, "call")
    c.clock.advance(minutes=1)
    campaigns.perform_step(c.ctx, "ann", c.acme, "send_info", role="marketeer")
    with c.store.unit_of_work() as uow:
        (message,) = uow.outbox.list()[-1:]
    return parse(message.payload["message"])


# -- 1. languages ---------------------------------------------------------------------------------


def test_contact_language_is_optional_and_validated() -> None:
    assert Contact(id="c", relation_id="r", last_name="X").language is None
    assert Contact(id="c", relation_id="r", last_name="X", language="nl").language == "nl"
    for bad in ("NL", "dutch", "n", "", 7):
        with pytest.raises(InvalidInput, match="ISO 639-1"):
            Contact(id="c", relation_id="r", last_name="X", language=bad)  # type: ignore[arg-type]


def test_contacts_language_picks_the_variant(campaign: Campaign) -> None:
    c = campaign
    use(c, with_info(variants={"nl": DUTCH, "pl": POLISH}))
    set_language(c, "nl")
    msg = sent_info(c)
    assert msg["Subject"] == "Informatie over Variants"
    assert msg.get_body(("plain",)).get_content().startswith("Geachte Jan de Vries,")


def test_unknown_language_falls_back_to_the_templates_default(campaign: Campaign) -> None:
    c = campaign
    use(c, with_info(variants={"nl": DUTCH}))
    set_language(c, "de")
    msg = sent_info(c)
    assert msg["Subject"] == "Information about Variants"


def test_contact_without_language_gets_the_installations_language(campaign: Campaign) -> None:
    c = campaign
    use(c, with_info(variants={"pl": POLISH}))
    c.ctx.language = "pl"
    msg = sent_info(c)
    assert msg["Subject"] == "Informacja o Variants"


def test_the_default_language_may_be_given_as_a_variant() -> None:
    data = dump_definitions(standard_definitions())
    data["templates"]["info"] = {"language": "nl", "variants": {"nl": DUTCH, "pl": POLISH}}
    template = load_definitions(data).template("info")
    assert template.language == "nl"
    assert template.subject == DUTCH["subject"]
    assert list(template.variants) == ["pl"]


def test_defect_variant_missing_the_default_language_is_reported() -> None:
    data = dump_definitions(standard_definitions())
    data["templates"]["info"] = {"language": "en", "variants": {"nl": DUTCH}}
    with pytest.raises(DefinitionError) as info:
        load_definitions(data)
    codes = {f.code: f for f in info.value.findings}
    assert "template-default-missing" in codes
    assert codes["template-default-missing"].location == "templates.info"
    assert "'en'" in codes["template-default-missing"].message


def test_validation_checks_every_variant() -> None:
    template = EmailTemplate(
        "info",
        "Fine",
        "fine",
        variants={
            "nl": TemplateVariant("Hallo\r\nBcc: x@example.com", "{{contact.nope}}"),
            "pl": TemplateVariant("Tab\there", "ok\x00", "<p>{{oops</p>"),
            "EN": TemplateVariant("x", "y"),
            "en": TemplateVariant("x", "y"),
        },
    )
    found = {(f.code, f.location) for f in check_template(template)}
    assert ("template-subject-line-break", "templates.info.variants.nl.subject") in found
    assert ("template-unknown-field", "templates.info.variants.nl.text") in found
    assert ("template-subject-control", "templates.info.variants.pl.subject") in found
    assert ("template-control-character", "templates.info.variants.pl.text") in found
    assert ("template-syntax", "templates.info.variants.pl.html") in found
    assert ("template-language", "templates.info.variants.EN") in found
    assert ("template-language", "templates.info.variants.en") in found


def test_variant_tables_report_unknown_keys_and_missing_text() -> None:
    data = dump_definitions(standard_definitions())
    data["templates"]["info"]["variants"] = {"nl": {"subject": "x", "txt": "y"}}
    with pytest.raises(DefinitionError) as info:
        load_definitions(data)
    locations = {(f.code, f.location) for f in info.value.findings}
    assert ("unknown-key", "templates.info.variants.nl.txt") in locations
    assert ("missing-key", "templates.info.variants.nl.text") in locations


languages = st.text("abcdefgh", min_size=2, max_size=2)
content = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@given(
    st.dictionaries(languages, st.builds(TemplateVariant, content, content, st.none() | content)),
    st.lists(
        st.builds(
            TemplateAttachment,
            st.none() | st.text(min_size=1, max_size=8),
            st.none() | st.just(DIGEST),
            st.text(max_size=12),
            st.sampled_from(["", "application/pdf"]),
        ),
        max_size=3,
    ),
)
def test_variants_and_attachments_dump_and_load_back_in_toml_shape(
    variants: dict[str, TemplateVariant], attachments: list[TemplateAttachment]
) -> None:
    template = EmailTemplate("info", "s", "t", None, "zz", variants, attachments)
    defs = attrs.evolve(standard_definitions(), templates=[template])
    data = dump_definitions(defs)
    assert load_definitions(data, validate=False) == defs


# -- 2. attachments -------------------------------------------------------------------------------


def brochure_campaign(c: Campaign, reference: dict[str, str]) -> MemoryBlobStore:
    blobs = MemoryBlobStore()
    c.ctx.blobs = blobs
    use(c, with_info(attachments=[reference]))
    return blobs


def test_send_info_attaches_the_brochure_by_document(campaign: Campaign) -> None:
    c = campaign
    blobs = brochure_campaign(c, {"document": "doc-brochure"})
    digest = blobs.put(BROCHURE)
    with c.store.unit_of_work() as uow:
        uow.documents.add(
            Document(
                id="doc-brochure",
                owner_kind="project",
                owner_id=c.project.id,
                name="Heat pumps.pdf",
                media_type="application/pdf",
                size=len(BROCHURE),
                sha256=digest,
            )
        )
        uow.commit()
    walk(c, "call")
    preview = campaigns.preview_step(c.ctx, "ann", c.acme, "send_info", role="marketeer")
    assert preview.email is not None
    assert preview.email.attachments == (("Heat pumps.pdf", "application/pdf"),)
    c.clock.advance(minutes=1)
    campaigns.perform_step(c.ctx, "ann", c.acme, "send_info", role="marketeer")
    with c.store.unit_of_work() as uow:
        message = uow.outbox.list()[-1]
    (part,) = list(parse(message.payload["message"]).iter_attachments())
    assert part.get_filename() == "Heat pumps.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == BROCHURE


def test_send_info_attaches_a_blob_by_digest(campaign: Campaign) -> None:
    c = campaign
    blobs = brochure_campaign(c, {"digest": DIGEST, "filename": "brochure.pdf"})
    blobs.put(BROCHURE)
    msg = sent_info(c)
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "brochure.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == BROCHURE


@pytest.mark.parametrize(
    ("reference", "kind"),
    [({"digest": DIGEST, "filename": "brochure.pdf"}, "blob"), ({"document": "nope"}, "document")],
)
def test_defect_missing_attachment_is_named_and_nothing_is_stored(
    campaign: Campaign, reference: dict[str, str], kind: str
) -> None:
    c = campaign
    brochure_campaign(c, reference)
    walk(c, "call")
    before = snapshot(c.store, c.project.id)
    with pytest.raises(AttachmentMissing, match="attaches a document") as info:
        campaigns.perform_step(c.ctx, "ann", c.acme, "send_info", role="marketeer")
    assert info.value.kind == kind
    assert info.value.template == "info"
    with pytest.raises(AttachmentMissing):
        campaigns.preview_step(c.ctx, "ann", c.acme, "send_info", role="marketeer")
    assert snapshot(c.store, c.project.id) == before


def test_attachments_without_a_blob_store_are_a_template_error(campaign: Campaign) -> None:
    c = campaign
    brochure_campaign(c, {"digest": DIGEST, "filename": "brochure.pdf"})
    c.ctx.blobs = None
    walk(c, "call")
    before = snapshot(c.store, c.project.id)
    with pytest.raises(TemplateError, match="no blob store"):
        campaigns.perform_step(c.ctx, "ann", c.acme, "send_info", role="marketeer")
    assert snapshot(c.store, c.project.id) == before


@pytest.mark.parametrize(
    ("reference", "fragment"),
    [
        ({}, "exactly one of document"),
        ({"document": "d", "digest": DIGEST, "filename": "a.pdf"}, "exactly one of document"),
        ({"digest": "abc", "filename": "a.pdf"}, "not a SHA-256 digest"),
        ({"digest": DIGEST}, "needs a filename"),
        ({"document": "d", "filename": "a\r\nb.pdf"}, "control character"),
        ({"document": "d", "filename": "../etc/passwd"}, "plain file name"),
        ({"document": "d", "mime_type": "pdf"}, "must look like"),
    ],
)
def test_validation_checks_the_attachment_reference_shape(
    reference: dict[str, str], fragment: str
) -> None:
    data = dump_definitions(standard_definitions())
    data["templates"]["info"]["attachments"] = [reference]
    with pytest.raises(DefinitionError, match=fragment) as info:
        load_definitions(data)
    assert {f.location for f in info.value.findings} == {"templates.info.attachments[0]"}


def test_attachments_must_be_a_list_of_tables() -> None:
    data = dump_definitions(standard_definitions())
    data["templates"]["info"]["attachments"] = "brochure.pdf"
    with pytest.raises(DefinitionError, match="expected a list of tables"):
        load_definitions(data)
