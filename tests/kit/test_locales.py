"""Labels and messages in English, Dutch and Polish (X8)."""

from __future__ import annotations

import pytest

from crm_procedures.errors import (
    AccessDenied,
    ActivityFrozen,
    ConcurrencyConflict,
    CrmError,
    DefinitionError,
    DeliveryError,
    Finding,
    InvalidInput,
    NotFound,
    ProspectClosed,
    ProspectNotReleased,
    RuleViolation,
    TemplateError,
    TransitionNotAllowed,
)
from crm_procedures.locales import (
    BUILTIN_DICTIONARIES,
    LANGUAGES,
    builtin_dictionaries,
    catalogue,
    error_message,
    label,
    message,
    placeholders,
)
from crm_procedures.model.activity import ActivityKind
from crm_procedures.model.prospect import ProspectStatus, RelationStage


def test_every_key_exists_in_every_language() -> None:
    keys = {lang: set(catalogue(lang)) for lang in LANGUAGES}
    for lang in LANGUAGES:
        assert keys[lang] == keys["en"], (
            f"{lang}: missing {sorted(keys['en'] - keys[lang])}, "
            f"extra {sorted(keys[lang] - keys['en'])}"
        )


def test_every_language_names_the_same_placeholders() -> None:
    english = catalogue("en")
    for lang in LANGUAGES:
        texts = catalogue(lang)
        for key, text in english.items():
            assert placeholders(texts[key]) == placeholders(text), (lang, key)


def test_no_label_is_blank() -> None:
    for lang in LANGUAGES:
        blank = [k for k, v in catalogue(lang).items() if not v.strip()]
        assert blank == [], lang


def test_prospect_statuses_read_as_the_dutch_product_names_them() -> None:
    assert [label(f"choice.prospect_status.{s}", "nl") for s in ProspectStatus] == [
        "In voorbereiding",
        "Lopend",
        "Gesloten",
    ]


def test_activity_kinds_read_in_polish_as_the_erp_names_them() -> None:
    assert [label(f"choice.activity_kind.{k}", "pl").lower() for k in ActivityKind] == [
        "kontakt",
        "spotkanie",
        "zadanie",
    ]


def test_meeting_categories_of_p7_exist_in_polish() -> None:
    categories = builtin_dictionaries("pl")["activity_category"]
    assert [c.label.lower() for c in categories.choices] == [
        "negocjacje handlowe",
        "pozyskanie klienta",
        "realizacja zamówienia",
        "utrzymanie klienta",
    ]


def test_builtin_dictionaries_carry_labels_in_all_three_languages() -> None:
    dictionaries = builtin_dictionaries("nl")
    assert tuple(dictionaries) == BUILTIN_DICTIONARIES
    for dictionary in dictionaries.values():
        assert dictionary.choices, dictionary.key
        for choice in dictionary.choices:
            assert set(choice.labels) == set(LANGUAGES)
            assert choice.label == choice.labels["nl"]
            assert choice.label_in("pl") == label(f"choice.{dictionary.key}.{choice.key}", "pl")


def test_builtin_dictionaries_cover_the_model_enums() -> None:
    dictionaries = builtin_dictionaries()
    assert [c.key for c in dictionaries["prospect_status"].choices] == list(ProspectStatus)
    assert [c.key for c in dictionaries["relation_stage"].choices] == list(RelationStage)
    assert [c.key for c in dictionaries["activity_kind"].choices] == list(ActivityKind)
    assert [c.key for c in dictionaries["activity_priority"].choices] == ["low", "normal", "high"]
    assert [c.key for c in dictionaries["activity_channel"].choices] == ["phone", "email"]
    assert [c.key for c in dictionaries["visit_type"].choices] == ["first", "revisit", "repeat"]


def test_builtin_dictionaries_validate_choices_like_any_dictionary() -> None:
    visit_type = builtin_dictionaries()["visit_type"]
    visit_type.require("revisit", "visit_type")
    with pytest.raises(InvalidInput, match="not in the 'visit_type' list"):
        visit_type.require("surprise", "visit_type")


def test_unknown_language_is_refused_with_the_supported_ones_named() -> None:
    with pytest.raises(InvalidInput, match="en, nl, pl"):
        label("choice.activity_kind.task", "de")
    with pytest.raises(InvalidInput):
        builtin_dictionaries("fr")
    with pytest.raises(InvalidInput):
        message("error.not_found", "xx", kind="a", record_id="b")


def test_unknown_key_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not a known label"):
        label("choice.activity_kind.party")


def test_message_fills_placeholders_and_never_evaluates_them() -> None:
    text = message("error.not_found", "nl", kind="prospect", record_id="${kind}")
    assert text == "geen prospect met id ${kind}"


def test_message_names_missing_placeholders() -> None:
    with pytest.raises(InvalidInput, match="record_id"):
        message("error.not_found", kind="prospect")


def test_missing_key_in_a_language_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    import crm_procedures.locales as locales

    dutch = dict(locales.catalogue("nl"))
    del dutch["report.column.won"]
    original = locales._load

    def patched(language: str) -> dict[str, str]:
        return dutch if language == "nl" else original(language)

    monkeypatch.setattr(locales, "_load", patched)
    assert locales.label("report.column.won", "nl") == "Won"
    assert locales.label("report.column.approached", "nl") == "Benaderd"


@pytest.mark.parametrize(
    "error",
    [
        InvalidInput("email", "is not an e-mail address", "x"),
        NotFound("prospect", "p1"),
        AccessDenied("u1", "report.read"),
        TransitionNotAllowed("call back", "marketeer", "call", ["send information"]),
        TransitionNotAllowed("call back", "marketeer", None, ["call"]),
        ProspectClosed("p1", "no_budget"),
        ProspectNotReleased("p1"),
        ActivityFrozen("a1", "note"),
        ConcurrencyConflict("prospect", "p1", 1, 2),
        DefinitionError([Finding("unknown-step", "no such step")]),
        RuleViolation(["relation needs a contact"]),
        TemplateError("welcome", "unknown placeholder"),
        DeliveryError("smtp said 550", permanent=True),
        CrmError("something"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_error_class_has_a_message_in_every_language(error: CrmError) -> None:
    texts = {lang: error_message(error, lang) for lang in LANGUAGES}
    assert all(texts.values())
    if type(error) is not CrmError and not isinstance(error, InvalidInput):
        assert texts["nl"] != texts["en"] or texts["pl"] != texts["en"]


def test_error_message_keeps_the_facts_of_the_error() -> None:
    error = TransitionNotAllowed("call back", "marketeer", "call", ["send information"])
    text = error_message(error, "pl")
    assert "marketeer" in text
    assert "call back" in text
    assert "send information" in text
