"""The ``crm-procedures`` command (also ``python -m crm_procedures``).

Commands: ``demo``, ``validate``, ``render``, ``import``, ``worklist``,
``dispatch``, ``report``, ``schema create|upgrade``. Every command has
``--help``. Errors print one clear line on standard error and exit non-zero
(2 for bad input or a refused action, 1 for findings or failures); ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crm_procedures.errors import CrmError, DefinitionError, InvalidInput

__all__ = ["main"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

DEFAULT_DB = "sqlite:///crm.db"


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _host_port(value: str) -> str:
    """Check a ``HOST:PORT`` option (the port may be left out: 25)."""
    host, _, port = value.partition(":")
    if not host or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT (e.g. localhost:1025)")
    return value


def _cmd_validate(args: argparse.Namespace) -> int:
    from crm_procedures.procedures.definitions import load_definitions
    from crm_procedures.procedures.validation import validate

    try:
        defs = load_definitions(args.file, validate=False)
    except DefinitionError as exc:
        findings = list(exc.findings)
    else:
        findings = list(validate(defs))
    errors = [f for f in findings if f.severity == "error"]
    if args.format == "json":
        _out(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        for f in findings:
            _out(str(f))
        warnings = len(findings) - len(errors)
        verdict = "invalid" if errors else "valid"
        _out(f"{args.file}: {verdict} ({len(errors)} errors, {warnings} warnings)")
    return EXIT_FINDINGS if errors else EXIT_OK


def _cmd_render(args: argparse.Namespace) -> int:
    from crm_procedures.procedures import render
    from crm_procedures.procedures.definitions import load_definitions

    defs = load_definitions(args.file)
    proc = defs.procedure(args.procedure)
    if args.role is not None and args.role not in proc.roles:
        known = ", ".join(proc.roles) or "none"
        raise InvalidInput("role", f"{args.role!r} is not a role of {proc.key!r} ({known})")
    fn: Callable[..., str] = {
        "mermaid": render.mermaid,
        "dot": render.dot,
        "table": render.matrix_table,
        "matrix": render.matrix_table,
    }[args.format]
    _out(fn(proc, role=args.role))
    return EXIT_OK


def _open_app(args: argparse.Namespace) -> Any:
    from crm_procedures.adapters.sql import open_store
    from crm_procedures.procedures.definitions import load_definitions
    from crm_procedures.services.app import CrmApp, SystemClock

    defs = load_definitions(args.definitions) if getattr(args, "definitions", None) else None
    return CrmApp(store=open_store(args.db), clock=SystemClock(), definitions=defs)


def _cmd_import(args: argparse.Namespace) -> int:
    from crm_procedures.services.imports import import_suspects

    app = _open_app(args)
    try:
        report = import_suspects(
            app.ctx,
            args.actor,
            args.project,
            Path(args.csv),
            all_or_nothing=args.all_or_nothing,
            delimiter=args.delimiter,
            encoding=args.encoding,
        )
    finally:
        app.close()
    _out(report.summary())
    return EXIT_OK if not report.rejected or not args.strict else EXIT_FINDINGS


def _cmd_worklist(args: argparse.Namespace) -> int:
    from crm_procedures.services.campaigns import worklist

    app = _open_app(args)
    try:
        rows = worklist(app.ctx, args.actor, args.project, args.role, limit=args.limit)
        for p in rows:
            due = p.next_action_at.isoformat() if p.next_action_at else "-"
            _out(f"{p.id}  relation={p.relation_id}  last={p.last_step or 'START'}  due={due}")
        _out(f"{len(rows)} prospect(s) for role {args.role!r}")
    finally:
        app.close()
    return EXIT_OK


def _cmd_dispatch(args: argparse.Namespace) -> int:
    import time

    from crm_procedures.services.outbox import dispatch_once

    app = _open_app(args)
    mailer: Any
    if args.smtp:
        from crm_procedures.adapters.smtp import SmtpMailer

        host, _, port = args.smtp.partition(":")
        mailer = SmtpMailer(host, int(port or 25))
    else:
        from crm_procedures.adapters.files import FolderMailer

        mailer = FolderMailer(Path(args.out))
    try:
        while True:
            _dispatch_due(app, mailer, dispatch_once)
            if not args.loop:
                break
            time.sleep(args.interval)
    finally:
        app.close()
    return EXIT_OK


def _cmd_scheduler(args: argparse.Namespace) -> int:
    import signal
    import time

    from crm_procedures.services.scheduler import run_due, send_reminders

    stop = False

    def _stop(_signum: int, _frame: Any) -> None:
        nonlocal stop
        stop = True  # finish the step in hand, then leave: no step is cut in half

    previous = signal.signal(signal.SIGTERM, _stop)
    app = _open_app(args)
    try:
        while not stop:
            run = run_due(app.ctx, limit=args.limit)
            reminded = send_reminders(app.ctx) if args.reminders else 0
            _out(
                f"claimed {run.claimed}, performed {len(run.performed)}, deferred "
                f"{len(run.deferred)}, skipped {len(run.skipped)}, failed {len(run.failed)}, "
                f"reminders {reminded}"
            )
            for prospect_id, reason in run.failed:
                _out(f"  {prospect_id}: {reason}")
            if not args.loop:
                break
            waited = 0.0
            while not stop and waited < args.interval:
                time.sleep(min(0.1, args.interval))
                waited += 0.1
    finally:
        signal.signal(signal.SIGTERM, previous)
        app.close()
    return EXIT_OK


DISPATCH_BATCH = 100
"""Messages claimed per batch; ``dispatch`` runs batches until none is due."""


def _dispatch_due(app: Any, mailer: Any, dispatch_once: Callable[..., Any]) -> None:
    """Deliver every message due now, batch after batch, and print one line of totals.

    A batch that claims fewer than :data:`DISPATCH_BATCH` messages was the last
    one due; a message that failed waits for its retry time, so it is not
    claimed again in the same run. "partially failed" counts the messages
    some recipients accepted while the server refused the others for good.
    """
    totals = {"claimed": 0, "delivered": 0, "partially_failed": 0, "retried": 0, "failed": 0}
    errors: list[tuple[str, str]] = []
    while True:
        report = dispatch_once(app.store, app.clock, mailer=mailer, limit=DISPATCH_BATCH)
        for name in totals:
            totals[name] += getattr(report, name)
        errors.extend(report.errors)
        if report.claimed < DISPATCH_BATCH:
            break
    _out(", ".join(f"{name.replace('_', ' ')} {count}" for name, count in totals.items()))
    for message_id, error in errors:
        _out(f"  {message_id}: {error}")


def _imap_inbox(url: str) -> Any:
    """An ImapInbox from ``imaps://user[:password]@host[:port]/MAILBOX`` (``imap://``: no TLS).

    The password may come from the environment variable ``CRM_IMAP_PASSWORD`` instead.
    """
    import os
    from urllib.parse import unquote, urlsplit

    from crm_procedures.adapters.imap import ImapInbox
    from crm_procedures.errors import InvalidInput

    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise InvalidInput("--imap", "must look like imaps://user@host[:port]/MAILBOX", url)
    password = unquote(parts.password or "") or os.environ.get("CRM_IMAP_PASSWORD", "")
    mailbox = unquote(parts.path.lstrip("/")) or "INBOX"
    return ImapInbox(
        parts.hostname,
        unquote(parts.username),
        password,
        port=parts.port,
        mailbox=mailbox,
        ssl=parts.scheme == "imaps",
    )


def _cmd_inbox(args: argparse.Namespace) -> int:
    import time

    from crm_procedures.services.inbound import process_inbox

    if args.folder:
        from crm_procedures.adapters.inbox_folder import FolderInbox

        inbox: Any = FolderInbox(Path(args.folder))
        name = args.name or "folder"
    else:
        inbox = _imap_inbox(args.imap)
        name = args.name or "imap"
    app = _open_app(args)
    try:
        while True:
            while True:
                run = process_inbox(app.ctx, inbox, limit=args.batch, name=name)
                _out(
                    f"fetched {run.fetched}, applied {run.applied}, already {run.already}, "
                    f"kept {run.kept}, events {len(run.events)}"
                )
                if run.fetched < args.batch:
                    break
            if not args.loop:
                break
            time.sleep(args.interval)
    finally:
        inbox.close()
        app.close()
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from crm_procedures.services import reports

    app = _open_app(args)
    try:
        if args.kind == "funnel":
            if not args.project:
                raise CrmError("report funnel needs --project")
            data: Any = reports.funnel(app.ctx, args.actor, args.project)
        else:
            data = reports.employee_activity(app.ctx, args.actor)
        if args.csv:
            # The CSV text ends its last row itself: no blank row after it.
            table = reports.to_csv(data)
            sys.stdout.write(table if table.endswith("\n") else table + "\n")
        else:
            _out(reports.render_table(data) or "nothing to report yet")
    finally:
        app.close()
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    from crm_procedures.adapters.sql import schema
    from crm_procedures.adapters.sql.store import make_engine

    engine = make_engine(args.db)
    try:
        if args.action == "create":
            version = schema.create_schema(engine)
        else:
            version = schema.upgrade_schema(engine)
        _out(f"{args.db}: schema at version {version}")
    finally:
        engine.dispose()
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from crm_procedures.demo import run_demo

    return run_demo(
        Path(args.out),
        db=args.db,
        fresh=not args.resume,
        smtp=args.smtp,
        suspects=args.suspects,
        seed=args.seed,
        quiet=args.quiet,
    )


def _parser() -> argparse.ArgumentParser:
    from crm_procedures._version import __version__

    p = argparse.ArgumentParser(
        prog="crm-procedures",
        description="Run, validate and picture sales and relationship procedures.",
    )
    p.add_argument("--version", action="version", version=f"crm_procedures {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def store_opts(sp: argparse.ArgumentParser, definitions: bool = True) -> None:
        sp.add_argument("--db", default=DEFAULT_DB, help=f"store URL (default {DEFAULT_DB})")
        sp.add_argument("--as", dest="actor", default="system", help="acting user id")
        if definitions:
            sp.add_argument("--definitions", help="definitions file (TOML or JSON)")

    s = sub.add_parser("demo", help="run a whole campaign (an SQLite file, or the store --db)")
    s.add_argument("--out", default="crm-demo", help="output folder (default ./crm-demo)")
    s.add_argument(
        "--db",
        metavar="URL",
        help="store URL, e.g. postgresql://crm@db/crm (default: crm.db in the output folder)",
    )
    s.add_argument("--resume", action="store_true", help="continue in an existing folder")
    s.add_argument(
        "--smtp", metavar="HOST:PORT", type=_host_port, help="also deliver through this SMTP server"
    )
    s.add_argument("--suspects", type=int, default=200, help="suspects to import")
    s.add_argument("--seed", type=int, default=7, help="random seed of the simulation")
    s.add_argument("--quiet", action="store_true", help="print only the summary")
    s.set_defaults(func=_cmd_demo)

    s = sub.add_parser("validate", help="check a definitions file; exit 1 on errors")
    s.add_argument("file", help="TOML or JSON definitions")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.set_defaults(func=_cmd_validate)

    s = sub.add_parser("render", help="picture a procedure: Mermaid, Graphviz or a matrix table")
    s.add_argument("file", help="TOML or JSON definitions")
    s.add_argument("--procedure", required=True, help="procedure key")
    s.add_argument(
        "--format",
        choices=["mermaid", "dot", "table", "matrix"],
        default="mermaid",
        help="mermaid (default), dot (Graphviz) or table (the matrix per role; alias matrix)",
    )
    s.add_argument("--role", help="only this role")
    s.set_defaults(func=_cmd_render)

    s = sub.add_parser("import", help="import suspects from a CSV file into a project")
    store_opts(s)
    s.add_argument("project", help="project id")
    s.add_argument("csv", help="CSV file (UTF-8 or cp1252; ',' or ';')")
    s.add_argument("--all-or-nothing", action="store_true", help="store nothing if a row is bad")
    s.add_argument("--delimiter", help="field delimiter (sniffed when omitted)")
    s.add_argument("--encoding", help="file encoding (detected when omitted)")
    s.add_argument("--strict", action="store_true", help="exit 1 when rows were rejected")
    s.set_defaults(func=_cmd_import)

    s = sub.add_parser("worklist", help="the prospects a role may act on now")
    store_opts(s)
    s.add_argument("project", help="project id")
    s.add_argument("role", help="role key, e.g. marketeer")
    s.add_argument("--limit", type=int, default=50)
    s.set_defaults(func=_cmd_worklist)

    s = sub.add_parser("dispatch", help="deliver the outbox (once, or as a loop)")
    store_opts(s, definitions=False)
    s.add_argument(
        "--smtp", metavar="HOST:PORT", type=_host_port, help="deliver through this SMTP server"
    )
    s.add_argument("--out", default="outbox", help="folder for .eml files when no --smtp")
    s.add_argument("--loop", action="store_true", help="keep dispatching")
    s.add_argument("--interval", type=float, default=5.0, help="seconds between loop rounds")
    s.set_defaults(func=_cmd_dispatch)

    s = sub.add_parser("scheduler", help="perform the automatic steps that are due")
    store_opts(s)
    s.add_argument("--loop", action="store_true", help="keep running until SIGTERM")
    s.add_argument("--interval", type=float, default=5.0, help="seconds between loop rounds")
    s.add_argument("--limit", type=int, default=100, help="prospects claimed per round")
    s.add_argument("--reminders", action="store_true", help="also remind owners of overdue steps")
    s.set_defaults(func=_cmd_scheduler)
    s = sub.add_parser("inbox", help="apply replies, bounces and calendar answers from an inbox")
    store_opts(s, definitions=False)
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--folder", metavar="PATH", help="a Maildir or a folder of .eml files")
    where.add_argument(
        "--imap",
        metavar="URL",
        help="imaps://user@host[:port]/MAILBOX (password in CRM_IMAP_PASSWORD)",
    )
    s.add_argument("--name", help="the name the inbox's position is stored under")
    s.add_argument("--batch", type=int, default=100, help="messages per fetch")
    s.add_argument("--loop", action="store_true", help="keep polling")
    s.add_argument("--interval", type=float, default=30.0, help="seconds between polls")
    s.set_defaults(func=_cmd_inbox)

    s = sub.add_parser("report", help="funnel or per-employee report")
    store_opts(s, definitions=False)
    s.add_argument("kind", choices=["funnel", "employees"])
    s.add_argument("--project", help="project id (funnel)")
    s.add_argument("--csv", action="store_true", help="CSV instead of a table")
    s.set_defaults(func=_cmd_report)

    s = sub.add_parser("schema", help="create or upgrade the schema of an SQL store")
    s.add_argument("action", choices=["create", "upgrade"])
    s.add_argument("--db", default=DEFAULT_DB, help=f"store URL (default {DEFAULT_DB})")
    s.set_defaults(func=_cmd_schema)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:
        if args.debug:
            raise
        if isinstance(exc, (CrmError, OSError, ImportError)) or _is_database_error(exc):
            sys.stderr.write(f"crm-procedures {args.command}: error: {_one_line(exc)}\n")
            return EXIT_USAGE
        sys.stderr.write(
            f"crm-procedures {args.command}: unexpected error: {type(exc).__name__}: "
            f"{_one_line(exc)} (run with --debug for the traceback)\n"
        )
        return EXIT_FINDINGS


def _is_database_error(exc: BaseException) -> bool:
    """A database the command cannot open or reach (SQLAlchemy is only imported when used)."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # SQLAlchemy appends "(Background on this error at: ...)"; the first part says it all.
    lines = [line for line in text.splitlines() if not line.startswith("(Background on")]
    if len(lines) > 1:
        return f"{lines[0]} " + " ".join(s.strip() for s in lines[1:4])
    return lines[0] if lines else text


if __name__ == "__main__":
    raise SystemExit(main())
