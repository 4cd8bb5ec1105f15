"""L3: the free fields of a project carry labels the installation chooses, per language."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.errors import InvalidInput
from crm_procedures.services.record_settings import RecordSettings, custom_field_names


def test_free_fields_are_four_texts_and_five_choices() -> None:
    assert custom_field_names() == (
        "text_1",
        "text_2",
        "text_3",
        "text_4",
        "choice_1",
        "choice_2",
        "choice_3",
        "choice_4",
        "choice_5",
    )


def test_a_renamed_text_field_is_shown_in_the_users_language() -> None:
    settings = RecordSettings(custom_labels={"text_1": {"en": "Branch", "nl": "Branche"}})
    assert settings.custom_label("text_1", "nl") == "Branche"
    assert settings.custom_label("text_1", "en") == "Branch"


def test_a_missing_language_falls_back_to_english_then_to_any_label() -> None:
    settings = RecordSettings(
        custom_labels={"text_2": {"en": "Size", "nl": "Omvang"}, "choice_1": {"pl": "Region"}}
    )
    assert settings.custom_label("text_2", "pl") == "Size"
    assert settings.custom_label("choice_1", "en") == "Region"


def test_an_unlabelled_field_keeps_its_built_in_name_per_language() -> None:
    settings = RecordSettings()
    assert settings.custom_label("text_3") == "Free text 3"
    assert settings.custom_label("text_3", "nl") == "Vrij tekstveld 3"
    assert settings.custom_label("choice_5", "pl") == "Pole wyboru 5"
    assert settings.custom_label("choice_5", "de") == "Free choice 5"


@pytest.mark.parametrize(
    "labels",
    [
        {"text_5": {"en": "Fifth"}},
        {"text_1": {}},
        {"text_1": {"en": ""}},
        {"text_1": {"en": "Two\nlines"}},
        {"text_1": {"en": "x" * 101}},
        {"text_1": {"e-n": "Branch"}},
        {"text_1": "Branch"},
    ],
)
def test_bad_labels_are_refused_with_the_field_named(labels: dict[str, object]) -> None:
    with pytest.raises(InvalidInput) as refused:
        RecordSettings(custom_labels=labels)
    assert str(refused.value.field).startswith("custom_labels")


def test_asking_for_a_field_that_does_not_exist_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        RecordSettings().custom_label("text_9")
    assert refused.value.field == "field"


@given(
    field=st.sampled_from(custom_field_names()),
    label=st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Cf", "Co", "Cn")),
        min_size=1,
        max_size=100,
    ).filter(lambda s: s.strip() != "" and s.isprintable()),
    language=st.sampled_from(["en", "nl", "pl"]),
)
def test_any_printable_label_reads_back_as_set(field: str, label: str, language: str) -> None:
    settings = RecordSettings(custom_labels={field: {language: label}})
    assert settings.custom_label(field, language) == label.strip()
