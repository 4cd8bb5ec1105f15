"""W1: importing suspects into a project, with a data-quality report."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from crm_procedures.errors import AccessDenied, InvalidInput, NotFound
from crm_procedures.model.contact import Gender
from crm_procedures.model.prospect import ProspectStatus, RelationStage
from crm_procedures.model.relation import RelationKind
from crm_procedures.policies.rules import DEFAULT_RULES
from crm_procedures.ports import Store
from crm_procedures.services.context import Context
from crm_procedures.services.imports import (
    export_csv,
    import_suspects,
    neutralise_cell,
    read_csv_rows,
)

DUTCH_CSV = (
    "Bedrijfsnaam;Postcode;Plaats;Telefoon;E-mail;Contactpersoon;Geslacht;Branchecode\n"
    "abn amro;1082pp;Amsterdam;020-6289393;info@abnamro.nl;Jan van der Berg;m;6419\n"
    "E.T.B. de Groot;3511 AB;Utrecht;030 123 4567;;J.H. v.d. Groot;dhr.;4321\n"
)


def stored(store: Store) -> tuple[int, int, int]:
    with store.unit_of_work() as uow:
        return uow.relations.count(), uow.contacts.count(), uow.prospects.count()


def test_dutch_csv_becomes_normalised_relations_contacts_and_suspects(ctx: Context) -> None:
    report = import_suspects(ctx, "mia", "p1", DUTCH_CSV)
    assert (report.rows, report.imported, report.rejected, report.duplicates) == (2, 2, (), ())
    with ctx.store.unit_of_work() as uow:
        first = uow.relations.get(report.relation_ids[0])
        second = uow.relations.get(report.relation_ids[1])
        assert first.name == "ABN AMRO"
        assert first.postcode == "1082 PP"
        assert first.phone == "+31206289393"
        assert first.industry_code == "6419"
        assert first.kinds == frozenset({RelationKind.SUSPECT})
        assert second.name == "Electro Technisch Bedrijf de Groot"
        (jan,) = uow.contacts.of_relation(first.id)
        assert (jan.first_name, jan.initials, jan.name_prefix, jan.last_name) == (
            "Jan",
            "J.",
            "van der",
            "Berg",
        )
        assert jan.gender is Gender.MALE
        (groot,) = uow.contacts.of_relation(second.id)
        assert (groot.initials, groot.name_prefix) == ("J.H.", "van der")
        prospects = uow.prospects.of_project("p1")
        assert len(prospects) == 2
        assert {p.status for p in prospects} == {ProspectStatus.PREPARING}
        assert {p.stage for p in prospects} == {RelationStage.SUSPECT}
        assert {p.relation_id for p in prospects} == set(report.relation_ids)
        assert {p.contact_id for p in prospects} == {jan.id, groot.id}


def test_bad_rows_are_reported_by_line_and_good_rows_imported(ctx: Context) -> None:
    text = (
        "name,postcode,phone,email\n"
        "Bakkerij Jansen,1234ab,,\n"
        ",1234 AB,,\n"  # line 3: no name
        "Slagerij Pietersen,12345,,\n"  # line 4: bad postcode
        "Visboer Klaassen,,bel me,\n"  # line 5: bad phone
        "Groenteboer,,,niet-een-adres\n"  # line 6: bad e-mail
        "Kapper Knip,2345 BC,,\n"
    )
    report = import_suspects(ctx, "mia", "p1", text)
    assert report.imported == 2
    assert [r.line for r in report.rejected] == [3, 4, 5, 6]
    assert "name" in report.rejected[0].reason
    assert "postcode" in report.rejected[1].reason
    assert "phone" in report.rejected[2].reason
    assert "e-mail" in report.rejected[3].reason
    assert stored(ctx.store)[2] == 2


def test_all_or_nothing_stores_nothing_when_a_row_is_bad(ctx: Context) -> None:
    before = stored(ctx.store)
    text = "name,postcode\nBakkerij Jansen,1234ab\nSlagerij,99\n"
    report = import_suspects(ctx, "mia", "p1", text, all_or_nothing=True)
    assert not report.committed
    assert report.imported == 0
    assert [r.line for r in report.rejected] == [3]
    assert stored(ctx.store) == before


def test_duplicates_within_the_file_are_skipped_and_likely_ones_flagged(ctx: Context) -> None:
    text = (
        "name,postcode,phone\n"
        "Bakkerij Jansen,1234 AB,\n"
        "BAKKERIJ JANSEN B.V.,1234ab,\n"  # line 3: same normalised name and postcode
        "Slagerij Pietersen,2345 BC,020-1234567\n"
        "Vleeshouwerij P.,9999 ZZ,+31 20 123 4567\n"  # line 5: same phone as line 4
        "Bakkerij Janssen,1234 AB,\n"  # line 6: likely duplicate of line 2
    )
    report = import_suspects(ctx, "mia", "p1", text)
    assert [(d.line, d.matched, d.reason, d.skipped) for d in report.duplicates] == [
        (3, 2, "name and postcode", True),
        (5, 4, "phone", True),
        (6, 2, "similar name", False),
    ]
    assert 0.9 <= report.duplicates[2].score < 1.0
    assert report.imported == 3


def test_duplicates_of_stored_relations_are_found(ctx: Context) -> None:
    import_suspects(ctx, "mia", "p1", "name,postcode\nBakkerij Jansen,1234 AB\n")
    report = import_suspects(ctx, "mia", "p1", "name,postcode\nbakkerij jansen,1234AB\n")
    assert report.imported == 0
    (dup,) = report.duplicates
    assert isinstance(dup.matched, str)
    assert dup.skipped


def test_rules_reject_rows_that_break_blocking_agreements(ctx: Context) -> None:
    text = (
        "name,industry code,first name,initials,last name,gender\n"
        "Bakkerij Jansen,1071,Jan,J.,Jansen,m\n"
        "Slagerij Pietersen,,Piet,P.,Pietersen,m\n"  # no industry code
        "Kapper Knip,9602,,K.,Knip,v\n"  # no first name: a warning only
    )
    report = import_suspects(ctx, "mia", "p1", text, rules=DEFAULT_RULES)
    assert report.imported == 2
    assert [r.line for r in report.rejected] == [3]
    assert "industry code" in report.rejected[0].reason
    assert [line for line, _ in report.warnings] == [4]


def test_bytes_in_cp1252_and_utf8_with_bom_are_decoded(ctx: Context) -> None:
    text = "naam;plaats\nCafé Façade;Zwolle\n"
    import_suspects(ctx, "mia", "p1", text.encode("cp1252"))
    import_suspects(ctx, "mia", "p1", "\ufeffnazwa,miasto\nŁódzka Fabryka,Łódź\n".encode())
    with ctx.store.unit_of_work() as uow:
        names = {r.name for r in uow.relations.search("", limit=10)}
    assert {"Café Façade", "Łódzka Fabryka"} <= names


def test_file_path_and_explicit_mapping_are_accepted(ctx: Context, tmp_path: Path) -> None:
    path = tmp_path / "suspects.csv"
    path.write_text("Firma X|Kod\nDrukarnia Nowak|00950\n", encoding="utf-8")
    report = import_suspects(
        ctx,
        "mia",
        "p1",
        path,
        delimiter="|",
        mapping={"name": "Firma X", "postcode": "Kod"},
        country="PL",
    )
    assert report.imported == 1
    with ctx.store.unit_of_work() as uow:
        assert uow.relations.get(report.relation_ids[0]).postcode == "00-950"


def test_a_file_name_given_as_text_is_refused_with_advice(ctx: Context) -> None:
    with pytest.raises(InvalidInput, match=r"pathlib\.Path"):
        import_suspects(ctx, "mia", "p1", "suspects.csv")


def test_a_file_without_a_name_column_is_refused(ctx: Context) -> None:
    with pytest.raises(InvalidInput, match="relation name"):
        import_suspects(ctx, "mia", "p1", "city,postcode\nZwolle,8011 AA\n")


def test_dict_rows_count_lines_from_one(ctx: Context) -> None:
    rows = [{"company": "Bakkerij Jansen"}, {"company": ""}, {"company": "Kapper Knip"}]
    report = import_suspects(ctx, "mia", "p1", rows)
    assert report.imported == 2
    assert [r.line for r in report.rejected] == [2]


def test_only_users_with_prospect_write_may_import(ctx: Context) -> None:
    with pytest.raises(AccessDenied):
        import_suspects(ctx, "sam", "p1", "name\nBakkerij Jansen\n")
    with pytest.raises(NotFound):
        import_suspects(ctx, "mia", "nope", "name\nBakkerij Jansen\n")


def generated_csv(
    rows: int, seed: int, bad_share: float = 0.05, dup_share: float = 0.03
) -> tuple[str, set[int], set[int]]:
    """A CSV with ~5% bad rows and ~3% exact duplicates; returns (text, bad lines, dup lines)."""
    rnd = random.Random(seed)
    lines = ["name;postcode;city;phone;contact;gender"]
    bad: set[int] = set()
    dups: set[int] = set()
    good_rows: list[str] = []
    for i in range(rows):
        line = i + 2
        roll = rnd.random()
        if roll < bad_share:
            bad.add(line)
            kind = rnd.randrange(3)
            lines.append(
                [
                    f";{1000 + i % 9000} AB;Zwolle;;Jan Jansen;m",
                    f"Firma {i};12;Zwolle;;Jan Jansen;m",
                    f"Firma {i};{1000 + i % 9000} AB;Zwolle;12;Jan Jansen;m",
                ][kind]
            )
        elif roll < bad_share + dup_share and good_rows:
            dups.add(line)
            lines.append(rnd.choice(good_rows))
        else:
            row = (
                f"Handelsonderneming {i:05d} {rnd.choice(['Noord', 'Zuid', 'Oost', 'West'])};"
                f"{1000 + i % 9000} {chr(65 + i % 18)}{chr(66 + i % 20)};Zwolle;"
                f"06{i:08d};Piet van der Berg;m"
            )
            good_rows.append(row)
            lines.append(row)
    return "\n".join(lines) + "\n", bad, dups


def test_ten_thousand_rows_import_the_good_and_report_bad_and_duplicates(ctx: Context) -> None:
    text, bad, dups = generated_csv(10_000, seed=7)
    report = import_suspects(ctx, "mia", "p1", text)
    assert {r.line for r in report.rejected} == bad
    assert {d.line for d in report.duplicates if d.skipped} == dups
    assert report.imported == 10_000 - len(bad) - len(dups)
    assert stored(ctx.store)[2] == report.imported
    assert 400 < len(bad) < 600
    assert 200 < len(dups) < 400


class FailingStore:
    """A store whose prospects fail to be stored after relations and contacts were."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        store = self

        class _Ctx:
            def __enter__(self) -> Any:
                self.cm = store.inner.unit_of_work(read_only=read_only)
                uow = self.cm.__enter__()

                def fail(records: Any) -> None:
                    raise OSError("disk full")

                setattr(uow.prospects, "add_many", fail)  # noqa: B010 - replaces a bound method
                bulk = getattr(uow, "add_new_records", None)
                if bulk is not None:
                    # The SQL store's bulk path: the third batch fails, after two were stored.
                    batches = itertools.count()

                    def fail_third(*records: Any) -> None:
                        if next(batches) >= 2:
                            raise OSError("disk full")
                        bulk(*records)

                    setattr(uow, "add_new_records", fail_third)  # noqa: B010
                return uow

            def __exit__(self, *exc: Any) -> bool | None:
                return self.cm.__exit__(*exc)

        return _Ctx()

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("all_or_nothing", [True, False])
def test_a_failure_midway_leaves_the_store_unchanged(ctx: Context, all_or_nothing: bool) -> None:
    before = stored(ctx.store)
    failing = Context(FailingStore(ctx.store), ctx.clock, new_id=ctx.new_id)
    text, bad, _ = generated_csv(500, seed=3, bad_share=0.0)
    assert not bad
    with pytest.raises(OSError, match="disk full"):
        import_suspects(failing, "mia", "p1", text, all_or_nothing=all_or_nothing, batch_size=100)
    assert stored(ctx.store) == before


def test_csv_reader_numbers_lines_of_rows_with_quoted_line_breaks() -> None:
    header, rows = read_csv_rows('name,notes\nA,"two\nlines"\nB,x\n')
    assert header == ["name", "notes"]
    assert [line for line, _ in rows] == [2, 4]


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+31201234567", "'+31201234567"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Bakkerij Jansen", "Bakkerij Jansen"),
        (-5, "-5"),
        (None, ""),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_neutralised(value: object, safe: str) -> None:
    assert neutralise_cell(value) == safe


def test_exported_csv_neutralises_every_cell_and_reads_back() -> None:
    text = export_csv([{"name": "=cmd()", "city": "Zwolle"}, {"name": "Jansen", "city": "@x"}])
    header, rows = read_csv_rows(text)
    assert header == ["name", "city"]
    assert [cells for _, cells in rows] == [["'=cmd()", "Zwolle"], ["Jansen", "'@x"]]


def test_import_pauses_the_cycle_collector_and_restores_it(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from crm_procedures.services import imports

    seen: list[bool] = []
    build = imports._build

    def watching(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return build(*args)

    monkeypatch.setattr(imports, "_build", watching)
    assert gc.isenabled()
    import_suspects(ctx, "mia", "p1", DUTCH_CSV)
    assert seen == [False, False]
    assert gc.isenabled()
    with pytest.raises(AccessDenied):
        import_suspects(ctx, "nobody-with-rights", "p1", DUTCH_CSV)
    assert gc.isenabled()
    gc.disable()
    try:
        import_suspects(ctx, "mia", "p1", DUTCH_CSV.replace("abn amro", "ing"))
        assert not gc.isenabled()  # a host that turned it off keeps it off
    finally:
        gc.enable()


def test_collector_pauses_of_overlapping_imports_restore_the_first_state() -> None:
    import gc

    from crm_procedures.services.imports import _collector_paused

    assert gc.isenabled()
    first = _collector_paused()
    second = _collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second import still runs
    second.__exit__(None, None, None)
    assert gc.isenabled()
