"""A1: the data-entry conventions of the Alexion agreements, one test per example."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from crm_procedures.errors import InvalidInput
from crm_procedures.model.contact import Gender
from crm_procedures.policies.normalise import (
    DEFAULT_CONVENTIONS,
    NameConventions,
    NameForm,
    PersonName,
    comparison_key,
    normalise_email,
    normalise_gender,
    normalise_initials,
    normalise_phone,
    normalise_postcode,
    normalise_relation_name,
    split_dutch_name,
)
from crm_procedures.serialization import structure, unstructure

# Seed example: "Hoofdletters zoals Gemeente of gemeente"


@pytest.mark.parametrize("typed", ["gemeente utrecht", "GEMEENTE UTRECHT", "Gemeente utrecht"])
def test_gemeente_is_capitalised_at_the_start_of_a_name(typed: str) -> None:
    assert normalise_relation_name(typed) == "Gemeente Utrecht"


def test_gemeente_stays_lower_case_inside_a_name() -> None:
    assert normalise_relation_name("bibliotheek van de Gemeente utrecht") == (
        "Bibliotheek van de gemeente Utrecht"
    )


def test_an_installation_may_agree_on_gemeente_in_lower_case_everywhere() -> None:
    conventions = NameConventions(always_lower={"'s", "'t", "gemeente"})
    assert normalise_relation_name("Gemeente Utrecht", conventions) == "gemeente Utrecht"


# Seed example: "ABN AMRO of abn amro"


@pytest.mark.parametrize("typed", ["abn amro", "Abn Amro", "ABN AMRO", "  abn   amro "])
def test_abn_amro_is_written_in_capitals(typed: str) -> None:
    assert normalise_relation_name(typed) == "ABN AMRO"


def test_capital_words_are_configurable() -> None:
    conventions = NameConventions(upper_words={"vvd"})
    assert normalise_relation_name("vvd amsterdam", conventions) == "VVD Amsterdam"
    assert normalise_relation_name("abn amro", conventions) == "Abn Amro"


def test_deliberate_mixed_case_is_kept() -> None:
    assert normalise_relation_name("McDonald's nederland") == "McDonald's Nederland"


def test_shouted_names_are_recased_word_by_word() -> None:
    assert normalise_relation_name("BAKKERIJ JANSEN") == "Bakkerij Jansen"


def test_dutch_ij_and_s_hertogenbosch_are_capitalised_the_dutch_way() -> None:
    assert normalise_relation_name("ijmuiden visserij") == "IJmuiden Visserij"
    assert normalise_relation_name("bakkerij van 's-hertogenbosch") == (
        "Bakkerij van 's-Hertogenbosch"
    )


# Seed example: "Electro Technisch Bedrijf of E.T.B. de Groot"


@pytest.mark.parametrize(
    "typed", ["E.T.B. de Groot", "ETB de Groot", "e.t.b. de groot", "E.T.B. DE GROOT"]
)
def test_etb_is_written_out_when_the_written_form_is_canonical(typed: str) -> None:
    assert normalise_relation_name(typed) == "Electro Technisch Bedrijf de Groot"


@pytest.mark.parametrize(
    "typed",
    ["Electro Technisch Bedrijf de Groot", "electro technisch bedrijf De Groot", "ETB de Groot"],
)
def test_etb_is_abbreviated_when_the_abbreviation_is_canonical(typed: str) -> None:
    conventions = NameConventions(prefer=NameForm.ABBREVIATED)
    assert normalise_relation_name(typed, conventions) == "E.T.B. de Groot"


def test_abbreviation_dictionary_is_configurable() -> None:
    conventions = NameConventions(abbreviations={"T.U.": "Technische Universiteit"})
    assert normalise_relation_name("TU delft", conventions) == "Technische Universiteit Delft"
    assert normalise_relation_name("E.T.B. de Groot", conventions) == "E.T.B. de Groot"


def test_both_spellings_of_one_relation_share_a_comparison_key() -> None:
    assert comparison_key("E.T.B. de Groot B.V.") == comparison_key(
        "electro technisch bedrijf De Groot"
    )
    assert comparison_key("ABN AMRO") != comparison_key("ABN AMRO Lease")


def test_a_blank_relation_name_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        normalise_relation_name("   ")
    assert err.value.field == "name"


# Seed example: "Tussenvoegsels zoals van der, v.d. of Van Der"


@pytest.mark.parametrize(
    "typed", ["Jan van der Berg", "Jan v.d. Berg", "Jan Van Der Berg", "jan VAN DER berg"]
)
def test_van_der_in_any_spelling_is_stored_as_one_prefix(typed: str) -> None:
    assert split_dutch_name(typed) == PersonName("Jan", "J.", "van der", "Berg")


def test_sorted_form_with_comma_splits_the_same_way() -> None:
    assert split_dutch_name("Berg, J.H. van der") == PersonName("", "J.H.", "van der", "Berg")
    assert split_dutch_name("van der Berg, Jan") == PersonName("Jan", "J.", "van der", "Berg")


@pytest.mark.parametrize(
    ("typed", "prefix", "last"),
    [
        ("Jan van 't Hof", "van 't", "Hof"),
        ("Anna de Vries", "de", "Vries"),
        ("Piet ten Brink", "ten", "Brink"),
        ("Kees ter Horst", "ter", "Horst"),
        ("Sanne van den Broek", "van den", "Broek"),
        ("Bram in 't Veld", "in 't", "Veld"),
    ],
)
def test_common_prefixes_are_recognised(typed: str, prefix: str, last: str) -> None:
    name = split_dutch_name(typed)
    assert (name.prefix, name.last_name) == (prefix, last)


def test_name_without_first_name_keeps_the_prefix_apart() -> None:
    assert split_dutch_name("Van Der Berg") == PersonName("", "", "van der", "Berg")


def test_double_barrelled_last_name_is_kept_whole() -> None:
    assert split_dutch_name("Marie Jansen-van Dijk") == PersonName(
        "Marie", "M.", "", "Jansen-van Dijk"
    )


def test_people_sort_on_last_name_not_on_prefix() -> None:
    names = [split_dutch_name(n) for n in ("Jan van der Berg", "Anna Aalders", "Piet de Bruin")]
    assert [n.last_name for n in sorted(names, key=lambda n: n.sort_name)] == [
        "Aalders",
        "Berg",
        "Bruin",
    ]
    assert names[0].sort_name == "Berg, van der"


def test_initials_are_derived_from_first_names() -> None:
    assert split_dutch_name("Jan Pieter de Vries").initials == "J.P."


# Initials, postcodes, phones


@pytest.mark.parametrize("typed", ["jh", "J.H.", "j. h.", "J H", "j.h", "JH"])
def test_initials_are_capitals_with_dots(typed: str) -> None:
    assert normalise_initials(typed) == "J.H."


def test_multi_letter_dutch_initials_are_kept() -> None:
    assert normalise_initials("th.j.") == "Th.J."
    assert normalise_initials("ij") == "IJ."


def test_initials_with_digits_are_refused() -> None:
    with pytest.raises(InvalidInput):
        normalise_initials("J2")


@pytest.mark.parametrize("typed", ["1234ab", "1234 AB", " 1234  ab ", "1234AB"])
def test_dutch_postcode_is_four_digits_space_two_capitals(typed: str) -> None:
    assert normalise_postcode(typed, "NL") == "1234 AB"


@pytest.mark.parametrize("typed", ["00950", "00-950", "00 950"])
def test_polish_postcode_has_a_dash_after_two_digits(typed: str) -> None:
    assert normalise_postcode(typed, "PL") == "00-950"


@pytest.mark.parametrize(
    ("typed", "country"), [("123AB", "NL"), ("0123 AB", "NL"), ("1234 SS", "NL"), ("0095", "PL")]
)
def test_invalid_postcodes_are_refused(typed: str, country: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalise_postcode(typed, country)
    assert err.value.field == "postcode"


@pytest.mark.parametrize(
    ("typed", "country", "e164"),
    [
        ("020-1234567", "NL", "+31201234567"),
        ("06-12345678", "NL", "+31612345678"),
        ("+31 (0)20 123 4567", "NL", "+31201234567"),
        ("0031 20 123 4567", "NL", "+31201234567"),
        ("501 234 567", "PL", "+48501234567"),
        ("+48 22 123 45 67", "PL", "+48221234567"),
        ("0048 501-234-567", "NL", "+48501234567"),
    ],
)
def test_phone_numbers_become_e164(typed: str, country: str, e164: str) -> None:
    assert normalise_phone(typed, country) == e164


@pytest.mark.parametrize(
    ("typed", "country"), [("020-123456", "NL"), ("12345", "PL"), ("bel me", "NL")]
)
def test_malformed_phone_numbers_are_refused(typed: str, country: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalise_phone(typed, country)
    assert err.value.field == "phone"


def test_email_domain_is_lower_cased_and_garbage_refused() -> None:
    assert normalise_email(" Jan.Jansen@Example.NL ") == "Jan.Jansen@example.nl"
    with pytest.raises(InvalidInput):
        normalise_email("jan at example")


@pytest.mark.parametrize(
    ("typed", "gender"),
    [
        ("M", Gender.MALE),
        ("dhr.", Gender.MALE),
        ("pani", Gender.FEMALE),
        ("Vrouw", Gender.FEMALE),
        ("", Gender.UNKNOWN),
    ],
)
def test_gender_spellings_of_three_languages_are_understood(typed: str, gender: Gender) -> None:
    assert normalise_gender(typed) is gender


def test_conventions_round_trip_through_the_converter() -> None:
    custom = NameConventions(prefer="abbreviated", upper_words={"kpn"})
    assert structure(unstructure(custom), NameConventions) == custom
    assert structure(unstructure(DEFAULT_CONVENTIONS), NameConventions) == DEFAULT_CONVENTIONS


@given(st.text(alphabet=st.sampled_from("abcdeijtvnrs .'-ABNMRO"), min_size=1, max_size=30))
@example("AA a")  # a mixed-case name that comes out all in capitals
def test_normalising_a_relation_name_twice_changes_nothing(name: str) -> None:
    try:
        once = normalise_relation_name(name)
    except InvalidInput:
        return
    assert normalise_relation_name(once) == once


@given(st.text(alphabet="abcdefghjkABCDEF. ", max_size=12))
def test_normalised_initials_are_stable(value: str) -> None:
    once = normalise_initials(value)
    assert normalise_initials(once) == once
