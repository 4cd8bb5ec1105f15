"""Duplicate detection, exactly: keys, skeletons, thresholds, blocks and scores.

Each test pins one rule of ``policies/duplicates.py`` by its result (the match's
``ref``, ``score`` and ``reason``; the refusal's ``field`` and ``value``), so a
changed comparison, bound or key shows up here rather than as a duplicate
missed or invented in an import.
"""

from __future__ import annotations

import difflib
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures.errors import InvalidInput
from crm_procedures.policies import duplicates
from crm_procedures.policies.duplicates import (
    CONFUSABLES,
    DuplicateIndex,
    DuplicateMatch,
    similarity,
    skeleton,
)

# --- skeleton ---------------------------------------------------------------------------


def test_ascii_text_is_returned_as_it_is() -> None:
    assert skeleton("Philips B.V.") == "Philips B.V."
    assert skeleton("") == ""


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("\u03a1hilips", "Philips"),  # Greek capital Rho
        ("\u0420hilips", "Philips"),  # Cyrillic capital Er
        ("\uff30\uff48\uff49\uff4c\uff49\uff50\uff53", "Philips"),  # full-width
        ("\ufb01lips", "filips"),  # the fi ligature
        ("\u0430\u0441\u043c\u0435", "acme"),  # Cyrillic small a, es, em, ie
        ("\u0391\u039a\u039c\u0395", "AKME"),  # Greek capitals
        ("M\u00fcller", "M\u00fcller"),  # a real accent stays
    ],
)
def test_lookalikes_and_compatibility_forms_fold_to_latin(text: str, folded: str) -> None:
    assert skeleton(text) == folded


def test_a_latin_letter_put_in_composes_with_its_accent() -> None:
    # Cyrillic Ie + combining acute has no composed form; as a Latin E it has (É).
    assert skeleton("\u0415\u0301cole") == "\u00c9cole"
    assert skeleton("\u0415\u0301cole") == skeleton("\u00c9cole")


@given(st.text(max_size=20))
def test_folding_twice_changes_nothing(text: str) -> None:
    once = skeleton(text)
    assert skeleton(once) == once


def test_the_confusables_table_maps_code_points_to_latin_letters() -> None:
    assert CONFUSABLES[ord("\u0420")] == "P"
    assert CONFUSABLES[ord("\u03bd")] == "v"
    assert all(len(v) == 1 and v.isascii() for v in CONFUSABLES.values())


# --- similarity -------------------------------------------------------------------------


def test_similarity_is_difflibs_ratio() -> None:
    assert similarity("abcd", "abcf") == pytest.approx(0.75)
    assert similarity("acme", "acme") == 1.0
    assert similarity("abc", "xyz") == 0.0


def test_similarity_treats_no_character_as_junk_in_long_names() -> None:
    # difflib's autojunk would drop 'a' and 'b' (each in more than 1% of a
    # 300-character text) and give 0.0.
    a, b = "ab" * 150, "ba" * 150
    assert similarity(a, b) == pytest.approx(299 / 300)
    assert difflib.SequenceMatcher(None, a, b).ratio() == 0.0


# --- DuplicateMatch ---------------------------------------------------------------------


def test_only_a_score_of_one_is_exact() -> None:
    assert DuplicateMatch(1, 1.0, "e-mail").exact is True
    assert DuplicateMatch(1, 0.999, "similar name").exact is False


# --- threshold --------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [1.0, 0.5, 1e-9])
def test_thresholds_in_zero_to_one_are_taken(threshold: float) -> None:
    index = DuplicateIndex(threshold, max_comparisons=7)
    assert (index.threshold, index.max_comparisons) == (threshold, 7)
    assert len(index) == 0


@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.0000001, 2.0, float("nan")])
def test_thresholds_outside_zero_to_one_are_refused(threshold: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        DuplicateIndex(threshold)
    assert caught.value.field == "threshold"
    assert caught.value.reason == "must lie in (0, 1]"
    assert caught.value.value is threshold or caught.value.value == threshold


def test_the_defaults() -> None:
    index = DuplicateIndex()
    assert (index.threshold, index.max_comparisons) == (0.9, 50)


# --- exact keys -------------------------------------------------------------------------


def test_the_same_name_and_postcode_is_an_exact_duplicate_of_the_first() -> None:
    index = DuplicateIndex()
    index.add(1, "acme holding", "1234AB")
    index.add(2, "acme holding", "1234AB")
    index.add(3, "acme holding", "5678CD")
    assert len(index) == 2  # one entry per name and postcode
    assert index.match("acme holding", "1234AB") == DuplicateMatch(1, 1.0, "name and postcode")
    assert index.match("acme holding", "5678CD") == DuplicateMatch(3, 1.0, "name and postcode")


def test_lookalike_names_are_exact_duplicates() -> None:
    index = DuplicateIndex()
    index.add("r-1", "\u0440hilips", "1234AB")  # stored with a Cyrillic er
    found = index.match("\uff50hilips", "1234AB")  # looked up full-width
    assert found == DuplicateMatch("r-1", 1.0, "name and postcode")
    assert found.exact


def test_a_shared_email_or_phone_is_an_exact_duplicate() -> None:
    index = DuplicateIndex()
    index.add(1, "acme", "1234AB", ["Jan@Acme.Example.NL", "", "+31201234567"])
    index.add(2, "other", "9999ZZ", ["jan@acme.example.nl", "+31201234567"])
    by_mail = index.match("unrelated", "1111AA", ["", "nobody@x.example", "JAN@acme.example.nl"])
    assert by_mail == DuplicateMatch(1, 1.0, "e-mail")
    assert index.match("unrelated", "1111AA", ["+31201234567"]) == DuplicateMatch(1, 1.0, "phone")


def test_an_empty_contact_matches_nothing() -> None:
    index = DuplicateIndex()
    index.add(1, "acme", "1234AB", [""])
    assert index.match("zzz", "9999ZZ", [""]) is None


def test_the_name_and_postcode_come_before_a_contact() -> None:
    index = DuplicateIndex()
    index.add(1, "acme", "1234AB")
    index.add(2, "beta", "5555EE", ["info@acme.example.nl"])
    found = index.match("acme", "1234AB", ["info@acme.example.nl"])
    assert found == DuplicateMatch(1, 1.0, "name and postcode")


# --- blocks and likely duplicates -------------------------------------------------------


def test_a_similar_name_in_the_same_postcode_is_a_likely_duplicate() -> None:
    index = DuplicateIndex(0.9)
    index.add(7, "acme holding", "1234AB")
    found = index.match("acme holdings", "1234AB")
    assert found == DuplicateMatch(7, round(24 / 25, 3), "similar name")
    assert found is not None
    assert not found.exact
    assert index.match("acme holdings", "9999ZZ") is None  # another postcode: not compared


def test_postcodes_are_blocked_without_spaces_and_case() -> None:
    index = DuplicateIndex(0.9)
    index.add(7, "acme holding", "1234 AB")
    assert index.match("acme holdings", "1234ab") == DuplicateMatch(7, 0.96, "similar name")


def test_the_same_name_in_a_differently_written_postcode_scores_below_one() -> None:
    index = DuplicateIndex(0.9)
    index.add(7, "acme holding", "1234 AB")
    found = index.match("acme holding", "1234ab")
    assert found == DuplicateMatch(7, 0.999, "similar name")
    assert found is not None
    assert not found.exact


def test_without_a_postcode_names_are_blocked_by_their_first_word() -> None:
    index = DuplicateIndex(0.9)
    index.add(1, "acme holding", "")
    assert index.match("acme holdings", "") == DuplicateMatch(1, 0.96, "similar name")
    # A different first word is another block, however similar the rest.
    assert index.match("acmee holding", "") is None
    # A one-word name is its own first word.
    single = DuplicateIndex(0.8)
    single.add(2, "acmeholding", "")
    assert single.match("acmeholding bv", "") == DuplicateMatch(2, 0.88, "similar name")


def test_nothing_in_the_block_is_no_match() -> None:
    index = DuplicateIndex()
    assert index.match("acme", "1234AB") is None
    index.add(1, "zzzz qqqq", "1234AB")
    assert index.match("acme", "1234AB") is None


def test_a_name_exactly_at_the_threshold_is_reported() -> None:
    # "abcd" in "abcdef": 2 * 4 / 10 = 0.8, which is also the bound the lengths
    # give and the quick ratio: each check must let equality through.
    index = DuplicateIndex(0.8)
    index.add(1, "abcdef", "1234AB")
    assert index.match("abcd", "1234AB") == DuplicateMatch(1, 0.8, "similar name")
    assert DuplicateIndex(0.801).match("abcd", "1234AB") is None


def test_a_ratio_that_rounds_up_to_the_threshold_is_reported() -> None:
    # 2 / 202 = 0.0099 rounds to 0.01 (three decimals); its quick ratio is as low.
    index = DuplicateIndex(0.01)
    index.add(1, "x" + "a" * 100, "1234AB")
    assert index.match("x" + "b" * 100, "1234AB") == DuplicateMatch(1, 0.01, "similar name")


def test_the_best_scoring_earlier_name_wins_and_ties_keep_the_first() -> None:
    index = DuplicateIndex(0.8)
    index.add("low", "acme holding nv", "1234AB")
    index.add("high", "acme holding bv", "1234AB")
    index.add("same", "acme holding bv", "1234AB")  # an exact twin of "high"
    index.add("lower", "acme holdings nv", "1234AB")
    found = index.match("acme holding b.v.", "1234AB")
    expected = round(
        difflib.SequenceMatcher(None, "acme holding b.v.", "acme holding bv").ratio(), 3
    )
    assert found == DuplicateMatch("high", expected, "similar name")
    reverse = DuplicateIndex(0.8)
    reverse.add("high", "acme holding bv", "1234AB")
    reverse.add("low", "acme holding nv", "1234AB")
    assert reverse.match("acme holding b.v.", "1234AB") == DuplicateMatch(
        "high", expected, "similar name"
    )


def test_a_name_too_short_to_reach_the_threshold_does_not_stop_the_search() -> None:
    index = DuplicateIndex(0.9)
    index.add(1, "acme", "1234AB")  # far too short to score 0.9
    index.add(2, "acme holding", "1234AB")
    assert index.match("acme holdings", "1234AB") == DuplicateMatch(2, 0.96, "similar name")


def test_a_dissimilar_name_does_not_stop_the_search() -> None:
    index = DuplicateIndex(0.9)
    index.add(1, "zzzz qqqqqqqq", "1234AB")  # same length, nothing shared
    index.add(2, "acme holding", "1234AB")
    assert index.match("acme holdings", "1234AB") == DuplicateMatch(2, 0.96, "similar name")


def test_only_the_last_max_comparisons_names_of_a_block_are_compared() -> None:
    index = DuplicateIndex(0.9, max_comparisons=1)
    index.add(1, "zzzz qqqqqqqq", "1234AB")
    index.add(2, "acme holding", "1234AB")
    index.add(3, "yyyy wwwwwwww", "1234AB")
    assert index.match("acme holdings", "1234AB") is None
    two = DuplicateIndex(0.9, max_comparisons=2)
    two.add(1, "zzzz qqqqqqqq", "1234AB")
    two.add(2, "acme holding", "1234AB")
    two.add(3, "yyyy wwwwwwww", "1234AB")
    assert two.match("acme holdings", "1234AB") == DuplicateMatch(2, 0.96, "similar name")


def test_a_replaced_similarity_scores_the_pairs_the_lengths_allow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, str]] = []

    def fixed(a: str, b: str) -> float:
        seen.append((a, b))
        return 0.91234

    monkeypatch.setattr(duplicates, "similarity", fixed)
    index = DuplicateIndex(0.9)
    index.add(1, "abcde", "1234AB")  # 2 * 5 / 15 = 0.67 < 0.9: never scored
    index.add(2, "zzzzzzzzzz", "1234AB")  # same length as the name looked up
    index.add(3, "abcdefghi", "1234AB")  # 2 * 9 / 19 = 0.947
    found = index.match("abcdefghij", "1234AB")
    assert seen == [("abcdefghij", "zzzzzzzzzz"), ("abcdefghij", "abcdefghi")]
    assert found == DuplicateMatch(2, 0.912, "similar name")


def test_skeleton_and_blocks_agree_for_lookalike_first_words() -> None:
    index = DuplicateIndex(0.9)
    index.add(1, "\u0430cme holding", "")  # a Cyrillic a in the first word
    assert index.match("acme holdings", "") == DuplicateMatch(1, 0.96, "similar name")
    assert unicodedata.normalize("NFKC", "acme") == "acme"


def test_the_default_postcode_is_none_given() -> None:
    index = DuplicateIndex()
    index.add(1, "acme holding")
    assert index.match("acme holding", "") == DuplicateMatch(1, 1.0, "name and postcode")
    other = DuplicateIndex()
    other.add(2, "acme holding", "")
    assert other.match("acme holding") == DuplicateMatch(2, 1.0, "name and postcode")
    assert other.match("acme holdings") == DuplicateMatch(2, 0.96, "similar name")


def test_the_name_block_is_the_first_word_of_longer_names() -> None:
    index = DuplicateIndex(0.9)
    index.add(1, "acme holding bv", "")
    assert index.match("acme holdings bv", "") == DuplicateMatch(
        1, round(2 * 15 / 31, 3), "similar name"
    )


def test_long_similar_names_are_compared_without_junk() -> None:
    index = DuplicateIndex(0.9)
    index.add(1, "ab" * 150, "1234AB")
    assert index.match("ba" * 150, "1234AB") == DuplicateMatch(1, 0.997, "similar name")
