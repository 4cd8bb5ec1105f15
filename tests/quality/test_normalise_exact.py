"""A1 conventions, exactly: input -> output tables and each refusal by field and value.

``test_normalise.py`` checks the normalisers' properties (idempotence, keys
that match); these tables pin each rule of the Dutch and Polish conventions
to an example, so a rule that is dropped or inverted shows up as one wrong
row. Every table is read through fresh conventions as well as the defaults,
so remembered results cannot answer for the code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crm_procedures.errors import InvalidInput
from crm_procedures.model.contact import Gender
from crm_procedures.policies.normalise import (
    DEFAULT_CONVENTIONS,
    NameConventions,
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


def refusal(call: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


RELATION_NAMES = [
    ("abn amro bank", "ABN AMRO Bank"),
    ("GEMEENTE UTRECHT", "Gemeente Utrecht"),
    ("bibliotheek van de gemeente utrecht", "Bibliotheek van de gemeente Utrecht"),
    ("E.T.B. DE GROOT", "Electro Technisch Bedrijf de Groot"),
    ("etb de groot bv", "Electro Technisch Bedrijf de Groot B.V."),
    ("McDonald's Nederland", "McDonald's Nederland"),
    ("'s-hertogenbosch", "'s-Hertogenbosch"),
    ("ijsselstein bouw", "IJsselstein Bouw"),
    ("BAKKERIJ JANSEN-VAN DIJK", "Bakkerij Jansen-van Dijk"),
    ("van der berg", "Van der Berg"),
    ("Van Der Berg", "Van der Berg"),
    ("kpn-ict", "KPN-ICT"),
    ("a.b.c. holding", "A.B.C. Holding"),
    ("  jan   de  vries  ", "Jan de Vries"),
    ("AA a", "Aa A"),
    ("123 bouw", "123 Bouw"),
    ("foto-van-dam", "Foto-van-Dam"),
    ("Café 't hoekje", "Café 't Hoekje"),
    ("ABN-amro", "ABN-amro"),
    ("NS", "NS"),
    ("bv de groot", "B.V. de Groot"),
    ("Kpn ICT bv", "KPN ICT B.V."),
    ("de Bakker", "De Bakker"),
    ("a.b. van DIJK", "A.B. van DIJK"),
]


@pytest.mark.parametrize(("name", "expected"), RELATION_NAMES)
def test_relation_names_follow_the_conventions(name: str, expected: str) -> None:
    assert normalise_relation_name(name) == expected
    assert normalise_relation_name(name, NameConventions()) == expected
    assert normalise_relation_name(expected) == expected


def test_conventions_are_data() -> None:
    custom = NameConventions(
        upper_words="xyz", always_lower=["gemeente"], fixed_spellings={"MCD": "McD"}
    )
    assert custom.upper_words == frozenset({"xyz"})
    assert normalise_relation_name("gemeente xyz mcd", custom) == "gemeente XYZ McD"
    assert normalise_relation_name("ABN AMRO", NameConventions(upper_words=())) == "Abn Amro"
    without = NameConventions(abbreviations={})
    assert normalise_relation_name("etb de groot", without) == "Etb de Groot"
    assert without.canonical_form("E.T.B.") == "E.T.B."


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("electro technisch bedrijf de groot", "E.T.B. de Groot"),
        ("Electro  Technisch Bedrijf", "E.T.B."),
        ("e.t.b. de groot", "E.T.B. de Groot"),
        ("ETB", "E.T.B."),
    ],
)
def test_the_abbreviated_form_can_be_preferred(name: str, expected: str) -> None:
    abbreviated = NameConventions(prefer="abbreviated")
    assert normalise_relation_name(name, abbreviated) == expected
    assert comparison_key(name, abbreviated) == comparison_key(expected, abbreviated)
    plain = NameConventions(abbreviations={}, prefer="abbreviated")
    assert plain.canonical_form(name) == name


@pytest.mark.parametrize("abbreviations", [{"...": "Dots"}, {"A.B.": " "}])
def test_an_abbreviation_needs_letters_and_a_written_form(abbreviations: dict[str, str]) -> None:
    error = refusal(lambda: NameConventions(abbreviations=abbreviations))
    assert error.field == "abbreviations"
    assert "non-empty" in error.reason


@pytest.mark.parametrize(
    ("a", "b", "key"),
    [
        (
            "E.T.B. de Groot B.V.",
            "electro technisch bedrijf De Groot",
            "electro technisch bedrijf de groot",
        ),
        ("Kowalski Sp. z o.o.", "KOWALSKI", "kowalski"),
        ("A-B  C!", "ab c", "ab c"),
    ],
)
def test_comparison_keys(a: str, b: str, key: str) -> None:
    assert comparison_key(a) == comparison_key(b) == key
    assert comparison_key(a, NameConventions()) == key


PEOPLE = [
    ("Jan van der Berg", ("Jan", "J.", "van der", "Berg")),
    ("J.H. v.d. Berg", ("", "J.H.", "van der", "Berg")),
    ("Van Der Berg", ("", "", "van der", "Berg")),
    ("jan van 't hof", ("Jan", "J.", "van 't", "Hof")),
    ("Piet ten Brink", ("Piet", "P.", "ten", "Brink")),
    ("Berg, J.H. van der", ("", "J.H.", "van der", "Berg")),
    ("van der Berg, Jan", ("Jan", "J.", "van der", "Berg")),
    ("Berg, Jan", ("Jan", "J.", "", "Berg")),
    ("Berg, van der", ("", "", "van der", "Berg")),
    ("Berg, Ph. van", ("", "P.H.", "van", "Berg")),
    ("Marie Jansen-van Dijk", ("Marie", "M.", "", "Jansen-van Dijk")),
    ("D. de Vries", ("", "D.", "de", "Vries")),
    ("ijsbrand ijzerman", ("IJsbrand", "IJ.", "", "IJzerman")),
    ("Th. J. de Boer", ("", "Th.J.", "de", "Boer")),
    ("Berg", ("", "", "", "Berg")),
    ("jan-willem de wit", ("Jan-Willem", "J.", "de", "Wit")),
    ("d'Ancona", ("", "", "", "d'Ancona")),
    ("Jan van", ("Jan", "J.", "", "Van")),
    ("vd Berg", ("", "", "van der", "Berg")),
    ("van Berg", ("", "", "van", "Berg")),
    ("J. van den Bosch", ("", "J.", "van den", "Bosch")),
    ("Ad v. Dam", ("Ad", "A.", "van", "Dam")),
    ("Anne-Marie van Dijk-de Wit", ("Anne-Marie", "A.", "van", "Dijk-de Wit")),
    ("Kees de  Jong-de Vries", ("Kees", "K.", "de", "Jong-de Vries")),
    ("ABC Berg", ("", "A.B.C.", "", "Berg")),
    ("ABCD Berg", ("Abcd", "A.", "", "Berg")),
    ("v.d. Berg", ("", "", "van der", "Berg")),
    ("Jan van der", ("Jan", "J.", "van", "Der")),
    ("Jansen-van Dijk, Marie", ("Marie", "M.", "", "Jansen-van Dijk")),
    ("Marie Jansen-Dijk", ("Marie", "M.", "", "Jansen-Dijk")),
    ("Van, Jan", ("Jan", "J.", "", "Van")),
]


@pytest.mark.parametrize(("name", "parts"), PEOPLE)
def test_person_names_split_the_dutch_way(name: str, parts: tuple[str, str, str, str]) -> None:
    expected = PersonName(*parts)
    assert split_dutch_name(name) == expected
    assert split_dutch_name(name, NameConventions()) == expected
    # Asked again, the remembered answer is the same.
    assert split_dutch_name(name) == expected


def test_the_sort_name_puts_the_prefix_after_the_last_name() -> None:
    assert split_dutch_name("J.H. v.d. Berg").sort_name == "Berg, van der"
    assert split_dutch_name("Jan Berg").sort_name == "Berg"


@pytest.mark.parametrize(
    ("name", "reason", "value"),
    [
        (", Jan", "has no last name before the comma", ", Jan"),
        ("Berg, van Jan", "has name parts after the prefix in 'Last, First prefix'", None),
        ("  ", "must not be empty", "  "),
        (5, "must be text", 5),
    ],
)
def test_names_without_a_last_name_are_refused(name: Any, reason: str, value: Any) -> None:
    error = refusal(lambda: split_dutch_name(name))
    assert (error.field, error.reason, error.value) == ("name", reason, value)


@pytest.mark.parametrize(("name", "reason"), [("  ", "must not be empty"), (5, "must be text")])
def test_relation_names_must_be_text(name: Any, reason: str) -> None:
    error = refusal(lambda: normalise_relation_name(name))
    assert (error.field, error.reason, error.value) == ("name", reason, name)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jh", "J.H."),
        ("J.H.", "J.H."),
        ("j. h.", "J.H."),
        ("th.j.", "Th.J."),
        ("ij", "IJ."),
        ("i.j.", "I.J."),
        ("chr", "C.H.R."),
        ("Chr.Ph.", "Chr.Ph."),
        ("J-P", "J.P."),
        ("", ""),
        ("  ", ""),
        ("wm.", "W.M."),
        ("joh.a.", "Joh.A."),
        ("a.ij.", "A.IJ."),
        ("aijb", "A.IJ.B."),
    ],
)
def test_initials(value: str, expected: str) -> None:
    assert normalise_initials(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"), [("J1", "may hold only letters and dots"), (5, "must be text")]
)
def test_initials_refused(value: Any, reason: str) -> None:
    error = refusal(lambda: normalise_initials(value))
    assert (error.field, error.reason, error.value) == ("initials", reason, value)


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("1234ab", "NL", "1234 AB"),
        ("1234 AB", "nl", "1234 AB"),
        ("00950", "PL", "00-950"),
        ("00 - 950", "pl", "00-950"),
        ("sw1a 1aa", "GB", "SW1A 1AA"),
        ("SW1A   1AA", "gb", "SW1A 1AA"),
        ("", "NL", ""),
        ("  ", "PL", ""),
        ("123456789012", "DE", "123456789012"),
        ("12", "DE", "12"),
    ],
)
def test_postcodes(value: str, country: str, expected: str) -> None:
    assert normalise_postcode(value, country) == expected


def test_the_default_postcode_country_is_the_netherlands() -> None:
    assert normalise_postcode("1234ab") == "1234 AB"


@pytest.mark.parametrize(
    ("value", "country", "reason"),
    [
        ("0123 AB", "NL", "is not a Dutch postcode like '1234 AB'"),
        ("1234 SA", "NL", "is not a Dutch postcode like '1234 AB'"),
        ("1234 sd", "NL", "is not a Dutch postcode like '1234 AB'"),
        ("1234 SS", "NL", "is not a Dutch postcode like '1234 AB'"),
        ("1234ABC", "NL", "is not a Dutch postcode like '1234 AB'"),
        ("00-9500", "PL", "is not a Polish postcode like '00-950'"),
        ("!!", "GB", "is not a postcode (letters, digits, spaces, '-')"),
        ("1", "DE", "is not a postcode (letters, digits, spaces, '-')"),
        ("12345678901234", "DE", "is not a postcode (letters, digits, spaces, '-')"),
        (5, "NL", "must be text"),
    ],
)
def test_postcodes_refused(value: Any, country: str, reason: str) -> None:
    error = refusal(lambda: normalise_postcode(value, country))
    assert (error.field, error.reason, error.value) == ("postcode", reason, value)


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("020-1234567", "NL", "+31201234567"),
        ("020-1234567", "nl", "+31201234567"),
        ("+31 (0)20 1234567", "NL", "+31201234567"),
        ("0031 20 1234567", "NL", "+31201234567"),
        ("+48 501 234 567", "NL", "+48501234567"),
        ("501 234 567", "PL", "+48501234567"),
        ("02 123 45 67", "BE", "+3221234567"),
        ("030 1234567", "DE", "+49301234567"),
        ("+31201234567", "NL", "+31201234567"),
        ("+1 212 555 0100", "NL", "+12125550100"),
        ("+32 2 123 45 67", "NL", "+3221234567"),
        ("+49 30 12345", "NL", "+493012345"),
        ("+49 30 1234", "NL", "+49301234"),
        ("+44.20.7946.0958", "NL", "+442079460958"),
        ("+12345678", "NL", "+12345678"),
        ("+123456789012345", "NL", "+123456789012345"),
        ("", "NL", ""),
        ("  ", "NL", ""),
    ],
)
def test_phones(value: str, country: str, expected: str) -> None:
    assert normalise_phone(value, country) == expected


def test_the_default_phone_country_is_the_netherlands() -> None:
    assert normalise_phone("020-1234567") == "+31201234567"


@pytest.mark.parametrize(
    ("value", "country", "reason"),
    [
        ("0501234567", "PL", "a +48 number has 9 digits after the country code"),
        ("0201234567", "US", "give numbers of country 'US' with a +country code"),
        ("2012345678", "NL", "a national number starts with 0 (or give +31...)"),
        ("+3120123456", "NL", "a +31 number has 9 digits after the country code"),
        ("+310201234567", "NL", "a +31 number has 9 digits after the country code"),
        ("+3120123456789", "NL", "a +31 number has 9 digits after the country code"),
        ("+1234567", "NL", "an international number has 8 to 15 digits"),
        ("+1234567890123456", "NL", "an international number has 8 to 15 digits"),
        ("+0123456789", "NL", "an international number has 8 to 15 digits"),
        ("020-12a4567", "NL", "may hold only digits, spaces, '+', '-', '.', '(' and ')'"),
        ("+48 22 123 45 6", "NL", "a +48 number has 9 digits after the country code"),
        ("+49 30 123", "NL", "a +49 number has 6 digits after the country code"),
        ("+32 2 123 4", "NL", "a +32 number has 8 digits after the country code"),
        ("+31 020123456", "NL", "a +31 number has 9 digits after the country code"),
        (5, "NL", "must be text"),
    ],
)
def test_phones_refused(value: Any, country: str, reason: str) -> None:
    error = refusal(lambda: normalise_phone(value, country))
    assert (error.field, error.reason, error.value) == ("phone", reason, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Jan@Mill.Example", "Jan@mill.example"), (" a@b.c ", "a@b.c"), ("", ""), ("  ", "")],
)
def test_emails(value: str, expected: str) -> None:
    assert normalise_email(value) == expected


@pytest.mark.parametrize("value", ["a@bc", "@b.c", "a b@c.d", "jan", "jan@"])
def test_emails_refused(value: str) -> None:
    error = refusal(lambda: normalise_email(value))
    assert (error.field, error.reason, error.value) == (
        "email",
        f"{value!r} is not an e-mail address",
        value,
    )
    error = refusal(lambda: normalise_email(5))  # type: ignore[arg-type]
    assert (error.field, error.reason, error.value) == ("email", "must be text", 5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("M", Gender.MALE),
        ("vrouw", Gender.FEMALE),
        ("dhr.", Gender.MALE),
        ("de  heer", Gender.MALE),
        ("mevr.", Gender.FEMALE),
        ("pani", Gender.FEMALE),
        ("Mężczyzna", Gender.MALE),
        ("X", Gender.OTHER),
        ("?", Gender.UNKNOWN),
        ("", Gender.UNKNOWN),
        ("U", Gender.UNKNOWN),
    ],
)
def test_genders(value: str, expected: Gender) -> None:
    assert normalise_gender(value) is expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("robot", "is not a known gender (m/f/x, man/vrouw, dhr./mevr., pan/pani)"),
        (5, "must be text"),
    ],
)
def test_genders_refused(value: Any, reason: str) -> None:
    error = refusal(lambda: normalise_gender(value))
    assert (error.field, error.reason, error.value) == ("gender", reason, value)


def test_the_default_conventions_remember_words_without_changing_answers() -> None:
    DEFAULT_CONVENTIONS._memo.clear()
    first = [normalise_relation_name(n) for n, _ in RELATION_NAMES]
    second = [normalise_relation_name(n) for n, _ in RELATION_NAMES]
    assert first == second == [e for _, e in RELATION_NAMES]
    assert DEFAULT_CONVENTIONS._memo


def test_apostrophe_words_stay_lower_case_without_an_agreement() -> None:
    bare = NameConventions(always_lower=())
    assert normalise_relation_name("café 't hoekje", bare) == "Café 't Hoekje"
    assert normalise_relation_name("'s gravenhage", bare) == "'s Gravenhage"


def test_several_abbreviations_each_match_in_both_directions() -> None:
    two = {"E.T.B.": "Electro Technisch Bedrijf", "H.B.M.": "Hollandsche Beton Maatschappij"}
    written = NameConventions(abbreviations=two)
    assert normalise_relation_name("hbm en etb", written) == (
        "Hollandsche Beton Maatschappij en Electro Technisch Bedrijf"
    )
    short = NameConventions(abbreviations=two, prefer="abbreviated")
    assert normalise_relation_name("hollandsche beton maatschappij en etb", short) == (
        "H.B.M. en E.T.B."
    )


def test_a_number_word_can_have_a_fixed_spelling() -> None:
    conventions = NameConventions(fixed_spellings={"112": "1-1-2"})
    assert normalise_relation_name("bel 112", conventions) == "Bel 1-1-2"
    assert normalise_relation_name("bel 112") == "Bel 112"
