"""Item 6, ``hostile_input``: a catalogue of hostile inputs, each with its expected handling.

Every entry point that takes outside data (definitions loader, CSV import,
templates, e-mail headers, iCalendar, CSV export, entity constructors,
services, CLI arguments) gets inputs meant to break it. Each case names what
must happen: a named error (a :class:`~crm_procedures.errors.CrmError`
subclass), or a neutralisation that the case checks. A case that ends any
other way is "not as specified"; one that escapes with an exception that is
not a named error is "unhandled" (target 0).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import attrs

from crm_procedures import cli
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.errors import (
    CrmError,
    DefinitionError,
    InvalidInput,
    MalformedFile,
    NotFound,
    TemplateError,
)
from crm_procedures.formats.ical import invitation_ics
from crm_procedures.ids import (
    AppointmentId,
    ContactId,
    ProjectId,
    ProspectId,
    RelationId,
    UserId,
    VisitReportId,
)
from crm_procedures.model.appointment import Appointment, Attendee
from crm_procedures.model.contact import Contact
from crm_procedures.model.money import Money
from crm_procedures.model.prospect import Prospect
from crm_procedures.model.relation import Relation
from crm_procedures.model.visit_report import VisitReport
from crm_procedures.procedures.definitions import dump_definitions, load_definitions
from crm_procedures.procedures.templates import EmailTemplate, render
from crm_procedures.services import campaigns
from crm_procedures.services.imports import export_csv, import_suspects
from crm_procedures.services.messages import build_email
from reliability.figures import record
from reliability.world import AMS, MEMBERS, T0, context, setup_people, standard

Check = Callable[[Any], bool]


@attrs.frozen
class Case:
    """One hostile input: what to run, and the named error or the check of the result."""

    name: str
    run: Callable[[], Any]
    error: type[CrmError] | None = None
    check: Check | None = None


def _mail(**changes: Any) -> Any:
    fields: dict[str, Any] = {
        "sender": ("Campaigns", "campaigns@example.com"),
        "to": ("Jan", "jan@example.nl"),
        "subject": "Hello",
        "text": "Body",
        "key": "hostile:1",
        "date": T0,
    }
    fields.update(changes)
    return build_email(**fields)


def _template(subject: str = "Hi", text: str = "Body", html: str | None = None) -> EmailTemplate:
    return EmailTemplate("t", subject, text, html)


def _appointment(**changes: Any) -> Appointment:
    fields: dict[str, Any] = {
        "id": AppointmentId("a1"),
        "employee": UserId("cor"),
        "start": T0,
        "end": T0 + timedelta(hours=1),
        "title": "Visit",
        "uid": "a1@example.com",
        "attendees": (Attendee("jan@example.nl", "Jan"),),
        "organizer_email": "cor@example.com",
    }
    fields.update(changes)
    return Appointment(**fields)


def _ics_lines(appointment: Appointment) -> list[str]:
    text = invitation_ics(appointment, dtstamp=T0).decode("utf-8")
    return [line for line in text.split("\r\n") if line]


def _render_text(text: str) -> Any:
    return render(_template(text=text), {})


def _ics_of(**changes: Any) -> list[str]:
    return _ics_lines(_appointment(**changes))


def _no_injected_property(lines: list[str]) -> bool:
    # Only the genuine attendee line may start with ATTENDEE; no line may carry
    # the attacker's address as a property of its own.
    return not any(line.startswith(("ATTENDEE:mailto:evil", "X-EVIL")) for line in lines)


def _definitions_file(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _with_step(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = dump_definitions(standard())
    data["steps"]["make_appointment"].update(changes)
    return data


def _load_with_step(**changes: Any) -> Any:
    return load_definitions(_with_step(**changes))


def _with_template(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = dump_definitions(standard())
    for template in data["templates"].values():
        template.update(changes)
    return data


def _load_with_template(**changes: Any) -> Any:
    return load_definitions(_with_template(**changes))


def _cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, err.getvalue()


def _cli_refuses(result: tuple[int, str]) -> bool:
    code, err = result
    return code != 0 and "unexpected error" not in err and "Traceback" not in err


class Installation:
    """A memory store with people, a campaign restricted to its members, one prospect."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        setup_people(self.store)
        self.ctx = context(self.store)
        project = campaigns.start_campaign(
            self.ctx,
            "pia",
            relation_id="client",
            name="Restricted",
            procedure="standard",
            members={r: list(u) for r, u in MEMBERS.items()},
            linked_users=["ann", "pia"],
        )
        self.project = project.id
        import_suspects(
            self.ctx, "pia", project.id, [{"name": "Target Works", "contact": "Jan Smit"}]
        )
        campaigns.release(self.ctx, "pia", project.id)
        with self.store.unit_of_work() as uow:
            from crm_procedures.access.viewer import Viewer

            self.prospect = uow.prospects.of_project(project.id, Viewer.system())[0].id

    def make_appointment(self, start: datetime) -> Any:
        return campaigns.perform_step(
            self.ctx,
            "pia",
            self.prospect,
            "make_appointment",
            role="project_leader",
            appointment_start=start,
        )

    def call_with_note(self, note: str) -> Any:
        return campaigns.perform_step(
            self.ctx,
            "pia",
            self.prospect,
            "call",
            role="project_leader",
            note=note,
            record_activity=False,
        )

    def import_rows(self, rows: Any) -> Any:
        return import_suspects(self.ctx, "pia", self.project, rows)

    def one_line_names(self, report: Any) -> bool:
        with self.store.unit_of_work() as uow:
            names = [uow.relations.get(rid).name for rid in report.relation_ids]
        return not any("\r" in n or "\n" in n for n in names)


def _all_neutralised(out: str) -> bool:
    cells = next(csv.reader(io.StringIO(out, newline="")))
    risky = [c for c in cells if c != "ok"]
    return cells[-1] == "ok" and all(c.startswith("'") for c in risky) and len(risky) == 6


def catalogue(tmp: Path) -> list[Case]:
    app = Installation()
    deep_json = "[" * 50_000 + "]" * 50_000
    deep_toml = "a = " + "[" * 50_000 + "]" * 50_000
    huge_toml = "\n".join(f"key_{i} = {i}" for i in range(60_000))
    gap = datetime(2026, 3, 29, 2, 30, tzinfo=AMS)
    ambiguous = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=AMS)
    big_cell = "x" * 200_000
    return [
        # E-mail headers: CR, LF and NUL never reach a header.
        *(
            Case(f"header: {what} in subject", partial(_mail, subject=subject), InvalidInput)
            for what, subject in [
                ("CRLF", "Hi\r\nBcc: victim@evil.test"),
                ("LF", "Hi\nBcc: victim@evil.test"),
                ("NUL", "Hi\x00there"),
            ]
        ),
        Case(
            "header: CRLF in display name",
            lambda: _mail(to=("Jan\r\nBcc: x@evil.test", "jan@example.nl")),
            InvalidInput,
        ),
        Case(
            "header: CRLF in address",
            lambda: _mail(to="jan@example.nl\r\nBcc: x@evil.test"),
            InvalidInput,
        ),
        Case(
            "header: LF in extra header",
            lambda: _mail(headers={"X-Tag": "a\nBcc: x@evil.test"}),
            InvalidInput,
        ),
        Case(
            "header: CRLF in contact e-mail",
            lambda: Contact(
                ContactId("c"), RelationId("r"), "Smit", email="a@b.nl\r\nBcc: x@evil.test"
            ),
            InvalidInput,
        ),
        # Templates: whitelisted fields only, values never become code or headers.
        *(
            Case(f"template: {what}", partial(_render_text, text), TemplateError)
            for what, text in [
                ("attribute access", "{{contact.__class__}}"),
                ("dunder chain", "{{ contact.first_name.__globals__ }}"),
                ("unknown field", "{{settings.password}}"),
                ("expression", "{{ 7*7 }}"),
                ("unclosed placeholder", "Dear {{contact.last_name"),
            ]
        ),
        Case(
            "template: format-string trick stays text",
            partial(_render_text, "{0.__class__.__mro__} %(x)s ${x}"),
            None,
            lambda r: r.text == "{0.__class__.__mro__} %(x)s ${x}",
        ),
        Case(
            "template: value with CRLF into subject",
            lambda: render(
                _template(subject="About {{contact.last_name}}"),
                {"contact.last_name": "x\r\nBcc: y@evil.test"},
            ),
            TemplateError,
        ),
        Case(
            "template: value with U+2028 into subject",
            lambda: render(
                _template(subject="{{contact.last_name}}"), {"contact.last_name": "x\u2028y"}
            ),
            TemplateError,
        ),
        Case(
            "template: HTML in a value is escaped",
            lambda: render(
                _template(html="<p>{{contact.last_name}}</p>"),
                {"contact.last_name": "<script>alert(1)</script>"},
            ),
            None,
            lambda r: "<script>" not in (r.html or ""),
        ),
        Case(
            "template: placeholder inside a value is not expanded",
            lambda: render(
                _template(text="{{contact.last_name}}"),
                {"contact.last_name": "{{sender.email}}", "sender.email": "secret"},
            ),
            None,
            lambda r: r.text == "{{sender.email}}",
        ),
        # iCalendar: text escaped, no property injection.
        *(
            Case(what, partial(_ics_of, description=text), None, _no_injected_property)
            for what, text in [
                (
                    "ical: newline property injection in description",
                    "x\nATTENDEE:mailto:evil@evil.test",
                ),
                ("ical: CRLF injection in description", "x\r\nX-EVIL:1"),
                ("ical: lone CR in description", "x\rX-EVIL:1"),
            ]
        ),
        Case(
            "ical: newline in title",
            lambda: _appointment(title="Visit\nATTENDEE:mailto:evil@evil.test"),
            InvalidInput,
        ),
        Case(
            "ical: newline in location",
            lambda: _appointment(location="Hall\r\nX-EVIL:1"),
            InvalidInput,
        ),
        Case(
            "ical: semicolon and colon in attendee name",
            lambda: _ics_lines(
                _appointment(attendees=(Attendee("jan@example.nl", 'Jan";ROLE=CHAIR:mailto:evil'),))
            ),
            None,
            lambda lines: not any("ROLE=CHAIR" in line and 'CN="' not in line for line in lines),
        ),
        # CSV export: formula cells neutralised.
        Case(
            "csv export: formula injection",
            lambda: export_csv(
                [['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "ok"]]
            ),
            None,
            _all_neutralised,
        ),
        Case(
            "csv export: formula in header",
            lambda: export_csv([{"=cmd": 1}]),
            None,
            lambda out: out.startswith("'=cmd"),
        ),
        # CSV import: bad rows are reported, a bad file is a named error.
        Case(
            "csv import: oversized cell",
            lambda: app.import_rows(f"name\n{big_cell}\n"),
            InvalidInput,
        ),
        Case(
            "csv import: oversized name is a rejected row",
            lambda: app.import_rows([{"name": "N" * 5000}]),
            None,
            lambda r: r.imported == 0 and len(r.rejected) == 1,
        ),
        Case(
            "csv import: NUL in a cell",
            lambda: app.import_rows("name\nAc\x00me\n"),
            None,
            lambda r: r.imported == 0,
        ),
        Case(
            "csv import: CRLF in a name is rejected or made one line",
            lambda: app.import_rows([{"name": "Acme\r\nEvil"}]),
            None,
            app.one_line_names,
        ),
        Case(
            "csv import: invalid UTF-8 (not cp1252 either)",
            lambda: app.import_rows(b"name\n\xff\xfe\x81Acme\n"),
            InvalidInput,
        ),
        Case(
            "csv import: cp1252 bytes are decoded",
            lambda: app.import_rows(b"name\nCaf\xe9 Zuid\n"),
            None,
            lambda r: r.imported == 1,
        ),
        Case("csv import: empty file", lambda: app.import_rows(b""), InvalidInput),
        Case(
            "csv import: binary garbage",
            lambda: app.import_rows(bytes(range(256)) * 4),
            InvalidInput,
        ),
        Case(
            "csv import: file name given as text",
            lambda: app.import_rows("../../etc/passwd.csv"),
            InvalidInput,
        ),
        Case(
            "csv import: formula stored as text, exported neutralised",
            lambda: export_csv([[app.import_rows([{"name": "=cmd|' /C calc'!A0"}]).imported]]),
            None,
            lambda out: out.strip() == "1",
        ),
        # Definitions: files of every shape give DefinitionError.
        Case(
            "definitions: deeply nested JSON",
            lambda: load_definitions(_definitions_file(tmp, "deep.json", deep_json)),
            DefinitionError,
        ),
        Case(
            "definitions: deeply nested TOML",
            lambda: load_definitions(_definitions_file(tmp, "deep.toml", deep_toml)),
            DefinitionError,
        ),
        Case(
            "definitions: huge TOML",
            lambda: load_definitions(_definitions_file(tmp, "huge.toml", huge_toml)),
            DefinitionError,
        ),
        Case(
            "definitions: invalid UTF-8",
            lambda: load_definitions(
                _definitions_file(tmp, "bad.toml", b"version = 1\n\xff\xfe = 2\n")
            ),
            DefinitionError,
        ),
        Case(
            "definitions: NUL in TOML",
            lambda: load_definitions(_definitions_file(tmp, "nul.toml", "version = 1\x00\n")),
            DefinitionError,
        ),
        Case(
            "definitions: JSON NaN and huge numbers",
            lambda: load_definitions(
                _definitions_file(
                    tmp,
                    "nan.json",
                    '{"version": NaN, "steps": {"a": {"name": "A", "duration_minutes": 1e400}}}',
                )
            ),
            DefinitionError,
        ),
        *(
            Case(
                f"definitions: {what} duration",
                partial(_load_with_step, duration_minutes=minutes),
                DefinitionError,
            )
            for what, minutes in [
                ("negative", -30),
                ("zero", 0),
                ("float", 1.5),
                ("10**30", 10**30),
                ("5000-digit", 10**5000),
            ]
        ),
        *(
            Case(
                f"definitions: 5000-digit integer in {suffix}",
                partial(
                    lambda suffix, text: load_definitions(
                        _definitions_file(tmp, f"big{suffix}", text)
                    ),
                    suffix,
                    text,
                ),
                DefinitionError,
            )
            for suffix, text in [
                (".json", '{"version": ' + "9" * 5000 + "}"),
                (".toml", "version = " + "9" * 5000 + "\n"),
            ]
        ),
        *(
            Case(
                f"definitions: template subject with {what}",
                partial(_load_with_template, subject=f"Hello{char}there"),
                DefinitionError,
            )
            for what, char in [
                ("TAB", "\t"),
                ("NUL", "\x00"),
                ("VT", "\x0b"),
                ("ESC", "\x1b"),
                ("DEL", "\x7f"),
                ("lone surrogate", "\ud800"),
            ]
        ),
        *(
            Case(
                f"definitions: step name with {what}",
                partial(_load_with_step, name=name),
                DefinitionError,
            )
            for what, name in [
                ("NUL", "Meet\x00"),
                ("CRLF", "Meet\r\nX-Evil: 1"),
                ("ESC", "Meet\x1b[2J"),
                ("100,000 characters", "m" * 100_000),
            ]
        ),
        Case(
            "campaign: start with definitions whose subject holds CRLF",
            lambda: campaigns.start_campaign(
                attrs.evolve(
                    app.ctx,
                    definitions=load_definitions(
                        _with_template(subject="Hi\r\nBcc: x@example.com"), validate=False
                    ),
                ),
                "pia",
                relation_id="client",
                name="Broken",
                procedure="standard",
            ),
            DefinitionError,
        ),
        *(
            Case(
                f"campaign: step note with {what} and no activity",
                partial(app.call_with_note, note),
                InvalidInput,
            )
            for what, note in [
                ("NUL", "a\x00b"),
                ("ESC", "\x1b[31mred"),
                ("lone surrogate", "\ud800"),
                ("10 MB", "n" * 10_000_000),
            ]
        ),
        Case(
            "csv import: duplicated header",
            lambda: app.import_rows(b"name,city,Name\nAcme,Utrecht,Beta\n"),
            MalformedFile,
        ),
        Case(
            "csv import: unterminated quote",
            lambda: app.import_rows(b'name,city\nAcme,"Utrecht\nBeta,Delft\nGamma,Ede\n'),
            MalformedFile,
        ),
        Case(
            "csv import: UTF-8 and cp1252 rows mixed",
            lambda: app.import_rows(
                "name\nCafé Noir\n".encode() + "Müller GmbH\n".encode("cp1252")
            ),
            MalformedFile,
        ),
        Case(
            "entity: prospect id with NUL",
            lambda: Prospect(ProspectId("p\x00"), ProjectId("x"), RelationId("r")),
            InvalidInput,
        ),
        Case(
            "entity: prospect id of 10,000 characters",
            lambda: Prospect(ProspectId("p" * 10_000), ProjectId("x"), RelationId("r")),
            InvalidInput,
        ),
        Case(
            "entity: 10,000 visit report keywords of 1,000 characters",
            lambda: VisitReport(
                VisitReportId("v"),
                "Visit",
                RelationId("r"),
                UserId("u"),
                T0,
                T0 + timedelta(hours=1),
                keywords=["k" * 1000] * 10_000,
            ),
            InvalidInput,
        ),
        Case("definitions: not a file or mapping", lambda: load_definitions(42), DefinitionError),  # type: ignore[arg-type]
        Case(
            "definitions: missing file",
            lambda: load_definitions(tmp / "missing.toml"),
            DefinitionError,
        ),
        Case("definitions: directory", lambda: load_definitions(tmp), DefinitionError),
        # Entities: limits, money, times.
        Case(
            "entity: oversized one-line field",
            lambda: Relation(RelationId("r"), "Acme", website="w" * 5000),
            InvalidInput,
        ),
        Case(
            "entity: oversized text field",
            lambda: _appointment(description="d" * 200_000),
            InvalidInput,
        ),
        Case(
            "entity: line break in one-line field",
            lambda: Contact(ContactId("c"), RelationId("r"), "Smit", function="CEO\r\nX"),
            InvalidInput,
        ),
        Case("money: float amount", lambda: Money(1.1, "EUR"), InvalidInput),
        Case(
            "money: float text amount is exact",
            lambda: Money(Decimal("0.1") + Decimal("0.2"), "EUR"),
            None,
            lambda m: m.amount == Decimal("0.3"),
        ),
        Case("money: unknown currency", lambda: Money(Decimal("1"), "XYZ"), InvalidInput),
        Case("money: lowercase currency", lambda: Money(Decimal("1"), "eur"), InvalidInput),
        Case("money: NaN", lambda: Money(Decimal("NaN"), "EUR"), InvalidInput),
        Case("money: infinity", lambda: Money(Decimal("Infinity"), "EUR"), InvalidInput),
        Case(
            "money: adding currencies",
            lambda: Money(Decimal("1"), "EUR") + Money(Decimal("1"), "PLN"),
            InvalidInput,
        ),
        Case(
            "time: naive start",
            lambda: _appointment(start=datetime(2026, 3, 2, 9, 0)),
            InvalidInput,
        ),
        Case(
            "time: nonexistent local time (DST gap)",
            lambda: _appointment(start=gap, end=gap + timedelta(hours=2)),
            InvalidInput,
        ),
        Case(
            "time: ambiguous local time keeps its fold",
            lambda: _appointment(start=ambiguous, end=ambiguous + timedelta(hours=1)),
            None,
            lambda a: a.start.utcoffset() == timedelta(hours=1),
        ),
        Case(
            "time: end before start (negative duration)",
            lambda: _appointment(end=T0 - timedelta(hours=1)),
            InvalidInput,
        ),
        Case(
            "time: naive appointment start for a step",
            lambda: app.make_appointment(datetime(2026, 3, 4, 10, 0)),
            InvalidInput,
        ),
        Case(
            "time: appointment start in the DST gap",
            lambda: app.make_appointment(gap),
            InvalidInput,
        ),
        # Ids of records the actor may not see (another team's restricted project).
        Case(
            "ids: perform on an invisible prospect",
            lambda: campaigns.perform_step(app.ctx, "bas", app.prospect, "call", role="marketeer"),
            NotFound,
        ),
        Case(
            "ids: history of an invisible prospect",
            lambda: campaigns.prospect_history(app.ctx, "cor", app.prospect),
            NotFound,
        ),
        Case(
            "ids: worklist of an invisible project",
            lambda: campaigns.worklist(app.ctx, "bas", app.project, "marketeer"),
            NotFound,
        ),
        Case(
            "ids: path traversal id",
            lambda: campaigns.prospect_history(app.ctx, "pia", "../../etc/passwd"),
            NotFound,
        ),
        Case(
            "ids: NUL in an id",
            lambda: campaigns.prospect_history(app.ctx, "pia", "x\x00y"),
            NotFound,
        ),
        Case(
            "ids: unknown actor",
            lambda: campaigns.prospect_history(app.ctx, "mallory", app.prospect),
            CrmError,
        ),
        # CLI arguments: a one-line error and a non-zero exit, never a traceback.
        Case(
            "cli: validate a missing file",
            lambda: _cli("validate", str(tmp / "missing.toml")),
            None,
            _cli_refuses,
        ),
        Case(
            "cli: validate a deeply nested file",
            lambda: _cli("validate", str(_definitions_file(tmp, "deep2.json", deep_json))),
            None,
            _cli_refuses,
        ),
        Case(
            "cli: validate invalid UTF-8",
            lambda: _cli("validate", str(_definitions_file(tmp, "bad2.toml", b"\xff\xfe"))),
            None,
            _cli_refuses,
        ),
        Case(
            "cli: import into an unknown database",
            lambda: _cli("import", "--db", "nosuchdb://x", "p1", str(tmp / "missing.csv")),
            None,
            _cli_refuses,
        ),
        Case(
            "cli: worklist with a hostile database URL",
            lambda: _cli("worklist", "--db", "sqlite:////nonexistent/dir/x.db", "p1", "marketeer"),
            None,
            _cli_refuses,
        ),
    ]


def test_every_hostile_input_is_handled_as_specified(tmp_path: Path) -> None:
    cases = catalogue(tmp_path)
    wrong: list[str] = []
    unhandled: list[str] = []
    for case in cases:
        try:
            result = case.run()
        except CrmError as exc:
            if case.error is None or not isinstance(exc, case.error):
                wrong.append(f"{case.name}: raised {type(exc).__name__}: {exc}")
            continue
        except SystemExit as exc:
            wrong.append(f"{case.name}: exited {exc.code}")
            continue
        except Exception as exc:
            unhandled.append(f"{case.name}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        if case.error is not None:
            wrong.append(f"{case.name}: expected {case.error.__name__}, got {result!r:.200}")
        elif case.check is not None and not case.check(result):
            wrong.append(f"{case.name}: not neutralised: {result!r:.300}")
    handled = len(cases) - len(wrong) - len(unhandled)
    record("hostile_input.inputs_tried", len(cases), ">= 60")
    record("hostile_input.handled_as_specified", handled, f"== {len(cases)}")
    record("hostile_input.unhandled", len(unhandled), "== 0")
    assert not unhandled, unhandled
    assert not wrong, "\n".join(wrong)
