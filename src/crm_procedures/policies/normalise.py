"""Data-entry conventions (A1): normalisers that make names, addresses and numbers uniform.

Uniform data can be found again and prints uniformly on letters. The Alexion
agreements name the typical disagreements: capitalisation ("Gemeente" or
"gemeente", "ABN AMRO" or "abn amro"), written-out versus abbreviated names
("Electro Technisch Bedrijf" or "E.T.B. de Groot") and Dutch name prefixes
("van der", "v.d." or "Van Der"). Every choice is data in
:class:`NameConventions`, so an installation decides its own agreements.

Every function here is pure. Invalid input raises
:class:`~crm_procedures.errors.InvalidInput` naming the field, the reason and
the rejected value; callers that prefer a finding (the importer) catch it and
report the row.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

import attrs

from crm_procedures._memo import remember
from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import to_enum
from crm_procedures.model._mappings import mapping_of
from crm_procedures.model.contact import Gender

__all__ = [
    "DEFAULT_CONVENTIONS",
    "NameConventions",
    "NameForm",
    "PersonName",
    "comparison_key",
    "normalise_email",
    "normalise_gender",
    "normalise_initials",
    "normalise_phone",
    "normalise_postcode",
    "normalise_relation_name",
    "split_dutch_name",
]


class NameForm(enum.StrEnum):
    """Which form of a name with an abbreviation is the canonical one."""

    WRITTEN_OUT = "written_out"
    ABBREVIATED = "abbreviated"


def _lower_set(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        value = (value,)
    return frozenset(str(v).lower() for v in value)


def _lower_pair(_field: str, key: Any, value: Any) -> tuple[str, str]:
    return str(key).lower(), str(value)


def _plain_pair(_field: str, key: Any, value: Any) -> tuple[str, str]:
    return str(key), str(value)


def _fixed_spellings(value: Any) -> Mapping[str, str]:
    return mapping_of("fixed_spellings", value, _lower_pair)


def _prefix_abbreviations(value: Any) -> Mapping[str, str]:
    return mapping_of("prefix_abbreviations", value, _lower_pair)


def _plain_map(value: Any) -> Mapping[str, str]:
    return mapping_of("abbreviations", value, _plain_pair)


def _name_form(value: Any) -> NameForm:
    return to_enum(NameForm, "prefer", value)


def _letters(abbreviation: str) -> str:
    return "".join(ch for ch in abbreviation.lower() if ch.isalnum())


@attrs.frozen
class NameConventions:
    """An installation's agreements on how names are written (A1), as data.

    Attributes:
        upper_words: words always written in capitals ("ABN", "AMRO", "KPN").
        lower_words: words written in lower case inside a name but capitalised
            as its first word ("van", "de", "en", "gemeente": "Gemeente
            Utrecht", "Bibliotheek van de gemeente Utrecht").
        always_lower: words kept lower case even at the start ("'s", "'t"); add
            "gemeente" here when the agreement is "gemeente Utrecht".
        fixed_spellings: words with a fixed spelling, keyed case-insensitively
            ("bv" -> "B.V.", "mcdonald's" -> "McDonald's").
        abbreviations: abbreviation -> written-out form ("E.T.B." ->
            "Electro Technisch Bedrijf"). Abbreviations match with or without
            dots ("ETB", "e.t.b.").
        prefer: which form :func:`normalise_relation_name` writes.
        name_prefixes: Dutch (and neighbouring) surname prefixes recognised by
            :func:`split_dutch_name`.
        prefix_abbreviations: abbreviated prefixes and what they stand for
            ("v.d." -> "van der").
        legal_forms: legal-form words ignored when comparing names for
            duplicates ("bv", "b.v.", "sp. z o.o.").
    """

    upper_words: frozenset[str] = attrs.field(
        default=frozenset({"abn", "amro", "ing", "kpn", "ns", "ict", "ggd", "anwb", "tno"}),
        converter=_lower_set,
    )
    lower_words: frozenset[str] = attrs.field(
        default=frozenset(
            {
                "van",
                "de",
                "der",
                "den",
                "het",
                "en",
                "te",
                "ten",
                "ter",
                "op",
                "in",
                "aan",
                "bij",
                "voor",
                "of",
                "uit",
                "gemeente",
                "i",
                "w",
                "z",
                "oraz",
            }
        ),
        converter=_lower_set,
    )
    always_lower: frozenset[str] = attrs.field(
        default=frozenset({"'s", "'t"}), converter=_lower_set
    )
    fixed_spellings: Mapping[str, str] = attrs.field(
        factory=lambda: {
            "bv": "B.V.",
            "b.v.": "B.V.",
            "nv": "N.V.",
            "n.v.": "N.V.",
            "vof": "V.O.F.",
            "v.o.f.": "V.O.F.",
            "sp.": "Sp.",
            "o.o.": "o.o.",
        },
        converter=_fixed_spellings,
    )
    abbreviations: Mapping[str, str] = attrs.field(
        factory=lambda: {"E.T.B.": "Electro Technisch Bedrijf"}, converter=_plain_map
    )
    prefer: NameForm = attrs.field(default=NameForm.WRITTEN_OUT, converter=_name_form)
    name_prefixes: frozenset[str] = attrs.field(
        default=frozenset(
            {
                "van",
                "de",
                "der",
                "den",
                "het",
                "'t",
                "te",
                "ten",
                "ter",
                "in",
                "op",
                "aan",
                "bij",
                "uit",
                "onder",
                "over",
                "voor",
                "'s",
                "d'",
                "du",
                "la",
                "le",
                "von",
                "zu",
                "vom",
                "del",
                "della",
                "di",
                "da",
                "dos",
            }
        ),
        converter=_lower_set,
    )
    prefix_abbreviations: Mapping[str, str] = attrs.field(
        factory=lambda: {
            "v.d.": "van der",
            "v.d": "van der",
            "vd": "van der",
            "v/d": "van der",
            "v.": "van",
            "i.t.": "in 't",
            "v.'t": "van 't",
        },
        converter=_prefix_abbreviations,
    )
    legal_forms: frozenset[str] = attrs.field(
        default=frozenset(
            {
                "bv",
                "b.v.",
                "nv",
                "n.v.",
                "vof",
                "v.o.f.",
                "cv",
                "c.v.",
                "sp.",
                "z",
                "o.o.",
                "sp.j.",
                "s.a.",
                "sa",
                "ltd",
                "ltd.",
                "gmbh",
                "inc",
                "inc.",
            }
        ),
        converter=_lower_set,
    )
    _abbrev_re: re.Pattern[str] | None = attrs.field(init=False, default=None, eq=False, repr=False)
    _written_re: re.Pattern[str] | None = attrs.field(
        init=False, default=None, eq=False, repr=False
    )
    _by_letters: Mapping[str, str] = attrs.field(init=False, factory=dict, eq=False, repr=False)
    _by_written: Mapping[str, str] = attrs.field(init=False, factory=dict, eq=False, repr=False)
    _abbrev_by_letters: Mapping[str, str] = attrs.field(
        init=False, factory=dict, eq=False, repr=False
    )
    # Results of the pure per-word and per-name steps, by their input: imports
    # meet the same words ("bakkerij", "B.V.") and last names again and again.
    _memo: dict[tuple[Any, ...], Any] = attrs.field(init=False, factory=dict, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # Compiled once per conventions object: the importer calls these per row.
        by_letters: dict[str, str] = {}
        abbrev_by_letters: dict[str, str] = {}
        by_written: dict[str, str] = {}
        abbrev_parts: list[str] = []
        written_parts: list[str] = []
        for abbreviation, written in self.abbreviations.items():
            letters = _letters(abbreviation)
            if not letters or not written.strip():
                raise InvalidInput("abbreviations", "needs a non-empty abbreviation and form")
            by_letters[letters] = written
            abbrev_by_letters[letters] = abbreviation
            by_written[" ".join(written.lower().split())] = abbreviation
            abbrev_parts.append(r"\.?\s?".join(re.escape(ch) for ch in letters) + r"\.?")
            written_parts.append(r"\s+".join(re.escape(w) for w in written.split()))
        set_ = object.__setattr__
        set_(self, "_by_letters", by_letters)
        set_(self, "_by_written", by_written)
        set_(self, "_abbrev_by_letters", abbrev_by_letters)
        if abbrev_parts:
            set_(
                self,
                "_abbrev_re",
                re.compile(r"(?<![\w.])(?:" + "|".join(abbrev_parts) + r")(?!\w)", re.I),
            )
            set_(
                self,
                "_written_re",
                re.compile(r"(?<!\w)(?:" + "|".join(written_parts) + r")(?!\w)", re.I),
            )

    def canonical_form(self, name: str) -> str:
        """``name`` with every known abbreviation or written-out form in the preferred form."""
        if self.prefer is NameForm.WRITTEN_OUT:
            if self._abbrev_re is None:
                return name
            return self._abbrev_re.sub(lambda m: self._by_letters[_letters(m.group(0))], name)
        if self._written_re is None or self._abbrev_re is None:
            return name
        name = self._abbrev_re.sub(lambda m: self._abbrev_by_letters[_letters(m.group(0))], name)
        return self._written_re.sub(
            lambda m: self._by_written[" ".join(m.group(0).lower().split())], name
        )


DEFAULT_CONVENTIONS = NameConventions()
"""The built-in conventions: Dutch capitalisation, written-out names, Dutch prefixes."""

_DOTTED = re.compile(r"^(?:[^\W\d_]\.)+[^\W\d_]?\.?$")


def _title_segment(segment: str) -> str:
    lowered = segment.lower()
    if lowered in ("'s", "'t"):
        return lowered
    if lowered.startswith("ij"):
        # Dutch IJ is one letter: IJmuiden, IJsselstein.
        return "IJ" + lowered[2:]
    for i, ch in enumerate(lowered):
        if ch.isalpha():
            return lowered[:i] + ch.upper() + lowered[i + 1 :]
    return lowered


def _case_word(word: str, first: bool, recase_all: bool, conv: NameConventions) -> str:
    key = word.lower()
    fixed = conv.fixed_spellings.get(key)
    if fixed is not None:
        return fixed
    if key in conv.upper_words:
        return word.upper()
    if key in conv.always_lower:
        return key
    if key in conv.lower_words:
        return _title_segment(key) if first else key
    if _DOTTED.match(word):
        return word.upper()
    if not recase_all and not word.islower():
        # A deliberate mixed or upper case ("McDonald's", "KPN") is kept.
        return word
    parts = word.split("-")
    out = []
    for i, part in enumerate(parts):
        p = part.lower()
        if i > 0 and p in conv.lower_words:
            out.append(p)
        elif p in conv.upper_words:
            out.append(p.upper())
        else:
            out.append(_title_segment(part))
    return "-".join(out)


def normalise_relation_name(name: str, conventions: NameConventions = DEFAULT_CONVENTIONS) -> str:
    """A relation name written per the conventions (A1).

    Collapses white space, writes known abbreviations in the preferred form,
    capitalises words ("abn amro" -> "ABN AMRO", "gemeente utrecht" ->
    "Gemeente Utrecht", "E.T.B. DE GROOT" -> "Electro Technisch Bedrijf de
    Groot"). A name typed all in capitals or all in lower case is recased word
    by word; inside a mixed-case name, deliberate casing such as "McDonald's"
    is kept.

    Raises:
        InvalidInput: the name is not text or is blank.
    """
    if not isinstance(name, str):
        raise InvalidInput("name", "must be text", name)
    text = " ".join(name.split())
    if not text:
        raise InvalidInput("name", "must not be empty", name)
    recased = _recase_name(text, conventions)
    # A mixed-case name can come out all in capitals ("AA a" -> "AA A"), which a
    # second run would read as typed in capitals and recase. Recasing such a
    # result once more makes normalising twice the same as normalising once.
    if _typed_in_one_case(recased) and not _typed_in_one_case(text):
        recased = _recase_name(recased, conventions)
    return recased


def _typed_in_one_case(text: str) -> bool:
    return text.isupper() or text.islower()


_MEMO_LIMIT = 50_000
"""Entries a conventions object remembers before it starts afresh (bounds memory)."""


def _remember(conv: NameConventions, key: Any, value: Any) -> None:
    remember(conv._memo, key, value, _MEMO_LIMIT)


def _cased(word: str, first: bool, recase_all: bool, conv: NameConventions) -> str:
    """:func:`_case_word`, remembered per conventions (digits are not remembered)."""
    if word.isdigit() and word.isascii():
        # Digits have no case: _case_word gives them back unless they have a
        # fixed spelling. House numbers would only crowd the memo.
        return conv.fixed_spellings.get(word, word)
    cased = _case_word(word, first, recase_all, conv)
    _remember(conv, (word, first, recase_all), cased)
    return cased


def _recase_name(text: str, conventions: NameConventions) -> str:
    recase_all = _typed_in_one_case(text)
    words = conventions.canonical_form(text).split(" ")
    get = conventions._memo.get
    head = words[0]
    out = [get((head, True, recase_all)) or _cased(head, True, recase_all, conventions)]
    for w in words[1:]:
        out.append(get((w, False, recase_all)) or _cased(w, False, recase_all, conventions))
    return " ".join(out)


_PUNCT = re.compile(r"[^\w\s]")


def comparison_key(name: str, conventions: NameConventions = DEFAULT_CONVENTIONS) -> str:
    """A key under which spellings of one name compare equal (for duplicate detection).

    Abbreviations are brought to one form, case, punctuation and legal forms
    ("B.V.", "sp. z o.o.") are dropped: "E.T.B. de Groot B.V." and "electro
    technisch bedrijf De Groot" have the same key.
    """
    text = conventions.canonical_form(" ".join(str(name).split())).lower()
    words = [w for w in text.split(" ") if w not in conventions.legal_forms]
    return " ".join(_PUNCT.sub("", " ".join(words)).split())


@attrs.frozen
class PersonName:
    """A person's name split the Dutch way: sorted on ``last_name``, prefix apart.

    ``first_name`` is empty when only initials were given; ``initials`` are
    always filled ("J.H."), derived from the first names when needed.
    """

    first_name: str
    initials: str
    prefix: str
    last_name: str

    @property
    def sort_name(self) -> str:
        """The name lists sort on ("Berg, van der")."""
        return f"{self.last_name}, {self.prefix}" if self.prefix else self.last_name


_INITIAL_PART = re.compile(r"^(?:[^\W\d_]{1,3}\.)+$|^[^\W\d_]\.?$")
_MULTI_LETTER_INITIALS = frozenset({"th", "chr", "ph", "ij", "joh", "wm", "jac", "fr"})


def _looks_like_initials(token: str) -> bool:
    return bool(_INITIAL_PART.match(token)) or (
        token.isupper() and token.isalpha() and len(token) <= 3
    )


def _is_prefix(token: str, conv: NameConventions) -> str | None:
    key = token.lower()
    if key in conv.prefix_abbreviations:
        return conv.prefix_abbreviations[key]
    if key in conv.name_prefixes:
        return key
    # "d'Ancona": the prefix is glued to the name.
    return None


def _name_case(word: str, conv: NameConventions) -> str:
    out = []
    for i, part in enumerate(word.split("-")):
        if i > 0 and part.lower() in conv.name_prefixes:
            out.append(part.lower())
        elif part.islower() or part.isupper():
            out.append(_title_segment(part))
        else:
            out.append(part)
    return "-".join(out)


def split_dutch_name(name: str, conventions: NameConventions = DEFAULT_CONVENTIONS) -> PersonName:
    """Split a person's name into first name, initials, prefix and last name.

    Accepts "Jan van der Berg", "J.H. v.d. Berg", "Van Der Berg", "jan van 't
    hof", "Piet ten Brink" and the sorted form "Berg, J.H. van der". The prefix
    is stored in lower case with abbreviations written out ("v.d." -> "van
    der"); names are capitalised ("berg" -> "Berg"), double-barrelled names kept
    whole ("Jansen-van Dijk").

    Raises:
        InvalidInput: the name is blank or has no last name after its prefix.
    """
    if not isinstance(name, str):
        raise InvalidInput("name", "must be text", name)
    text = " ".join(name.split())
    if not text:
        raise InvalidInput("name", "must not be empty", name)
    key = ("person", text)
    found: PersonName | None = conventions._memo.get(key)
    if found is None:
        found = _split_dutch_name(text, name, conventions)
        _remember(conventions, key, found)
    return found


def _split_dutch_name(text: str, name: str, conventions: NameConventions) -> PersonName:
    if "," in text:
        last_part, _, rest = text.partition(",")
        tokens = rest.split()
        lead: list[str] = []
        prefix_tokens: list[str] = []
        for tok in tokens:
            p = _is_prefix(tok, conventions)
            if p is not None and (prefix_tokens or not _looks_like_initials(tok)):
                prefix_tokens.append(p)
            elif prefix_tokens:
                raise InvalidInput(
                    "name", "has name parts after the prefix in 'Last, First prefix'"
                )
            else:
                lead.append(tok)
        last_tokens = last_part.split()
        # "van der Berg, Jan" carries the prefix before the comma.
        while len(last_tokens) > 1 and _is_prefix(last_tokens[0], conventions) is not None:
            prefix_tokens.append(_is_prefix(last_tokens.pop(0), conventions) or "")
        if not last_tokens:
            raise InvalidInput("name", "has no last name before the comma", name)
        return _person(lead, prefix_tokens, last_tokens, name, conventions)
    tokens = text.split(" ")
    for i, tok in enumerate(tokens[:-1]):
        if "-" in tok and tok.rsplit("-", 1)[1].lower() in conventions.name_prefixes:
            # "Marie Jansen-van Dijk": a double-barrelled last name starts here.
            return _person(tokens[:i], [], tokens[i:], name, conventions)
        if _is_prefix(tok, conventions) is not None and (
            # A single capital like "D." before a prefix is an initial, not "d'".
            i > 0
            or not _looks_like_initials(tok)
            or tok.lower() in conventions.prefix_abbreviations
        ):
            end = i
            while end < len(tokens) - 1 and _is_prefix(tokens[end], conventions) is not None:
                end += 1
            prefix = [_is_prefix(t, conventions) or "" for t in tokens[i:end]]
            return _person(tokens[:i], prefix, tokens[end:], name, conventions)
    return _person(tokens[:-1], [], tokens[-1:], name, conventions)


def _person(
    lead: list[str], prefix: list[str], last: list[str], original: str, conv: NameConventions
) -> PersonName:
    if not last:
        raise InvalidInput("name", "has no last name", original)
    firsts = [t for t in lead if not _looks_like_initials(t)]
    given_initials = [t for t in lead if _looks_like_initials(t)]
    first_name = " ".join(_name_case(t, conv) for t in firsts)
    if given_initials:
        initials = normalise_initials("".join(given_initials))
    elif firsts:
        initials = normalise_initials(".".join(_initial_of(t) for t in firsts))
    else:
        initials = ""
    last_name = " ".join(_name_case(t, conv) for t in last)
    return PersonName(first_name, initials, " ".join(prefix).lower(), last_name)


def _initial_of(first_name: str) -> str:
    return "IJ" if first_name.lower().startswith("ij") else first_name[0]


def normalise_initials(value: str) -> str:
    """Initials as capitals each followed by a dot: "jh", "J.H.", "j. h." -> "J.H.".

    Recognises the multi-letter Dutch initials "Th.", "Chr.", "Ph." and "IJ."
    when they are written with a dot ("th.j." -> "Th.J."); "ij" counts as one
    letter. An empty value gives "".

    Raises:
        InvalidInput: the value holds anything but letters, dots, hyphens and spaces.
    """
    if not isinstance(value, str):
        raise InvalidInput("initials", "must be text", value)
    known = _KNOWN_INITIALS.get(value)
    if known is not None:
        return known
    written = _initials(value)
    remember(_KNOWN_INITIALS, value, written, _MEMO_LIMIT)
    return written


_KNOWN_INITIALS: dict[str, str] = {}
"""Initials written before: a file holds a few hundred different ones (bounded memo)."""


def _initials(value: str) -> str:
    text = value.strip()
    if not text:
        return ""
    cleaned = text.replace("-", ".").replace(" ", ".")
    letters = cleaned.replace(".", "")
    if letters and not letters.isalpha():
        raise InvalidInput("initials", "may hold only letters and dots", value)
    parts = [p for p in cleaned.split(".") if p]
    out: list[str] = []
    for part in parts:
        key = part.lower()
        if len(parts) > 1 and key in _MULTI_LETTER_INITIALS:
            out.append("IJ" if key == "ij" else key[0].upper() + key[1:])
            continue
        i = 0
        while i < len(key):
            if key.startswith("ij", i):
                out.append("IJ")
                i += 2
            else:
                out.append(key[i].upper())
                i += 1
    return "".join(f"{p}." for p in out)


_NL_POSTCODE = re.compile(r"^([1-9][0-9]{3})\s*([A-Za-z]{2})$")
_PL_POSTCODE = re.compile(r"^([0-9]{2})\s*-?\s*([0-9]{3})$")
_OTHER_POSTCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,11}$")


def normalise_postcode(value: str, country: str = "NL") -> str:
    """A postcode in the national format: NL "1234 AB", PL "00-950".

    "1234ab" -> "1234 AB"; "00950" -> "00-950". Other countries: trimmed,
    upper case, single spaces. An empty value gives "".

    Raises:
        InvalidInput: the postcode does not fit the country's format (Dutch
            letter pairs SA, SD and SS are never issued and are refused too).
    """
    if not isinstance(value, str):
        raise InvalidInput("postcode", "must be text", value)
    text = value.strip()
    if not text:
        return ""
    country = country.upper()
    if country == "NL":
        m = _NL_POSTCODE.match(text)
        if not m or m.group(2).upper() in ("SA", "SD", "SS"):
            raise InvalidInput("postcode", "is not a Dutch postcode like '1234 AB'", value)
        return f"{m.group(1)} {m.group(2).upper()}"
    if country == "PL":
        m = _PL_POSTCODE.match(text)
        if not m:
            raise InvalidInput("postcode", "is not a Polish postcode like '00-950'", value)
        return f"{m.group(1)}-{m.group(2)}"
    text = " ".join(text.upper().split())
    if not _OTHER_POSTCODE.match(text):
        raise InvalidInput("postcode", "is not a postcode (letters, digits, spaces, '-')", value)
    return text


_PHONE_JUNK = re.compile(r"[\s\-./()]")
_COUNTRY_CODES = {"NL": "31", "PL": "48", "BE": "32", "DE": "49"}
_NATIONAL_DIGITS: Mapping[str, tuple[int, int]] = {
    "31": (9, 9),
    "48": (9, 9),
    "32": (8, 9),
    "49": (6, 13),
}


def _pure_phone(value: str, country: str) -> str:
    text = value.strip()
    # "+31 (0)20 ..." writes the trunk zero that must go in the international form.
    text = text.replace("(0)", "")
    digits = _PHONE_JUNK.sub("", text)
    if digits.startswith("+"):
        rest = digits[1:]
    elif digits.startswith("00"):
        rest = digits[2:]
    else:
        code = _COUNTRY_CODES.get(country)
        if code is None:
            raise InvalidInput(
                "phone", f"give numbers of country {country!r} with a +country code", value
            )
        national = digits[1:] if code != "48" and digits.startswith("0") else digits
        if code != "48" and not digits.startswith("0"):
            raise InvalidInput("phone", "a national number starts with 0 (or give +31...)", value)
        rest = code + national
    if not rest.isdigit():
        raise InvalidInput(
            "phone", "may hold only digits, spaces, '+', '-', '.', '(' and ')'", value
        )
    for code, (low, high) in _NATIONAL_DIGITS.items():
        if rest.startswith(code):
            national = rest[len(code) :]
            if national.startswith("0") or not low <= len(national) <= high:
                raise InvalidInput(
                    "phone", f"a +{code} number has {low} digits after the country code", value
                )
            return f"+{rest}"
    if not 8 <= len(rest) <= 15 or rest.startswith("0"):
        raise InvalidInput("phone", "an international number has 8 to 15 digits", value)
    return f"+{rest}"


def normalise_phone(value: str, country: str = "NL") -> str:
    """A phone number in E.164 form: "020-1234567" -> "+31201234567".

    National numbers are read for ``country`` (NL, PL, BE, DE); "+31 (0)20
    ...", "0031 ..." and "+48 501 234 567" are accepted; other countries are
    read in international form only. An empty value gives "".

    Raises:
        InvalidInput: not a phone number, or the wrong number of digits.
    """
    if not isinstance(value, str):
        raise InvalidInput("phone", "must be text", value)
    if not value.strip():
        return ""
    country = country.upper()
    return _pure_phone(value, country)


def normalise_email(value: str) -> str:
    """An e-mail address trimmed, with its domain in lower case. An empty value gives "".

    Raises:
        InvalidInput: not an e-mail address.
    """
    if not isinstance(value, str):
        raise InvalidInput("email", "must be text", value)
    text = value.strip()
    if not text:
        return ""
    local, at, domain = text.rpartition("@")
    # ``text`` is stripped, so it holds white space exactly when it splits.
    if not at or not local or "." not in domain or len(text.split()) != 1:
        raise InvalidInput("email", f"{value!r} is not an e-mail address", value)
    return f"{local}@{domain.lower()}"


_GENDERS: Mapping[str, Gender] = {
    **dict.fromkeys(
        (
            "m",
            "male",
            "man",
            "men",
            "dhr",
            "dhr.",
            "heer",
            "de heer",
            "mr",
            "mr.",
            "pan",
            "mężczyzna",
            "mezczyzna",
            "h",
        ),
        Gender.MALE,
    ),
    **dict.fromkeys(
        (
            "f",
            "v",
            "female",
            "vrouw",
            "mevr",
            "mevr.",
            "mw",
            "mw.",
            "mevrouw",
            "mrs",
            "mrs.",
            "ms",
            "ms.",
            "pani",
            "kobieta",
            "k",
            "w",
        ),
        Gender.FEMALE,
    ),
    **dict.fromkeys(("x", "other", "anders", "inna", "inne", "o"), Gender.OTHER),
    **dict.fromkeys(("", "?", "unknown", "onbekend", "nieznana", "u"), Gender.UNKNOWN),
}


def normalise_gender(value: str) -> Gender:
    """A :class:`~crm_procedures.model.contact.Gender` from common English, Dutch and Polish
    spellings and salutations ("M", "vrouw", "dhr.", "mevr.", "pani").

    Raises:
        InvalidInput: the value is not a known spelling.
    """
    if not isinstance(value, str):
        raise InvalidInput("gender", "must be text", value)
    key = " ".join(value.lower().split())
    try:
        return _GENDERS[key]
    except KeyError:
        raise InvalidInput(
            "gender", "is not a known gender (m/f/x, man/vrouw, dhr./mevr., pan/pani)", value
        ) from None
