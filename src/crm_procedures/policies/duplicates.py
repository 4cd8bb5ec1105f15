"""Duplicate detection for relations (W1, A1): exact keys first, then likely matches.

A relation is an exact duplicate of an earlier one when their normalised names
(:func:`~crm_procedures.policies.normalise.comparison_key`) and postcodes are
equal, or when they share an e-mail address or a phone number. It is a likely
duplicate when a name in the same postcode (or, without a postcode, with the
same first word) is similar enough; the score is the similarity of the two
names, from 0 to 1.

Names are compared by their *skeleton* (:func:`skeleton`, after Unicode TR39):
compatibility forms are folded (NFKC: full-width ``Ｐｈｉｌｉｐｓ``, ligatures)
and Cyrillic and Greek letters that look like Latin ones are read as those
Latin letters, so ``Ρhilips`` with a Greek Rho is the same name as
``Philips``.

Similarity is :mod:`difflib`'s ratio (the share of matching characters), so
scores are the same on every installation. Only names within a block are compared, and at most
``max_comparisons`` of them, so the cost per record stays flat however large
the index grows.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Callable, Iterable

import attrs

from crm_procedures.errors import InvalidInput

__all__ = ["CONFUSABLES", "DuplicateIndex", "DuplicateMatch", "similarity", "skeleton"]

# Cyrillic and Greek letters that look like Latin ones (a compact subset of the
# Unicode TR39 confusables table: the letters a name can be spelt with).
# Lowercase forms of uppercase lookalikes (Cyrillic в, н, т) map to the letter
# their capital resembles, because names are often lowercased before comparing.
_LOOKALIKES = {
    # Cyrillic capitals
    "А": "A", "В": "B", "Е": "E", "Ѕ": "S", "І": "I", "Ј": "J", "К": "K", "М": "M",
    "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ү": "Y",
    "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I",
    # Cyrillic small letters
    "а": "a", "в": "b", "е": "e", "ѕ": "s", "і": "i", "ј": "j", "к": "k", "м": "m",
    "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ү": "y",
    "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ь": "b", "ɡ": "g",
    # Greek capitals
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Greek small letters
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    # Latin letters that look like others
    "ı": "i", "ɑ": "a", "ɩ": "i", "ʏ": "y",
}  # fmt: skip

CONFUSABLES: dict[int, str] = str.maketrans(_LOOKALIKES)
"""Code point -> Latin letter, for the lookalikes :func:`skeleton` folds."""


def skeleton(text: str) -> str:
    """``text`` folded for comparing names: NFKC, then lookalike letters as Latin ones.

    ``skeleton("Ρhilips")`` (a Greek Rho) and ``skeleton("Ｐｈｉｌｉｐｓ")``
    (full-width) are both ``"Philips"``. ASCII text is returned unchanged, and
    ``skeleton(skeleton(t)) == skeleton(t)``.
    """
    if text.isascii():
        return text
    folded = unicodedata.normalize("NFKC", text).translate(CONFUSABLES)
    if folded.isascii():
        return folded
    # A Latin letter put in may compose with a following accent ("Е" + acute
    # becomes "É"): normalise once more so that folding twice changes nothing.
    return unicodedata.normalize("NFKC", folded).translate(CONFUSABLES)


def _difflib_ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


similarity: Callable[[str, str], float] = _difflib_ratio
"""The similarity of two texts, from 0 (nothing shared) to 1 (equal)."""


@attrs.frozen
class DuplicateMatch:
    """A record found to duplicate an earlier one.

    Attributes:
        ref: the earlier record (a line number of the same file, or a stored id).
        score: 1.0 for an exact duplicate, below that the name similarity.
        reason: which facts matched ("name and postcode", "e-mail", "phone",
            "similar name").
    """

    ref: int | str
    score: float
    reason: str

    @property
    def exact(self) -> bool:
        """True for an exact duplicate (score 1.0)."""
        return self.score >= 1.0


class DuplicateIndex:
    """An index of relations seen so far, answering "is this one a duplicate?".

    ``threshold`` is the lowest name similarity reported as a likely duplicate.

    Raises :class:`~crm_procedures.errors.InvalidInput` for a threshold outside
    (0, 1].
    """

    def __init__(self, threshold: float = 0.9, max_comparisons: int = 50) -> None:
        if not 0.0 < threshold <= 1.0:
            raise InvalidInput("threshold", "must lie in (0, 1]", threshold)
        self.threshold = threshold
        self.max_comparisons = max_comparisons
        self._exact: dict[tuple[str, str], int | str] = {}
        self._contact: dict[str, int | str] = {}
        self._blocks: dict[str, list[tuple[str, int | str]]] = {}

    def __len__(self) -> int:
        return len(self._exact)

    @staticmethod
    def _block(name_key: str, postcode: str) -> str:
        if postcode:
            return "p:" + postcode.replace(" ", "").lower()
        return "n:" + name_key.split(" ", 1)[0]

    def add(
        self, ref: int | str, name_key: str, postcode: str = "", contacts: Iterable[str] = ()
    ) -> None:
        """Index one record under its name key, postcode, e-mail addresses and phones.

        An earlier record keeps its entries: a later duplicate never replaces it.
        The name key is compared by its :func:`skeleton`.
        """
        name_key = skeleton(name_key)
        self._exact.setdefault((name_key, postcode), ref)
        for c in contacts:
            if c:
                self._contact.setdefault(c.lower(), ref)
        self._blocks.setdefault(self._block(name_key, postcode), []).append((name_key, ref))

    def match(
        self, name_key: str, postcode: str = "", contacts: Iterable[str] = ()
    ) -> DuplicateMatch | None:
        """The best earlier record this one duplicates, or ``None``."""
        name_key = skeleton(name_key)
        ref = self._exact.get((name_key, postcode))
        if ref is not None:
            return DuplicateMatch(ref, 1.0, "name and postcode")
        for c in contacts:
            if c:
                ref = self._contact.get(c.lower())
                if ref is not None:
                    return DuplicateMatch(ref, 1.0, "e-mail" if "@" in c else "phone")
        block = self._blocks.get(self._block(name_key, postcode))
        if not block:
            return None
        best: DuplicateMatch | None = None
        for other_key, other_ref in block[-self.max_comparisons :]:
            # Lengths bound the ratio from above: skip pairs that cannot reach the threshold.
            la, lb = len(name_key), len(other_key)
            if 2.0 * min(la, lb) / max(la + lb, 1) < self.threshold:
                continue
            if similarity is _difflib_ratio:
                matcher = difflib.SequenceMatcher(None, name_key, other_key, autojunk=False)
                # quick_ratio bounds ratio from above and costs far less; the
                # margin keeps pairs whose ratio rounds up to the threshold.
                if matcher.quick_ratio() < self.threshold - 0.001:
                    continue
                score = round(matcher.ratio(), 3)
            else:
                score = round(similarity(name_key, other_key), 3)
            if score >= self.threshold and (best is None or score > best.score):
                best = DuplicateMatch(other_ref, min(score, 0.999), "similar name")
        return best
