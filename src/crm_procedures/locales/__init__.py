"""Labels and messages in English, Dutch and Polish (X8).

One mechanism for every translated text: a JSON catalogue per language
(``en.json``, ``nl.json``, ``pl.json`` in this package), each a flat map from
a dotted key to a text. Key families:

* ``dictionary.<dictionary>``: the name of a built-in choice list;
* ``choice.<dictionary>.<choice>``: the label of one choice (the order of the
  keys in ``en.json`` is the sort order of the choices);
* ``error.<name>``: the message template of an error class;
* ``report.*``: report titles, column headings and row labels;
* ``action.*``: the prospect actions a user may be offered (close, reopen, ...).

Message templates use ``string.Template`` placeholders (``${field}``): a
template is data, never code, and every language's template of one key names
the same placeholders (a test keeps them in step). A key missing in a language
falls back to English; an unknown language raises
:class:`~crm_procedures.errors.InvalidInput`.

The catalogues are package data read with :mod:`importlib.resources` once and
cached, so a lookup is a dictionary access.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from crm_procedures.errors import CrmError, InvalidInput
from crm_procedures.model.dictionaries import Choice, Dictionary

__all__ = [
    "BUILTIN_DICTIONARIES",
    "LANGUAGES",
    "builtin_dictionaries",
    "catalogue",
    "error_message",
    "label",
    "message",
    "placeholders",
]

LANGUAGES: tuple[str, ...] = ("en", "nl", "pl")
"""The languages with a catalogue; English is the fallback for missing keys."""

BUILTIN_DICTIONARIES: tuple[str, ...] = (
    "prospect_status",
    "relation_stage",
    "activity_kind",
    "activity_channel",
    "activity_priority",
    "activity_category",
    "visit_type",
    "close_reason",
)
"""The keys of the dictionaries :func:`builtin_dictionaries` returns, in order."""


def _check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InvalidInput(
            "language",
            f"{language!r} is not a supported language; choose one of {', '.join(LANGUAGES)}",
            language,
        )
    return language


@cache
def _load(language: str) -> dict[str, str]:
    text = resources.files(__name__).joinpath(f"{language}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise InvalidInput(f"{language}.json", "must be a JSON object of text to text")
    return data


def catalogue(language: str) -> Mapping[str, str]:
    """The whole catalogue of ``language`` as a read-only view (key -> text).

    Raises:
        InvalidInput: the language is not one of :data:`LANGUAGES`.
    """
    from types import MappingProxyType

    return MappingProxyType(_load(_check_language(language)))


def _lookup(key: str, language: str) -> str:
    found = _load(_check_language(language)).get(key)
    if found is None:
        found = _load("en").get(key)
    if found is None:
        raise InvalidInput("key", f"{key!r} is not a known label or message key", key)
    return found


def label(key: str, language: str = "en") -> str:
    """The label of ``key`` in ``language`` (English when the language lacks it).

    ``label("choice.prospect_status.running", "nl") == "Lopend"``.

    Raises:
        InvalidInput: unknown language, or a key no catalogue has.
    """
    return _lookup(key, language)


def placeholders(template: str) -> frozenset[str]:
    """The placeholder names a ``string.Template`` text uses (``${x}`` and ``$x``)."""
    names: set[str] = set()
    for match in string.Template.pattern.finditer(template):
        name = match.group("named") or match.group("braced")
        if name:
            names.add(name)
    return frozenset(names)


def message(key: str, language: str = "en", **fields: Any) -> str:
    """The message ``key`` in ``language`` with its placeholders filled in.

    ``message("error.not_found", "nl", kind="prospect", record_id="p1")``.
    Values are inserted as text; they are never evaluated.

    Raises:
        InvalidInput: unknown language or key, or a placeholder of the template
            without a value in ``fields``.
    """
    template = _lookup(key, language)
    missing = placeholders(template) - fields.keys()
    if missing:
        raise InvalidInput(
            "fields",
            f"message {key!r} needs {', '.join(sorted(missing))}; pass them as keyword arguments",
            sorted(missing),
        )
    return string.Template(template).safe_substitute({k: str(v) for k, v in fields.items()})


def _choice_keys(dictionary: str) -> list[str]:
    prefix = f"choice.{dictionary}."
    return [k[len(prefix) :] for k in _load("en") if k.startswith(prefix)]


def builtin_dictionaries(language: str = "en") -> dict[str, Dictionary]:
    """The built-in choice lists, labelled in ``language``, with every language's labels.

    Each :class:`~crm_procedures.model.dictionaries.Choice` carries ``labels``
    for all of :data:`LANGUAGES`; its default ``label`` is the one of
    ``language``. Keys are those of :data:`BUILTIN_DICTIONARIES`.

    Raises:
        InvalidInput: the language is not one of :data:`LANGUAGES`.
    """
    _check_language(language)
    out: dict[str, Dictionary] = {}
    for dictionary in BUILTIN_DICTIONARIES:
        choices = []
        for order, key in enumerate(_choice_keys(dictionary), start=1):
            full = f"choice.{dictionary}.{key}"
            labels = {lang: _lookup(full, lang) for lang in LANGUAGES}
            choices.append(Choice(key=key, label=labels[language], sort_order=order, labels=labels))
        out[dictionary] = Dictionary(
            key=dictionary,
            choices=tuple(choices),
            label=_lookup(f"dictionary.{dictionary}", language),
        )
    return out


def _quoted(value: object) -> str:
    return "-" if value is None else str(value)


def error_message(error: BaseException, language: str = "en") -> str:
    """The message of a crm_procedures error in ``language``, built from its attributes.

    Errors carry their facts as attributes (which field, which step, which
    role); this renders them with the error's template of the catalogue. Free
    text inside an error (an ``InvalidInput`` reason) stays as the library
    wrote it. Errors without a template fall back to ``str(error)``.

    Raises:
        InvalidInput: the language is not one of :data:`LANGUAGES`.
    """
    from crm_procedures import errors as e

    _check_language(language)
    fields: dict[str, str]
    if isinstance(error, e.TransitionNotAllowed):
        allowed = ", ".join(error.allowed) or "-"
        if error.last_step is None:
            return message(
                "error.transition_not_allowed_start",
                language,
                role=error.role,
                step=error.step,
                allowed=allowed,
            )
        fields = {"role": error.role, "step": error.step, "last_step": error.last_step}
        return message("error.transition_not_allowed", language, allowed=allowed, **fields)
    simple: list[tuple[type[BaseException], str, tuple[str, ...]]] = [
        (e.InvalidInput, "error.invalid_input", ("field", "reason")),
        (e.NotFound, "error.not_found", ("kind", "record_id")),
        (e.AccessDenied, "error.access_denied", ("user_id", "permission")),
        (e.ProspectClosed, "error.prospect_closed", ("prospect_id", "reason")),
        (e.ProspectNotReleased, "error.prospect_not_released", ("prospect_id",)),
        (e.ActivityFrozen, "error.activity_frozen", ("activity_id",)),
        (e.ConcurrencyConflict, "error.concurrency_conflict", ("kind", "aggregate_id")),
        (e.TemplateError, "error.template_error", ("template", "reason")),
    ]
    for cls, key, names in simple:
        if isinstance(error, cls):
            return message(key, language, **{n: _quoted(getattr(error, n, None)) for n in names})
    if isinstance(error, e.DefinitionError):
        return message("error.definition_error", language, count=len(error.findings))
    if isinstance(error, e.RuleViolation):
        return message("error.rule_violation", language, count=len(error.violations))
    if isinstance(error, e.DeliveryError):
        return message("error.delivery_error", language, reason=error.message)
    if isinstance(error, CrmError):
        return message("error.crm_error", language, reason=error.message)
    return str(error)
