"""The ``crm-procedures`` command, run in-process through ``crm_procedures.cli.main``.

Exit codes: 0 when it went well, 1 for findings (validate) or rejected rows
(import --strict), 2 for a user error with one line on standard error and no
traceback; ``--debug`` lets the exception through instead.
"""

from __future__ import annotations

import csv
import email
import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from email import policy
from pathlib import Path
from types import SimpleNamespace

import pytest

from cli.conftest import Database
from crm_procedures import NotFound, open_store
from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.memory_mail import MemoryMailer
from crm_procedures.cli import _dispatch_due, main
from crm_procedures.model.outbox import OutboxMessage
from crm_procedures.services import campaigns
from crm_procedures.services.context import Context
from crm_procedures.services.outbox import dispatch_once
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.contracts.messages import T0, a_message
from integration.campaign import START

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STANDARD = EXAMPLES / "standard_procedure.toml"
COMMANDS = ["demo", "validate", "render", "import", "worklist", "dispatch", "report", "schema"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line in-process: (exit code, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse: --help, --version and usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, command: str) -> None:
    assert "Traceback" not in err
    assert err.count("\n") == 1
    assert err.startswith(f"crm-procedures {command}: error: ")


# -- the program ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, err = run(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: crm-procedures {command}")
    assert err == ""


def test_version_and_a_missing_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("crm_procedures ")
    code, _, err = run(capsys)
    assert code == 2
    assert "COMMAND" in err


def test_python_dash_m_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crm_procedures", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: crm-procedures")
    for command in COMMANDS:
        assert command in done.stdout


def test_a_user_error_in_a_real_process_prints_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crm_procedures", "render", str(STANDARD), "--procedure", "x"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "crm-procedures render: error: no procedure with id 'x'\n"


# -- validate ------------------------------------------------------------------------------------


def test_validate_accepts_the_standard_procedure(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", str(STANDARD))
    assert (code, err) == (0, "")
    assert out.strip().endswith("valid (0 errors, 0 warnings)")
    code, out, _ = run(capsys, "validate", str(STANDARD), "--format", "json")
    assert code == 0
    assert json.loads(out) == []


def broken_copy(tmp_path: Path) -> Path:
    """The standard procedure with a matrix row naming a step that does not exist."""
    text = STANDARD.read_text(encoding="utf-8")
    text = text.replace('START = ["call"]', 'START = ["call", "fax"]', 1)
    assert "fax" in text
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_reports_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = broken_copy(tmp_path)
    code, out, _ = run(capsys, "validate", str(broken))
    assert code == 1
    assert "fax" in out
    assert out.strip().splitlines()[-1].startswith(f"{broken}: invalid (")
    code, out, _ = run(capsys, "validate", str(broken), "--format", "json")
    assert code == 1
    findings = json.loads(out)
    assert findings
    assert all({"code", "severity", "message", "location"} <= set(f) for f in findings)
    assert any("fax" in f["message"] for f in findings)


def test_validate_a_file_that_is_not_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[roles.marketeer\nlabel = ", encoding="utf-8")
    code, out, _ = run(capsys, "validate", str(bad))
    assert code == 1
    assert "invalid" in out
    code, out, _ = run(capsys, "validate", str(tmp_path / "missing.toml"))
    assert code == 1
    assert "missing.toml" in out


# -- render --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "first_line"),
    [
        ("mermaid", "flowchart LR"),
        ("dot", 'digraph "standard" {'),
        ("table", "**marketeer**"),
        ("matrix", "**marketeer**"),
    ],
)
def test_render_pictures_the_procedure(
    capsys: pytest.CaptureFixture[str], fmt: str, first_line: str
) -> None:
    argv = ("render", str(STANDARD), "--procedure", "standard", "--format", fmt)
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == first_line
    for step in ("call", "call_back", "send_info", "make_appointment", "client_call"):
        assert step in out
    assert run(capsys, *argv)[1] == out  # deterministic


def test_render_the_matrix_of_one_role(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "render", str(STANDARD), "--procedure", "standard", "--format", "table",
        "--role", "client",
    )  # fmt: skip
    assert code == 0
    assert "**client**" in out
    assert "**marketeer**" not in out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert rows["make_appointment"].count("✓") == 1
    assert rows["call"].count("✓") == 0


def test_render_refuses_an_unknown_procedure_or_role(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render", str(STANDARD), "--procedure", "nope")
    assert (code, out) == (2, "")
    assert_one_line_error(err, "render")
    assert "nope" in err
    code, out, err = run(
        capsys, "render", str(STANDARD), "--procedure", "standard", "--role", "salesman"
    )
    assert (code, out) == (2, "")
    assert_one_line_error(err, "render")
    assert "salesman" in err


def test_debug_shows_the_exception(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(NotFound):
        main(["--debug", "render", str(STANDARD), "--procedure", "nope"])


# -- schema --------------------------------------------------------------------------------------


def test_schema_create_and_upgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = "sqlite:///" + str(tmp_path / "new.db")
    code, out, _ = run(capsys, "schema", "create", "--db", url)
    assert code == 0
    assert out.startswith(f"{url}: schema at version ")
    version = out.split()[-1]
    code, out, _ = run(capsys, "schema", "upgrade", "--db", url)
    assert (code, out.split()[-1]) == (0, version)
    with sqlite3.connect(tmp_path / "new.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"prospects", "outbox"} <= tables


def test_a_database_that_cannot_be_opened_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "sqlite:///" + str(tmp_path / "no" / "such" / "folder" / "crm.db")
    code, out, err = run(capsys, "schema", "create", "--db", url)
    assert (code, out) == (2, "")
    assert_one_line_error(err, "schema")
    code, _, err = run(capsys, "worklist", "--db", "mysql://x/y", "p", "marketeer")
    assert code == 2
    assert_one_line_error(err, "worklist")
    assert "not supported" in err


# -- import, worklist, dispatch, report on a campaign database -----------------------------------


JANSEN = ["Jansen Bouw B.V.", "Utrecht", "Anna", "Jansen", "anna@jansen.example.nl"]
VISSER = ["Visser Metaal", "Zwolle", "Kees", "Visser", "kees@visser.example.nl"]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["Bedrijfsnaam", "Plaats", "Voornaam", "Achternaam", "E-mail contactpersoon"])
        w.writerows(rows)
    return path


def test_import_suspects_into_a_project(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_csv(tmp_path / "suspects.csv", [JANSEN, VISSER])
    code, out, err = run(
        capsys, "import", "--db", database.url, "--as", "pia", database.project_id, str(good)
    )
    assert (code, err) == (0, "")
    assert out.startswith("2 rows read, 2 imported, 0 rejected")
    with sqlite3.connect(database.path) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM prospects WHERE project_id = ?", (database.project_id,)
        ).fetchone()
    assert count == 4


def test_import_strict_exits_1_when_rows_are_rejected(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nameless = ["", *VISSER[1:]]
    mixed = write_csv(tmp_path / "mixed.csv", [JANSEN, nameless])
    argv = ("import", "--db", database.url, "--as", "pia", database.project_id, str(mixed))
    code, out, _ = run(capsys, *argv, "--strict", "--all-or-nothing")
    assert code == 1
    assert "1 rejected" in out
    assert "line 3" in out
    assert "nothing stored" in out
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "1 imported, 1 rejected" in out


def test_import_user_errors(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "import", "--db", database.url, "--as", "pia", database.project_id, "none.csv"
    )
    assert code == 2
    assert_one_line_error(err, "import")
    good = write_csv(tmp_path / "s.csv", [["Bos B.V.", "Utrecht", "Jan", "Bos", "jan@bos.nl"]])
    code, _, err = run(capsys, "import", "--db", database.url, "--as", "pia", "nope", str(good))
    assert code == 2
    assert_one_line_error(err, "import")
    code, _, err = run(
        capsys, "import", "--db", database.url, "--as", "eve", database.project_id, str(good)
    )
    assert code == 2
    assert_one_line_error(err, "import")


def test_worklist_of_a_role(database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "worklist", "--db", database.url, "--as", "ann", database.project_id, "marketeer"
    )
    assert (code, err) == (0, "")
    lines = out.strip().splitlines()
    assert lines[-1] == "2 prospect(s) for role 'marketeer'"
    assert sorted(line.split()[0] for line in lines[:-1]) == sorted([database.acme, database.bolt])
    assert all("last=START" in line for line in lines[:-1])
    code, out, _ = run(
        capsys, "worklist", "--db", database.url, "--as", "cor", database.project_id, "client"
    )
    assert (code, out) == (0, "0 prospect(s) for role 'client'\n")
    code, _, err = run(capsys, "worklist", "--db", database.url, "nope", "marketeer")
    assert code == 2
    assert_one_line_error(err, "worklist")


def perform_send_info(database: Database) -> None:
    """ann calls acme and sends the information e-mail, through the services."""
    store = open_store(database.url)
    try:
        clock = FrozenClock(START + timedelta(hours=1))
        ctx = Context(store=store, clock=clock, sender_email="campaigns@example.com")
        campaigns.perform_step(ctx, "ann", database.acme, "call", role="marketeer")
        campaigns.perform_step(ctx, "ann", database.acme, "send_info", role="marketeer")
    finally:
        store.close()


def test_dispatch_delivers_the_outbox_into_eml_files(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    perform_send_info(database)
    folder = tmp_path / "sent"
    code, out, err = run(capsys, "dispatch", "--db", database.url, "--out", str(folder))
    assert (code, err) == (0, "")
    assert out == "claimed 1, delivered 1, partially failed 0, retried 0, failed 0\n"
    (eml,) = folder.glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"].addresses[0].addr_spec == "jan@acme.example.nl"
    code, out, _ = run(capsys, "dispatch", "--db", database.url, "--out", str(folder))
    assert (code, out) == (0, "claimed 0, delivered 0, partially failed 0, retried 0, failed 0\n")
    assert len(list(folder.glob("*.eml"))) == 1


def test_dispatch_summary_counts_partially_failed_messages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = MemoryStore()
    two = a_message(1)
    with store.unit_of_work() as uow:
        uow.outbox.add(
            OutboxMessage(
                id=two.id,
                key=two.key,
                channel="mail",
                payload={**two.payload, "recipients": ["ok@example.com", "never@example.com"]},
            )
        )
        uow.outbox.add(a_message(2))
        uow.commit()
    mailer = MemoryMailer()
    mailer.answer("never@example.com", 550)
    app = SimpleNamespace(store=store, clock=FrozenClock(T0))
    _dispatch_due(app, mailer, dispatch_once)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "claimed 2, delivered 1, partially failed 1, retried 0, failed 0"
    assert lines[1].startswith(f"  {two.id}: ")
    assert "never@example.com" in lines[1]


def test_dispatch_refuses_a_malformed_smtp_address(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "dispatch", "--db", database.url, "--smtp", "localhost:abc")
    assert (code, out) == (2, "")
    assert "HOST:PORT" in err
    assert "Traceback" not in err


def test_report_funnel_and_employees(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    perform_send_info(database)
    code, out, err = run(
        capsys, "report", "funnel", "--db", database.url, "--as", "pia",
        "--project", database.project_id,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "Relations in the project" in out
    assert "Step reached: send_info" in out
    code, out, _ = run(
        capsys, "report", "funnel", "--db", database.url, "--as", "pia",
        "--project", database.project_id, "--csv",
    )  # fmt: skip
    assert code == 0
    rows = list(csv.reader(out.splitlines()))
    assert len(rows) > 2
    assert len({len(r) for r in rows}) == 1
    code, out, _ = run(capsys, "report", "employees", "--db", database.url, "--as", "pia")
    assert code == 0
    (ann,) = [line for line in out.splitlines() if line.startswith("ann ")]
    assert "send_info: 1" in ann
    code, out, err = run(capsys, "report", "funnel", "--db", database.url)
    assert (code, out) == (2, "")
    assert_one_line_error(err, "report")
    assert "--project" in err


def test_report_on_an_empty_database_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "sqlite:///" + str(tmp_path / "empty.db")
    code, out, _ = run(capsys, "report", "employees", "--db", url)
    assert (code, out) == (0, "nothing to report yet\n")


# -- demo ----------------------------------------------------------------------------------------


def test_demo_command_runs_and_reruns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "demo"
    argv = ("demo", "--out", str(out_dir), "--suspects", "20", "--quiet")
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "Summary" in out
    assert "integrity check: ok" in out
    assert (out_dir / "crm.db").exists()
    code, out, _ = run(capsys, *argv, "--resume")
    assert code == 0
    assert "continuing" in out
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "fresh start" in out
