"""Installation settings for projects, activities and visit reports.

An installation configures its choice lists (L6) as data; the services for
projects, activities and visit reports receive them through one
:class:`RecordSettings` value, passed as the ``settings`` argument. Without
settings no choice list is configured, and any choice value given for a
dictionary field is refused with a message naming the missing dictionary.

The dictionary keys the services look up are the ``*_DICTIONARY`` constants
below; :func:`standard_dictionaries` returns a ready set with the values the
product documents name (contact channels, the predefined meeting categories,
visit types, chances in percent), labelled in English, Dutch and Polish.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.model._mappings import mapping_of
from crm_procedures.model.dictionaries import Choice, Dictionary
from crm_procedures.model.project import CUSTOM_CHOICE_FIELDS, CUSTOM_TEXT_FIELDS

__all__ = [
    "ACTIVITY_CATEGORY_DICTIONARY",
    "ACTIVITY_CHANNEL_DICTIONARY",
    "ACTIVITY_PRIORITY_DICTIONARY",
    "PROJECT_CHANCE_DICTIONARY",
    "PROJECT_KIND_DICTIONARY",
    "PROJECT_STAGE_DICTIONARY",
    "VISIT_TYPE_DICTIONARY",
    "RecordSettings",
    "chance_fraction",
    "custom_choice_dictionary",
    "custom_field_names",
    "standard_dictionaries",
]

PROJECT_KIND_DICTIONARY = "project_kind"
PROJECT_STAGE_DICTIONARY = "project_stage"
PROJECT_CHANCE_DICTIONARY = "project_chance"
ACTIVITY_CHANNEL_DICTIONARY = "activity_channel"
ACTIVITY_PRIORITY_DICTIONARY = "activity_priority"
ACTIVITY_CATEGORY_DICTIONARY = "activity_category"
VISIT_TYPE_DICTIONARY = "visit_type"


def custom_choice_dictionary(index: int) -> str:
    """The dictionary key of free choice field ``index`` (1-5): ``project_choice_<index>``.

    Raises:
        InvalidInput: ``index`` is not a whole number from 1 to 5.
    """
    if (
        isinstance(index, bool)
        or not isinstance(index, int)
        or not 1 <= index <= CUSTOM_CHOICE_FIELDS
    ):
        raise InvalidInput(
            "index", f"must be a free choice field number from 1 to {CUSTOM_CHOICE_FIELDS}", index
        )
    return f"project_choice_{index}"


def custom_field_names() -> tuple[str, ...]:
    """The names of a project's free fields: ``text_1``-``text_4``, ``choice_1``-``choice_5``."""
    return tuple(f"text_{i}" for i in range(1, CUSTOM_TEXT_FIELDS + 1)) + tuple(
        f"choice_{i}" for i in range(1, CUSTOM_CHOICE_FIELDS + 1)
    )


_DEFAULT_FIELD_LABELS: Mapping[str, tuple[str, str, str]] = {
    "text": ("Free text {n}", "Vrij tekstveld {n}", "Pole tekstowe {n}"),
    "choice": ("Free choice {n}", "Vrij keuzeveld {n}", "Pole wyboru {n}"),
}
_LANGUAGES = ("en", "nl", "pl")
_MAX_LABEL = 100


def _custom_labels(value: Any) -> Mapping[str, Mapping[str, str]]:
    if not isinstance(value, Mapping):
        raise InvalidInput("custom_labels", "must map a field name to labels by language", value)
    names = custom_field_names()
    out: dict[str, Mapping[str, str]] = {}
    for field, labels in value.items():
        if field not in names:
            raise InvalidInput(
                "custom_labels",
                f"{field!r} is not a free field; the free fields are {', '.join(names)}",
                field,
            )
        if not isinstance(labels, Mapping) or not labels:
            raise InvalidInput(f"custom_labels[{field}]", "must map a language to a label", labels)
        checked: dict[str, str] = {}
        for language, label in labels.items():
            if not isinstance(language, str) or not language.isascii() or not language.isalpha():
                raise InvalidInput(
                    f"custom_labels[{field}]", "a language is a code like 'nl'", language
                )
            if (
                not isinstance(label, str)
                or not label.strip()
                or len(label) > _MAX_LABEL
                or any(not ch.isprintable() for ch in label)
            ):
                raise InvalidInput(
                    f"custom_labels[{field}][{language}]",
                    f"must be one line of printable text, 1-{_MAX_LABEL} characters",
                    label,
                )
            checked[language.lower()] = label.strip()
        out[field] = checked
    return out


def _dictionary_pair(field: str, key: Any, dictionary: Any) -> tuple[Any, Dictionary]:
    if not isinstance(dictionary, Dictionary):
        raise InvalidInput(f"{field}[{key}]", "must be a Dictionary", dictionary)
    return key, dictionary


def _dictionaries(value: Any) -> Mapping[str, Dictionary]:
    return mapping_of("dictionaries", value, _dictionary_pair)


def _positive(_inst: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInput(attribute.name, "must be a whole number > 0", value)


@attrs.frozen
class RecordSettings:
    """What an installation configures for projects, activities and visit reports.

    Attributes:
        dictionaries: the choice lists by key (see the ``*_DICTIONARY`` constants
            and :func:`custom_choice_dictionary`).
        max_document_bytes: the largest document accepted by ``attach_document``
            (checked before anything is stored).
        phone_country: the country (ISO 3166 alpha-2) whose numbering plan is
            assumed for national phone numbers when matching calls to contacts
            (``"NL"``: ``020 123 4567`` is ``+31201234567``).
        appointment_minutes: the length of an agenda entry for an activity
            that has a start but no end.
        custom_labels: the labels of a project's free fields (L3), by field
            name (``text_1`` .. ``text_4``, ``choice_1`` .. ``choice_5``) and
            language: ``{"text_1": {"en": "Branch", "nl": "Branche"}}``. Read
            them with :meth:`custom_label`.

    Raises :class:`~crm_procedures.errors.InvalidInput` for a non-Dictionary
    value or a non-positive size or length.
    """

    dictionaries: Mapping[str, Dictionary] = attrs.field(factory=dict, converter=_dictionaries)
    max_document_bytes: int = attrs.field(default=10 * 1024 * 1024, validator=_positive)
    phone_country: str = "NL"
    appointment_minutes: int = attrs.field(default=60, validator=_positive)
    custom_labels: Mapping[str, Mapping[str, str]] = attrs.field(
        factory=dict, converter=_custom_labels
    )

    def custom_label(self, field: str, language: str = "en") -> str:
        """The label of free field ``field`` in ``language``.

        Falls back to the field's English label, then to its first configured
        label, then to the built-in name ("Free text 1", "Vrij tekstveld 1",
        "Pole tekstowe 1").

        Raises:
            InvalidInput: ``field`` is not one of :func:`custom_field_names`.
        """
        if field not in custom_field_names():
            raise InvalidInput(
                "field",
                f"{field!r} is not a free field; the free fields are "
                + ", ".join(custom_field_names()),
                field,
            )
        labels = self.custom_labels.get(field, {})
        language = language.lower() if isinstance(language, str) else "en"
        for key in (language, "en"):
            if key in labels:
                return labels[key]
        if labels:
            return next(iter(labels.values()))
        kind, _, number = field.partition("_")
        defaults = _DEFAULT_FIELD_LABELS[kind]
        template = defaults[_LANGUAGES.index(language)] if language in _LANGUAGES else defaults[0]
        return template.format(n=number)

    def require(self, dictionary: str, key: str | None, field: str, *, new: bool = True) -> None:
        """Check that ``key`` is a choice of ``dictionary`` (``None`` always passes).

        ``new=True`` refuses deactivated choices (a value being picked now).

        Raises:
            InvalidInput: the dictionary is not configured, or ``key`` is not in
                it (or is deactivated and ``new`` is true).
        """
        if key is None:
            return
        found = self.dictionaries.get(dictionary)
        if found is None:
            raise InvalidInput(
                field,
                f"{key!r} cannot be checked: the installation has no {dictionary!r} "
                "dictionary; configure it in RecordSettings.dictionaries",
                key,
            )
        found.require(key, field, new=new)


def chance_fraction(chance: str | None, dictionary: Dictionary | None = None) -> Decimal | None:
    """The probability a chance choice stands for: ``"50%"`` -> ``Decimal("0.5")``.

    The choice key is read first, then its label in ``dictionary`` (so a key
    such as ``"likely"`` labelled ``"75%"`` works). Returns ``None`` when
    neither is a percentage between 0 and 100.
    """
    if chance is None:
        return None
    candidates = [chance]
    if dictionary is not None:
        choice = dictionary.get(chance)
        if choice is not None:
            candidates.append(choice.label)
    for text in candidates:
        value = _percentage(text)
        if value is not None:
            return value
    return None


def _percentage(text: str) -> Decimal | None:
    cleaned = text.strip().replace(",", ".")
    if not cleaned.endswith("%"):
        return None
    try:
        number = Decimal(cleaned[:-1].strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or number > 100:
        return None
    return number / Decimal(100)


def _dictionary(key: str, label: str, values: list[tuple[str, str, str, str]]) -> Dictionary:
    return Dictionary(
        key=key,
        label=label,
        choices=tuple(
            Choice(key=k, label=en, sort_order=i, labels={"en": en, "nl": nl, "pl": pl})
            for i, (k, en, nl, pl) in enumerate(values, start=1)
        ),
    )


def standard_dictionaries() -> dict[str, Dictionary]:
    """A ready set of choice lists an installation can start from and change.

    Channels (phone, e-mail), priorities, the four predefined meeting
    categories (P7), visit types (V1) and chances in steps of 10%.
    """
    chances = [(f"{p}%", f"{p}%", f"{p}%", f"{p}%") for p in range(0, 101, 10)]
    return {
        ACTIVITY_CHANNEL_DICTIONARY: _dictionary(
            ACTIVITY_CHANNEL_DICTIONARY,
            "Channel",
            [
                ("phone", "Phone", "Telefoon", "Telefoniczny"),
                ("email", "E-mail", "E-mail", "E-mail"),
                ("visit", "Visit", "Bezoek", "Wizyta"),
            ],
        ),
        ACTIVITY_PRIORITY_DICTIONARY: _dictionary(
            ACTIVITY_PRIORITY_DICTIONARY,
            "Priority",
            [
                ("high", "High", "Hoog", "Wysoki"),
                ("normal", "Normal", "Normaal", "Normalny"),
                ("low", "Low", "Laag", "Niski"),
            ],
        ),
        ACTIVITY_CATEGORY_DICTIONARY: _dictionary(
            ACTIVITY_CATEGORY_DICTIONARY,
            "Category",
            [
                (
                    "negotiations",
                    "Commercial negotiations",
                    "Commerciële onderhandelingen",
                    "Negocjacje handlowe",
                ),
                ("acquisition", "Customer acquisition", "Klantwerving", "Pozyskanie klienta"),
                ("fulfilment", "Order fulfilment", "Orderafhandeling", "Realizacja zamówień"),
                ("retention", "Customer retention", "Klantbehoud", "Utrzymanie klienta"),
            ],
        ),
        VISIT_TYPE_DICTIONARY: _dictionary(
            VISIT_TYPE_DICTIONARY,
            "Visit type",
            [
                ("first", "First visit", "Eerste bezoek", "Pierwsza wizyta"),
                ("revisit", "Revisit", "Herbezoek", "Ponowna wizyta"),
                ("repeat", "Repeat visit", "Herhalingsbezoek", "Wizyta cykliczna"),
            ],
        ),
        PROJECT_CHANCE_DICTIONARY: _dictionary(PROJECT_CHANCE_DICTIONARY, "Chance", chances),
    }
