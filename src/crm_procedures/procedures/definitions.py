"""Loading and dumping definitions as plain data: TOML, JSON or mappings (X7).

The TOML format (JSON has the same shape)::

    version = 1

    [roles.marketeer]
    label = "Marketeer"

    [steps.call]
    name = "Call"                       # kind defaults to "plain"

    [steps.send_info]
    name = "Send information"
    kind = "send_email"
    template = "info"

    [steps.make_appointment]
    name = "Make appointment"
    kind = "make_appointment"
    duration_minutes = 60
    appointment_with = "client"

    [step_kinds.sms]                    # a kind the installation adds
    description = "Send a text message"
    requires = ["text"]                 # step attributes or keys of [steps.x.params]

    [templates.info]
    language = "en"                     # the default language (of subject and text)
    subject = "Information about {{project.name}}"
    text = "{{contact.salutation}}, ..."
    attachments = [{ document = "doc-brochure" }]   # or { digest = "<sha256>", filename = "a.pdf" }

    [templates.info.variants.nl]        # the same e-mail for contacts whose language is nl
    subject = "Informatie over {{project.name}}"
    text = "{{contact.salutation}}, ..."

    [procedures.standard]
    name = "Standard procedure"
    steps = ["call", "call_back", "send_info", "make_appointment"]
    close_reasons = ["not_interested"]
    exit_on = ["won", "reply", "unsubscribe"]   # events that stop automatic steps
    on_appointment_lost = "make_appointment"    # booked again when the contact cancels/declines

    [procedures.standard.matrix.marketeer]
    START = ["call"]                    # what may begin a procedure (nothing done yet)
    call = ["call_back", "send_info", "make_appointment"]

    [procedures.standard.corrections]
    project_leader = "*"                # or a list of steps

    time_zone = "Europe/Amsterdam"      # the project's zone (default UTC)

    [calendars.nl]                      # business days (see procedures.timing.data)
    country = "NL"

    [steps.send_info_auto]
    name = "Send information"
    kind = "send_email"
    template = "info"
    automatic = true                    # the scheduler performs it when due
    due = { after = "previous_step", business_days = 2, calendar = "nl" }
    send_window = { days = ["mon", "tue", "wed", "thu", "fri"], from = "09:00", to = "17:00" }

    [dictionaries.close_reason]
    label = "Close reason"
    [[dictionaries.close_reason.choices]]
    key = "not_interested"
    label = "Not interested"
    labels = { nl = "Geen interesse" }

Loading reports every problem at once, each with its location (file, table
and key): unknown keys, wrong types, duplicate keys, references to steps or
roles that do not exist, and everything :func:`validate` finds.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crm_procedures.errors import DefinitionError, Finding, InvalidInput
from crm_procedures.model._checks import shown
from crm_procedures.model.dictionaries import Dictionary
from crm_procedures.procedures import validation as _validation
from crm_procedures.procedures.procedure import (
    ANY_STEP,
    START,
    AnyStep,
    Definitions,
    Procedure,
    StepRef,
)
from crm_procedures.procedures.step import PLAIN, ParamValue, Role, Step, StepKindSpec
from crm_procedures.procedures.templates import (
    EmailTemplate,
    TemplateAttachment,
    TemplateVariant,
)
from crm_procedures.procedures.timing.business_calendar import BusinessCalendar
from crm_procedures.procedures.timing.data import (
    dump_calendars,
    dump_due_rule,
    dump_send_window,
    load_calendars,
    load_due_rule,
    load_send_window,
)

__all__ = ["dump_definitions", "load_definitions"]

Source = str | os.PathLike[str] | Mapping[str, Any]

_TOP = (
    "version",
    "roles",
    "step_kinds",
    "steps",
    "templates",
    "procedures",
    "dictionaries",
    "calendars",
    "time_zone",
)
_ROLE = ("label",)
_KIND = ("description", "requires", "unattended")
_STEP = (
    "name",
    "kind",
    "template",
    "duration_minutes",
    "appointment_with",
    "final",
    "description",
    "params",
    "outcome",
    "close_reason",
    "labels",
    "due",
    "automatic",
    "send_window",
)
_TEMPLATE = ("subject", "text", "html", "language", "variants", "attachments")
_VARIANT = ("subject", "text", "html")
_ATTACHMENT = ("document", "digest", "filename", "mime_type")
_PROCEDURE = (
    "name",
    "description",
    "steps",
    "version",
    "matrix",
    "corrections",
    "close_reasons",
    "exit_on",
    "on_appointment_lost",
)
_DICTIONARY = ("label", "choices")


class _Duplicates(dict[str, Any]):
    """A JSON object that had duplicate keys (remembered to report them with a location)."""

    duplicates: list[str]


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    dups: list[str] = []
    for key, value in pairs:
        if key in result:
            dups.append(key)
        result[key] = value
    if dups:
        marked = _Duplicates(result)
        marked.duplicates = dups
        return marked
    return result


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


class _Reader:
    """Walks plain data, collecting every structural problem as a finding."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def problem(self, code: str, where: str, message: str) -> None:
        self.findings.append(Finding(code, message, where))

    def table(self, value: Any, where: str) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.problem("wrong-type", where, f"expected a table, got {_type_name(value)}")
            return None
        for dup in getattr(value, "duplicates", ()):
            self.problem("duplicate-key", f"{where}.{dup}" if where else dup, "defined twice")
        odd = [key for key in value if not isinstance(key, str)]
        if odd:
            for key in odd:
                self.problem("wrong-type", where, f"key {shown(key)} is not text")
            # Reported once here; the rest of the reader sees text keys only.
            return {k: v for k, v in value.items() if isinstance(k, str)}
        return value

    def keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if isinstance(key, str) and key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.problem(
                    "unknown-key",
                    _at(where, key),
                    f"unknown key {shown(key)} (allowed: {', '.join(allowed)}){hint}",
                )

    def text(
        self, table: Mapping[str, Any], key: str, where: str, *, required: bool = False
    ) -> str | None:
        if key not in table:
            if required:
                self.problem("missing-key", _at(where, key), f"required key {key!r} is missing")
            return None
        value = table[key]
        if not isinstance(value, str):
            self.problem("wrong-type", _at(where, key), f"expected text, got {_type_name(value)}")
            return None
        return value

    def integer(self, table: Mapping[str, Any], key: str, where: str) -> int | None:
        if key not in table:
            return None
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(
                "wrong-type", _at(where, key), f"expected a whole number, got {_type_name(value)}"
            )
            return None
        return value

    def boolean(self, table: Mapping[str, Any], key: str, where: str) -> bool | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, bool):
            self.problem(
                "wrong-type", _at(where, key), f"expected true or false, got {_type_name(value)}"
            )
            return None
        return value

    def texts(
        self, table: Mapping[str, Any], key: str, where: str, *, required: bool = False
    ) -> list[str] | None:
        if key not in table:
            if required:
                self.problem("missing-key", _at(where, key), f"required key {key!r} is missing")
            return None
        return self.text_list(table[key], _at(where, key))

    def text_list(self, value: Any, where: str) -> list[str] | None:
        if not isinstance(value, (list, tuple)):
            self.problem("wrong-type", where, f"expected a list of text, got {_type_name(value)}")
            return None
        ok = True
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(
                    "wrong-type", f"{where}[{i}]", f"expected text, got {_type_name(item)}"
                )
                ok = False
        return list(value) if ok else None

    def section(self, data: Mapping[str, Any], name: str) -> list[tuple[str, Mapping[str, Any]]]:
        if name not in data:
            return []
        tables = self.table(data[name], name)
        if tables is None:
            return []
        out = []
        for key, value in tables.items():
            t = self.table(value, f"{name}.{key}")
            if t is not None:
                out.append((key, t))
        return out


def _read_role(r: _Reader, key: str, t: Mapping[str, Any]) -> Role:
    where = f"roles.{key}"
    r.keys(t, _ROLE, where)
    return Role(key, r.text(t, "label", where) or "")


def _read_kind(r: _Reader, key: str, t: Mapping[str, Any]) -> StepKindSpec:
    where = f"step_kinds.{key}"
    r.keys(t, _KIND, where)
    return StepKindSpec(
        key,
        r.text(t, "description", where) or "",
        r.texts(t, "requires", where) or (),
        bool(r.boolean(t, "unattended", where)),
    )


def _timed(r: _Reader, t: Mapping[str, Any], where: str) -> tuple[Any, Any]:
    """The step's due rule and send window, their problems reported as findings."""
    due = window = None
    if "due" in t:
        try:
            due = load_due_rule(t["due"], f"{where}.due")
        except DefinitionError as exc:
            r.findings.extend(exc.findings)
    if "send_window" in t:
        try:
            window = load_send_window(t["send_window"], f"{where}.send_window")
        except DefinitionError as exc:
            r.findings.extend(exc.findings)
    return due, window


def _read_step(r: _Reader, key: str, t: Mapping[str, Any]) -> Step:
    where = f"steps.{key}"
    r.keys(t, _STEP, where)
    params: dict[str, ParamValue] = {}
    if "params" in t:
        table = r.table(t["params"], f"{where}.params")
        for name, value in (table or {}).items():
            if isinstance(value, (str, int, bool)):
                params[name] = value
            else:
                r.problem(
                    "wrong-type",
                    f"{where}.params.{name}",
                    f"expected text, a whole number or a boolean, got {_type_name(value)}",
                )
    labels: dict[str, str] = {}
    if "labels" in t:
        for language, label in (r.table(t["labels"], f"{where}.labels") or {}).items():
            if isinstance(label, str):
                labels[language] = label
            else:
                r.problem("wrong-type", f"{where}.labels.{language}", "expected text")
    due, window = _timed(r, t, where)
    return Step(
        key,
        r.text(t, "name", where, required=True) or "",
        r.text(t, "kind", where) or PLAIN,
        r.text(t, "template", where),
        r.integer(t, "duration_minutes", where),
        r.text(t, "appointment_with", where),
        bool(r.boolean(t, "final", where)),
        r.text(t, "description", where) or "",
        params,
        r.text(t, "outcome", where),
        r.text(t, "close_reason", where),
        labels,
        due,
        bool(r.boolean(t, "automatic", where)),
        window,
    )


def _read_variant(r: _Reader, where: str, t: Mapping[str, Any]) -> TemplateVariant:
    r.keys(t, _VARIANT, where)
    return TemplateVariant(
        r.text(t, "subject", where, required=True) or "",
        r.text(t, "text", where, required=True) or "",
        r.text(t, "html", where),
    )


def _read_attachment(r: _Reader, where: str, value: Any) -> TemplateAttachment | None:
    t = r.table(value, where)
    if t is None:
        return None
    r.keys(t, _ATTACHMENT, where)
    return TemplateAttachment(
        r.text(t, "document", where),
        r.text(t, "digest", where),
        r.text(t, "filename", where) or "",
        r.text(t, "mime_type", where) or "",
    )


def _read_template(r: _Reader, key: str, t: Mapping[str, Any]) -> EmailTemplate:
    where = f"templates.{key}"
    r.keys(t, _TEMPLATE, where)
    language = r.text(t, "language", where) or "en"
    variants: dict[str, TemplateVariant] = {}
    if "variants" in t:
        table = r.table(t["variants"], f"{where}.variants") or {}
        for lang, value in table.items():
            vt = r.table(value, f"{where}.variants.{lang}")
            if vt is not None:
                variants[lang] = _read_variant(r, f"{where}.variants.{lang}", vt)
    attachments: list[TemplateAttachment] = []
    if "attachments" in t:
        items = t["attachments"]
        if isinstance(items, (list, tuple)):
            for i, item in enumerate(items):
                found = _read_attachment(r, f"{where}.attachments[{i}]", item)
                if found is not None:
                    attachments.append(found)
        else:
            r.problem(
                "wrong-type",
                f"{where}.attachments",
                f"expected a list of tables, got {_type_name(items)}",
            )
    own = "subject" in t or "text" in t
    default = variants.get(language)
    if default is not None and not own:
        # The default language's content given as a variant: it becomes the template's own.
        del variants[language]
        return EmailTemplate(
            key, default.subject, default.text, default.html, language, variants, attachments
        )
    if not own and variants:
        r.problem(
            "template-default-missing",
            where,
            f"no content in the template's default language {language!r}: give subject "
            f"and text here, or add [{where}.variants.{language}] (or set language to one "
            f"of the variants: {', '.join(variants)})",
        )
        return EmailTemplate(key, "", "", None, language, variants, attachments)
    return EmailTemplate(
        key,
        r.text(t, "subject", where, required=True) or "",
        r.text(t, "text", where, required=True) or "",
        r.text(t, "html", where),
        language,
        variants,
        attachments,
    )


def _read_procedure(r: _Reader, key: str, t: Mapping[str, Any]) -> Procedure:
    where = f"procedures.{key}"
    r.keys(t, _PROCEDURE, where)
    matrix: dict[str, dict[StepRef, list[str]]] = {}
    if "matrix" in t:
        roles = r.table(t["matrix"], f"{where}.matrix")
        for role, rows in (roles or {}).items():
            table = r.table(rows, f"{where}.matrix.{role}")
            converted: dict[StepRef, list[str]] = {}
            for ref, targets in (table or {}).items():
                steps = r.text_list(targets, f"{where}.matrix.{role}.{ref}")
                converted[START if ref == "START" else ref] = steps or []
            matrix[role] = converted
    corrections: dict[str, list[str] | AnyStep] = {}
    if "corrections" in t:
        table = r.table(t["corrections"], f"{where}.corrections")
        for role, value in (table or {}).items():
            if value == "*":
                corrections[role] = ANY_STEP
            else:
                at = f"{where}.corrections.{role}"
                if isinstance(value, str):
                    r.problem("wrong-type", at, 'expected "*" (any step) or a list of steps')
                    continue
                corrections[role] = r.text_list(value, at) or []
    return Procedure(
        key,
        r.text(t, "name", where, required=True) or "",
        r.text(t, "description", where) or "",
        r.texts(t, "steps", where, required=True) or (),
        r.integer(t, "version", where) or 1,
        matrix,
        corrections,
        r.texts(t, "close_reasons", where) or (),
        r.texts(t, "exit_on", where) or (),
        r.text(t, "on_appointment_lost", where),
    )


def _read_dictionary(r: _Reader, key: str, t: Mapping[str, Any]) -> Dictionary | None:
    where = f"dictionaries.{key}"
    r.keys(t, _DICTIONARY, where)
    data = {k: v for k, v in t.items() if k in _DICTIONARY}
    data["key"] = key
    # Imported here: the converter (and cattrs) loads on first use, not with the package.
    from crm_procedures.serialization import structure

    try:
        return structure(data, Dictionary)
    except InvalidInput as exc:
        r.problem("invalid-value", f"{where}.{exc.field}" if exc.field else where, exc.reason)
        return None


def _read(data: Mapping[str, Any], r: _Reader) -> Definitions:
    top = r.table(data, "")
    if top is None:
        return Definitions()
    r.keys(top, _TOP, "")
    version = r.integer(top, "version", "")
    roles = [_read_role(r, k, t) for k, t in r.section(top, "roles")]
    kinds = [_read_kind(r, k, t) for k, t in r.section(top, "step_kinds")]
    steps = [_read_step(r, k, t) for k, t in r.section(top, "steps")]
    templates = [_read_template(r, k, t) for k, t in r.section(top, "templates")]
    procedures = [_read_procedure(r, k, t) for k, t in r.section(top, "procedures")]
    close_reasons: Dictionary | None = None
    dictionaries: list[Dictionary] = []
    for k, t in r.section(top, "dictionaries"):
        d = _read_dictionary(r, k, t)
        if d is None:
            continue
        if k == "close_reason":
            close_reasons = d
        else:
            dictionaries.append(d)
    calendars: dict[str, BusinessCalendar] = {}
    if "calendars" in top:
        try:
            calendars = load_calendars(top["calendars"])
        except DefinitionError as exc:
            r.findings.extend(exc.findings)
    return Definitions(
        roles=roles,
        steps=steps,
        templates=templates,
        procedures=procedures,
        step_kinds=kinds,
        close_reasons=close_reasons,
        dictionaries=tuple(dictionaries),
        version=1 if version is None else version,
        calendars=calendars,
        time_zone=r.text(top, "time_zone", ""),
    )


_TOML_WHERE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _parse_file(path: Path) -> Any:
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DefinitionError([Finding("unreadable-file", reason, name)], name) from None
    except (ValueError, UnicodeEncodeError):
        # NUL or a lone surrogate: no file can have that name.
        reason = "no file can have this name (it holds NUL or a lone surrogate)"
        name = ascii(name)
        raise DefinitionError([Finding("unreadable-file", reason, name)], name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError(
            [Finding("syntax", f"not UTF-8 text ({exc.reason})", name)], name
        ) from None
    try:
        return _parse_text(text, path.suffix.lower(), name)
    except RecursionError:
        finding = Finding("syntax", "tables or lists are nested too deeply", name)
        raise DefinitionError([finding], name) from None


def _parse_text(text: str, suffix: str, name: str) -> Any:
    # The parsers load with the first definitions file, not with the engine.
    import json
    import tomllib

    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            m = _TOML_WHERE.search(message)
            where = f"{name}:{m.group(1)}:{m.group(2)}" if m else name
            duplicate = "overwrite" in message or "twice" in message
            finding = Finding("duplicate-key" if duplicate else "syntax", message, where)
            raise DefinitionError([finding], name) from None
        except ValueError as exc:
            raise DefinitionError([_number_finding(exc, name)], name) from None
    if suffix == ".json":
        try:
            return json.loads(text, object_pairs_hook=_json_object)
        except json.JSONDecodeError as exc:
            finding = Finding("syntax", exc.msg, f"{name}:{exc.lineno}:{exc.colno}")
            raise DefinitionError([finding], name) from None
        except ValueError as exc:
            raise DefinitionError([_number_finding(exc, name)], name) from None
    finding = Finding("unsupported-format", "give a .toml or .json file (or a mapping)", name)
    raise DefinitionError([finding], name)


def _number_finding(exc: ValueError, name: str) -> Finding:
    """A number the parser cannot convert (Python refuses integers of over 4,300 digits)."""
    digits = re.search(r"has (\d+) digits", str(exc))
    size = f" ({digits.group(1)} digits)" if digits else ""
    return Finding(
        "number-too-large",
        f"a number is too long to read{size}; numbers here are small, such as a "
        "duration in minutes",
        name,
    )


def _prefix(findings: list[Finding], name: str | None) -> list[Finding]:
    if name is None:
        return findings
    return [
        Finding(f.code, f.message, f"{name}:{f.location}" if f.location else name, f.severity)
        for f in findings
    ]


def load_definitions(source: Source, *, validate: bool = True) -> Definitions:
    """Load definitions from a ``.toml`` or ``.json`` file, or from a mapping.

    With ``validate=True`` (the default) the result is also checked with
    :func:`~crm_procedures.procedures.validation.validate`; error findings
    refuse the load, warnings do not (call ``validate`` to see them).

    Raises:
        DefinitionError: listing every problem found, each with its location
            (``file:table.key``): syntax errors, unreadable files, unknown keys,
            wrong types, duplicate keys, missing required keys, and (when
            validating) every error finding.
    """
    name: str | None = None
    if isinstance(source, Mapping):
        data: Any = source
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = str(source)
        data = _parse_file(path)
    else:
        raise DefinitionError(
            [
                Finding(
                    "unsupported-format",
                    f"expected a file path or a mapping, got {type(source).__name__}",
                )
            ]
        )
    reader = _Reader()
    definitions = _read(data, reader)
    problems = reader.findings
    if problems:
        # Findings about a definition that already has a structural problem are noise.
        broken = {".".join(f.location.split(".")[:2]) for f in problems}
        found = [
            f
            for f in _validation.errors(_validation.validate(definitions))
            if ".".join(f.location.split(".")[:2]) not in broken
        ]
        raise DefinitionError(_prefix(problems + found, name), name)
    if validate:
        found = _validation.errors(_validation.validate(definitions))
        if found:
            raise DefinitionError(_prefix(found, name), name)
    return definitions


def _dump_step(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"name": step.name}
    if step.kind != PLAIN:
        out["kind"] = step.kind
    for name in ("template", "duration_minutes", "appointment_with"):
        value = getattr(step, name)
        if value is not None:
            out[name] = value
    if step.final:
        out["final"] = True
    if step.description:
        out["description"] = step.description
    if step.params:
        out["params"] = dict(step.params)
    for name in ("outcome", "close_reason"):
        value = getattr(step, name)
        if value is not None:
            out[name] = value
    if step.labels:
        out["labels"] = dict(step.labels)
    if step.due is not None:
        out["due"] = dump_due_rule(step.due)
    if step.automatic:
        out["automatic"] = True
    if step.send_window is not None:
        out["send_window"] = dump_send_window(step.send_window)
    return out


def _dump_template(t: EmailTemplate) -> dict[str, Any]:
    out: dict[str, Any] = {"subject": t.subject, "text": t.text}
    if t.html is not None:
        out["html"] = t.html
    out["language"] = t.language
    if t.variants:
        out["variants"] = {
            lang: {
                "subject": v.subject,
                "text": v.text,
                **({"html": v.html} if v.html is not None else {}),
            }
            for lang, v in t.variants.items()
        }
    if t.attachments:
        out["attachments"] = [
            {
                name: value
                for name in _ATTACHMENT
                if (value := getattr(a, name)) is not None
                and (value != "" or name in ("document", "digest"))
            }
            for a in t.attachments
        ]
    return out


def _dump_procedure(p: Procedure) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name}
    if p.description:
        out["description"] = p.description
    out["version"] = p.version
    out["steps"] = list(p.steps)
    out["close_reasons"] = list(p.close_reasons)
    out["matrix"] = {
        role: {("START" if ref is START else ref): sorted(targets) for ref, targets in rows.items()}
        for role, rows in p.matrix.items()
    }
    out["corrections"] = {
        role: "*" if rights is ANY_STEP else sorted(rights)
        for role, rights in p.corrections.items()
    }
    if p.exit_on:
        out["exit_on"] = list(p.exit_on)
    if p.on_appointment_lost is not None:
        out["on_appointment_lost"] = p.on_appointment_lost
    return out


def _dump_dictionary(d: Dictionary) -> dict[str, Any]:
    from crm_procedures.serialization import unstructure

    data: dict[str, Any] = unstructure(d)
    data.pop("key", None)
    return data


def dump_definitions(definitions: Definitions) -> dict[str, Any]:
    """``definitions`` as plain data (JSON- and TOML-compatible, no ``None`` values).

    ``load_definitions(dump_definitions(d), validate=False) == d`` for every
    bundle ``d``. Optional fields at their default are left out; sets are
    written as sorted lists so the output is deterministic.
    """
    dictionaries = {definitions.close_reasons.key: _dump_dictionary(definitions.close_reasons)}
    for d in definitions.dictionaries:
        dictionaries[d.key] = _dump_dictionary(d)
    out: dict[str, Any] = {
        "version": definitions.version,
        "roles": {k: ({"label": r.label} if r.label else {}) for k, r in definitions.roles.items()},
        "step_kinds": {
            k: {"description": s.description, "requires": list(s.requires)}
            | ({"unattended": True} if s.unattended else {})
            for k, s in definitions.step_kinds.items()
        },
        "steps": {k: _dump_step(s) for k, s in definitions.steps.items()},
        "templates": {k: _dump_template(t) for k, t in definitions.templates.items()},
        "procedures": {k: _dump_procedure(p) for k, p in definitions.procedures.items()},
        "dictionaries": dictionaries,
    }
    if definitions.calendars:
        out["calendars"] = dump_calendars(definitions.calendars)
    if definitions.time_zone is not None:
        out["time_zone"] = definitions.time_zone
    return out
