"""Import of suspects: 100,000 CSV rows with normalisation and duplicate detection.

``import_100k_s`` is :func:`crm_procedures.services.imports.import_suspects` of a
100,000-row CSV file (Dutch headers, messy case and spacing, 3% exact
duplicates and 1% near duplicates) into a campaign project in a SQLite file:
names, postcodes, e-mail addresses and phones normalised, duplicates found
within the file and against stored relations, and a relation, a contact and a
prospect stored per good row, in one unit of work. The baseline is what a
user without the library writes: ``csv.reader`` and ``sqlite3.executemany`` of
the raw cells into one table, in one transaction (no normalisation, no
duplicate detection); the ratio is of times (rows/s of the baseline over ours).

Run: ``python benchmarks/run.py --only import``.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data
from _common import Figure, raw_connection, timed_insert

from crm_procedures import CrmApp, standard_definitions
from crm_procedures.adapters.sql import open_store
from crm_procedures.services.imports import import_suspects
from crm_procedures.testing import FrozenClock

HEADER = (
    "Bedrijfsnaam;Straat;Postcode;Plaats;Branchecode;Telefoon;Voornaam;Voorletters;"
    "Tussenvoegsel;Achternaam;Geslacht;E-mail contactpersoon"
)
_NAMES = ("bakkerij", "molen", "garage", "installatiebedrijf", "drukkerij", "kwekerij")
_FIRST = ("Piet", "Jan", "Sanne", "Kees", "Anna", "Eva", "Bram", "Lotte")
_LAST = ("Vries", "Jansen", "Visser", "Bos", "Smit", "Mulder", "Meijer", "Bakker")
_CITY = ("Amsterdam", "Utrecht", "Zwolle", "Groningen", "Leiden", "Delft")


def suspects_csv(n: int) -> str:
    """``n`` data rows: varied, messy, with 3% exact and 1% near duplicates."""
    lines = [HEADER]
    for i in range(n):
        j = i
        if i % 33 == 32:
            j = i - 11  # an exact duplicate of an earlier row
        name = f"{_NAMES[j % 6]} {_LAST[(j // 6) % 8].lower()} {j}"
        if i % 100 == 50:
            name = name.upper() + " B.V."  # a near duplicate: same postcode, similar name
            j = i - 1
            name = f"{_NAMES[j % 6]} {_LAST[(j // 6) % 8].lower()} {j} bv"
        postcode = f"{1000 + j % 8999} {chr(65 + j % 26)}{chr(65 + (j // 26) % 26)}"
        if i % 2:
            postcode = postcode.replace(" ", "").lower()
        first = _FIRST[j % 8]
        last = _LAST[(j // 3) % 8]
        infix = "de" if j % 4 == 0 else ""
        lines.append(
            ";".join(
                (
                    name,
                    f"Dorpsstraat {j % 300 + 1}",
                    postcode,
                    _CITY[j % 6],
                    str(1000 + j % 90),
                    f"06-{10_000_000 + j:08d}",
                    first,
                    f"{first[0]}.",
                    infix,
                    last,
                    "M" if j % 2 else "V",
                    f" {first}.{last}{j}@Example.NL ",
                )
            )
        )
    return "\n".join(lines) + "\n"


def run(quick: bool) -> list[Figure]:
    """The import figure (see the module documentation)."""
    n = 5_000 if quick else 100_000
    folder = _data.cache_dir() / "import"
    folder.mkdir(exist_ok=True)
    source = folder / f"suspects-{n}.csv"
    source.write_text(suspects_csv(n), encoding="utf-8")

    url = f"sqlite:///{folder / f'import-{n}.db'}"
    app, project_id = _data._setup(url)
    app.close()
    store = open_store(url, create=False)
    ctx = CrmApp(store=store, clock=FrozenClock(_data.T0), definitions=standard_definitions()).ctx
    try:
        t0 = time.perf_counter()
        report = import_suspects(ctx, "pia", project_id, source)
        ours = time.perf_counter() - t0
    finally:
        store.close()
    if not report.committed or report.imported < n * 0.9:
        raise AssertionError(f"import did not store the file: {report.summary()}")

    raw_path = folder / f"raw-{n}.db"
    conn = raw_connection(raw_path, foreign_keys=False)
    try:
        conn.execute(f"CREATE TABLE suspects ({', '.join(f'c{i} TEXT' for i in range(12))})")
        with source.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter=";")
            next(reader)
            raw = timed_insert(conn, "suspects", reader, 12)
    finally:
        conn.close()
    limit = 10.0 * n / 100_000
    return [
        Figure(
            "import_100k_s",
            ours,
            "s",
            "< 10 s (goal < 5 s)" + (f"; quick: < {limit:.1f} s pro rata" if quick else ""),
            ours < limit,
            raw,
            ours / raw,
            f"{n:,} rows: {report.imported:,} imported, {len(report.duplicates):,} duplicates "
            f"reported, {len(report.rejected):,} rejected; {n / ours:,.0f} rows/s against "
            f"{n / raw:,.0f} rows/s for bare csv + executemany"
            + (" (quick: not 100,000)" if quick else ""),
        )
    ]


if __name__ == "__main__":
    for f in run(quick="--quick" in sys.argv):
        print(f"{f.name}: {f.value:.4g} {f.unit}; baseline {f.baseline}; ratio {f.ratio}")
        print("   ", f.note)
