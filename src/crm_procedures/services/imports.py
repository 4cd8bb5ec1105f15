"""Import of suspects into a project (W1), and CSV export safe for spreadsheets.

:func:`import_suspects` reads rows from a CSV file or text, or from dicts, maps
their columns (common English, Dutch and Polish headers are recognised),
normalises them by the installation's conventions (A1), validates them
(optionally against mandatory-data rules, A2), detects duplicates within the
file and against stored relations, and stores one
:class:`~crm_procedures.model.relation.Relation`, its
:class:`~crm_procedures.model.contact.Contact` (when the row names a person)
and a :class:`~crm_procedures.model.prospect.Prospect` (status preparing, stage
suspect) per good row, in one unit of work.

Rows are handled in batches of ``batch_size`` good rows: each batch is read,
normalised, checked and matched in memory, then stored with one statement per
table when the unit of work offers
:class:`~crm_procedures.ports.BulkNewRecords` (the SQL store), else through
the repositories' ``add_many``.

Two modes:

* row by row (default): good rows are stored, bad rows are reported with their
  line number and reason in the :class:`ImportReport`;
* ``all_or_nothing=True``: when any row is bad, nothing is stored and the
  report (``committed`` false) lists every bad row.

In both modes, a failure while storing (a store error, a crash) rolls the
whole import back: the store is left as it was.
"""

from __future__ import annotations

import csv
import gc
import io
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import attrs

from crm_procedures._paths import usable_path
from crm_procedures.access.permissions import may_import_suspects
from crm_procedures.errors import AccessDenied, InvalidInput, MalformedFile
from crm_procedures.ids import ContactId, ProjectId, ProspectId, RelationId
from crm_procedures.model._storable import UNSTORABLE_REASON, storable, unstorable
from crm_procedures.model._trusted import (
    new_suspect,
    trusted_address,
    trusted_contact,
    trusted_relation,
)
from crm_procedures.model.audit import Change
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.relation import Relation, RelationKind
from crm_procedures.policies.duplicates import DuplicateIndex, DuplicateMatch, skeleton
from crm_procedures.policies.normalise import (
    DEFAULT_CONVENTIONS,
    NameConventions,
    comparison_key,
    normalise_email,
    normalise_gender,
    normalise_initials,
    normalise_phone,
    normalise_postcode,
    normalise_relation_name,
    split_dutch_name,
)
from crm_procedures.policies.rules import RuleSet, check
from crm_procedures.ports import BulkNewRecords, UnitOfWork
from crm_procedures.services.context import Context, resolve_viewer
from crm_procedures.services.mandatory_rules import rules_in

__all__ = [
    "DEFAULT_HEADERS",
    "AttachedContact",
    "DuplicateRow",
    "ImportReport",
    "RejectedRow",
    "export_csv",
    "import_suspects",
    "neutralise_cell",
    "read_csv_rows",
]

FIELDS: tuple[str, ...] = (
    "name",
    "industry_code",
    "kinds",
    "street",
    "postcode",
    "city",
    "country",
    "email",
    "phone",
    "website",
    "region",
    "notes",
    "contact",
    "first_name",
    "initials",
    "prefix",
    "last_name",
    "gender",
    "contact_email",
    "contact_phone",
    "function",
)
"""The target fields a column can be mapped to."""

DEFAULT_HEADERS: Mapping[str, tuple[str, ...]] = {
    "name": (
        "name",
        "company",
        "company name",
        "relation",
        "organisation",
        "organization",
        "naam",
        "bedrijf",
        "bedrijfsnaam",
        "relatie",
        "relatienaam",
        "organisatie",
        "firma",
        "nazwa",
        "nazwa firmy",
        "kontrahent",
    ),
    "industry_code": (
        "industry code",
        "industry",
        "sbi",
        "sic",
        "branchecode",
        "branche",
        "pkd",
        "kod pkd",
        "branża",
    ),
    "kinds": ("kind", "kinds", "relation kind", "soort", "soort relatie", "rodzaj"),
    "street": ("street", "address", "straat", "adres", "ulica"),
    "postcode": ("postcode", "zip", "zip code", "postal code", "kod pocztowy", "kod"),
    "city": ("city", "town", "plaats", "woonplaats", "stad", "miasto", "miejscowość"),
    "country": ("country", "land", "kraj"),
    "email": ("email", "e-mail", "mail", "e-mailadres", "emailadres", "adres e-mail"),
    "phone": ("phone", "telephone", "tel", "telefoon", "telefoonnummer", "telefon"),
    "website": ("website", "web", "www", "url", "strona", "strona www"),
    "region": ("region", "regio", "rayon", "województwo", "region sprzedaży"),
    "notes": ("notes", "note", "remarks", "opmerkingen", "aantekeningen", "uwagi", "notatki"),
    "contact": ("contact", "contact person", "contact name", "contactpersoon", "osoba kontaktowa"),
    "first_name": ("first name", "firstname", "given name", "voornaam", "imię", "imie"),
    "initials": ("initials", "voorletters", "inicjały"),
    "prefix": ("prefix", "name prefix", "tussenvoegsel", "tussenvoegsels"),
    "last_name": ("last name", "lastname", "surname", "achternaam", "nazwisko"),
    "gender": ("gender", "sex", "salutation", "geslacht", "aanhef", "płeć", "plec"),
    "contact_email": ("contact email", "contact e-mail", "e-mail contactpersoon", "email osoby"),
    "contact_phone": ("contact phone", "mobile", "mobiel", "mobiele telefoon", "komórka"),
    "function": ("function", "job title", "title", "functie", "stanowisko"),
}
"""Recognised column headers per target field (compared case- and space-insensitively)."""

_KINDS: Mapping[str, RelationKind] = {
    **{k.value: k for k in RelationKind},
    "klant": RelationKind.CUSTOMER,
    "klient": RelationKind.CUSTOMER,
    "leverancier": RelationKind.SUPPLIER,
    "dostawca": RelationKind.SUPPLIER,
    "partner": RelationKind.PARTNER,
    "concurrent": RelationKind.COMPETITOR,
    "konkurent": RelationKind.COMPETITOR,
    "opdrachtgever": RelationKind.CLIENT,
    "zleceniodawca": RelationKind.CLIENT,
    "overig": RelationKind.OTHER,
    "inny": RelationKind.OTHER,
}

_COUNTRIES: Mapping[str, str] = {
    "nederland": "NL",
    "netherlands": "NL",
    "the netherlands": "NL",
    "holland": "NL",
    "holandia": "NL",
    "polska": "PL",
    "poland": "PL",
    "polen": "PL",
    "belgië": "BE",
    "belgie": "BE",
    "belgium": "BE",
    "belgia": "BE",
    "duitsland": "DE",
    "germany": "DE",
    "deutschland": "DE",
    "niemcy": "DE",
}


@attrs.frozen
class RejectedRow:
    """A row that was not imported: its line number (1 = the header) and why."""

    line: int
    reason: str


@attrs.frozen
class DuplicateRow:
    """A row that duplicates an earlier row of the file or a stored relation.

    Attributes:
        line: the row's line number.
        matched: the earlier row's line number, or the stored relation's id.
        score: 1.0 for an exact duplicate, below that the name similarity.
        reason: what matched ("name and postcode", "e-mail", "phone", "similar name").
        skipped: True when the row was not imported because of it.
    """

    line: int
    matched: int | str
    score: float
    reason: str
    skipped: bool


@attrs.frozen
class AttachedContact:
    """A contact person of a company already known, attached to it instead of skipped (W1).

    Attributes:
        line: the row's line number.
        relation_id: the relation the contact now belongs to (stored, or
            imported from an earlier line of the same file).
        contact_id: the new contact's id.
    """

    line: int
    relation_id: str
    contact_id: str


@attrs.frozen
class ImportReport:
    """What an import did: the data-quality report (W1, A1, A2).

    Attributes:
        rows: data rows read.
        imported: rows stored (a relation, its contact and a suspect each).
        rejected: bad rows, with line number and reason, in file order.
        duplicates: duplicate rows (skipped exact ones and imported likely ones).
        warnings: non-blocking rule violations per line.
        committed: False when nothing was stored (all-or-nothing with bad rows).
        relation_ids: the stored relations, in file order.
        attached: contact persons of a company already known (stored, or on an
            earlier line) that were added to it; their rows count as
            duplicates, skipped as relations.
    """

    rows: int
    imported: int
    rejected: tuple[RejectedRow, ...]
    duplicates: tuple[DuplicateRow, ...]
    warnings: tuple[tuple[int, str], ...]
    committed: bool
    relation_ids: tuple[str, ...] = attrs.field(repr=False)
    attached: tuple[AttachedContact, ...] = ()

    def summary(self) -> str:
        """The report as text for people, one problem per line."""
        head = (
            f"{self.rows} rows read, {self.imported} imported, {len(self.rejected)} rejected, "
            f"{len(self.duplicates)} duplicates"
            + ("" if self.committed else " (nothing stored: all-or-nothing import with bad rows)")
        )
        lines = [head]
        lines += [f"  line {r.line}: rejected: {r.reason}" for r in self.rejected]
        for d in self.duplicates:
            what = f"line {d.matched}" if isinstance(d.matched, int) else f"relation {d.matched}"
            action = "skipped" if d.skipped else "imported, please review"
            lines.append(
                f"  line {d.line}: duplicate of {what} ({d.reason}, score {d.score:.2f}); {action}"
            )
        lines += [
            f"  line {a.line}: contact added to relation {a.relation_id}" for a in self.attached
        ]
        lines += [f"  line {line}: warning: {message}" for line, message in self.warnings]
        return "\n".join(lines)


def _header_key(header: str) -> str:
    return " ".join(header.replace("_", " ").strip().lower().split())


def _resolve_mapping(headers: Sequence[str], mapping: Mapping[str, str] | None) -> dict[str, str]:
    """Target field -> source column."""
    by_key = {_header_key(h): h for h in headers}
    out: dict[str, str] = {}
    if mapping:
        for target, column in mapping.items():
            if target not in FIELDS:
                raise InvalidInput(
                    f"mapping.{target}", "is not a target field; fields: " + ", ".join(FIELDS)
                )
            if column not in headers and _header_key(column) not in by_key:
                raise InvalidInput(
                    f"mapping.{target}", f"column {column!r} is not in the file", column
                )
            out[target] = column if column in headers else by_key[_header_key(column)]
    taken = set(out.values())
    for target, aliases in DEFAULT_HEADERS.items():
        if target in out:
            continue
        for alias in aliases:
            found = by_key.get(alias)
            if found is not None and found not in taken:
                out[target] = found
                taken.add(found)
                break
    if "name" not in out:
        raise InvalidInput(
            "mapping",
            "no column holds the relation name; name it e.g. 'name', 'bedrijfsnaam' or "
            "'nazwa', or pass mapping={'name': '<column>'}",
            list(headers),
        )
    return out


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(data: bytes, encoding: str | None) -> str:
    if encoding:
        try:
            return data.decode(encoding)
        except LookupError as exc:
            raise InvalidInput("encoding", f"unknown encoding {encoding!r}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise MalformedFile(
                _line_of(data, exc.start), f"cannot decode the file as {encoding}: {exc.reason}"
            ) from None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedFile(
                _line_of(data, exc.start + 3),
                "the file starts with a UTF-8 byte-order mark but this line is not UTF-8; "
                "save the whole file as UTF-8",
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    _refuse_mixed_encodings(data)
    # Every byte decodes in cp1252 except five unassigned ones.
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise MalformedFile(
            _line_of(data, exc.start),
            "the file is neither UTF-8 nor cp1252; pass encoding='...'",
        ) from None


def _refuse_mixed_encodings(data: bytes) -> None:
    """Refuse a file whose non-ASCII lines are partly UTF-8 and partly not.

    Such a file was pasted together from two sources; decoding it all as
    cp1252 would silently garble the UTF-8 rows ("CafÃ©").
    """
    utf8: list[int] = []
    other: list[int] = []
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other.append(number)
        else:
            utf8.append(number)
    if utf8 and other:
        shown = ", ".join(map(str, other[:10])) + (", ..." if len(other) > 10 else "")
        raise MalformedFile(
            other[0],
            f"the file mixes encodings: line {utf8[0]} is UTF-8 but "
            + (f"lines {shown} are not " if len(other) > 1 else f"line {shown} is not ")
            + "(cp1252?); save the whole file in one encoding, or pass encoding='...'",
            other,
        )


def _check_delimiter(value: Any) -> str:
    """``value`` if it can separate CSV cells, else InvalidInput naming ``delimiter``."""
    if (
        not isinstance(value, str)
        or len(value) != 1
        or value in '"\r\n\x00'
        or "\ud800" <= value <= "\udfff"
    ):
        raise InvalidInput(
            "delimiter",
            "must be one character such as ',', ';' or a tab (not a quote or a line break)",
            value,
        )
    return value


def _sniff_delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv_rows(
    source: str | bytes | os.PathLike[str],
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and ``(line number, cells)`` of each data row of a CSV source.

    ``source`` is a path (:class:`pathlib.Path` or another path-like), the
    file's bytes, or its text. Bytes are decoded as UTF-8 (with or without a
    byte-order mark), falling back to cp1252 when no line is UTF-8 (a file
    mixing the two is refused), unless ``encoding`` is given. The
    delimiter (``,``, ``;`` or tab) is taken from the header line unless given.
    Line numbers count physical lines from 1 (the header), so a row with a
    quoted line break in it moves the numbers of the rows after it.

    Raises:
        InvalidInput: the file cannot be read, is empty, or a plain string that
            looks like a file name was given.
        MalformedFile: (an InvalidInput) naming the line: the file cannot be
            decoded or mixes UTF-8 with another encoding, two columns have the
            same header (case and spaces aside), or a quote is never closed or
            closed in the middle of a cell.
    """
    if isinstance(source, os.PathLike):
        try:
            raw = usable_path("source", source).read_bytes()
        except OSError as exc:
            raise InvalidInput("source", f"cannot read {os.fspath(source)!r}: {exc}") from None
        text = _decode(raw, encoding)
    elif isinstance(source, bytes):
        text = _decode(source, encoding)
    elif isinstance(source, str):
        if "\n" not in source and source.strip().lower().endswith((".csv", ".txt")):
            raise InvalidInput(
                "source", "looks like a file name; pass pathlib.Path(...) to read a file", source
            )
        text = source[1:] if source.startswith("\ufeff") else source
    else:
        raise InvalidInput("source", "must be a path, bytes or CSV text", type(source).__name__)
    if not text.strip():
        raise InvalidInput("source", "is empty: a header row is needed")
    # Strict: a quote that is never closed, or closed in the middle of a cell,
    # is an error instead of silently swallowing the lines after it.
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=_sniff_delimiter(text) if delimiter is None else _check_delimiter(delimiter),
        strict=True,
    )
    try:
        header = next(reader)
    except csv.Error as exc:
        raise MalformedFile(1, _csv_problem(exc, reader.line_num)) from None
    header = [h.strip() for h in header]
    _refuse_duplicate_headers(header)

    def rows() -> Iterator[tuple[int, list[str]]]:
        previous = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise MalformedFile(previous + 1, _csv_problem(exc, reader.line_num)) from None
            start, previous = previous + 1, reader.line_num
            if any(c.strip() for c in cells):
                yield start, cells

    return header, rows()


def _csv_problem(exc: csv.Error, reached: int) -> str:
    message = str(exc)
    if "unexpected end of data" in message:
        return (
            "a quoted cell that begins on this line is never closed (the file ends inside "
            "it); close the quote or double the quote character inside the cell"
        )
    if "expected after" in message:
        return (
            f"a quoted cell that begins on this line is closed (on line {reached}) by a "
            "quote followed by more text instead of a delimiter; double a quote inside a "
            'quoted cell ("")'
        )
    return message


def _refuse_duplicate_headers(header: Sequence[str]) -> None:
    seen: dict[str, int] = {}
    for column, name in enumerate(header, 1):
        key = _header_key(name)
        if not key:
            continue  # empty columns (trailing delimiters) name nothing
        first = seen.setdefault(key, column)
        if first != column:
            raise MalformedFile(
                1,
                f"column {column} ({name!r}) has the same header as column {first} "
                f"({header[first - 1]!r}); rename one of them",
            )


@attrs.frozen
class _Settings:
    project_id: ProjectId
    country: str
    conventions: NameConventions
    rules: RuleSet | None
    source: str


@attrs.frozen
class _Row:
    line: int
    relation: Relation
    contact: Contact | None
    name_key: str
    postcode: str
    keys: tuple[str, ...]
    warnings: tuple[str, ...]


def _cells(row: Mapping[str, Any], columns: _Columns) -> dict[str, str]:
    """Target field -> the row's stripped text, for the mapped fields the row has."""
    out: dict[str, str] = {}
    for target, column in columns:
        value = row.get(column)
        if value is not None:
            out[target] = (value if type(value) is str else str(value)).strip()
    return out


_SUSPECT_ONLY = frozenset({RelationKind.SUSPECT})


def _kinds(value: str) -> frozenset[RelationKind]:
    if not value:
        return _SUSPECT_ONLY
    out = set()
    for part in value.replace(";", ",").replace("/", ",").split(","):
        key = part.strip().lower()
        if not key:
            continue
        kind = _KINDS.get(key)
        if kind is None:
            raise InvalidInput("kinds", f"unknown relation kind {part.strip()!r}", value)
        out.add(kind)
    return frozenset(out)


def _country(value: str, default: str) -> str:
    if not value:
        return default
    key = value.strip().lower()
    if key in _COUNTRIES:
        return _COUNTRIES[key]
    if len(key) == 2 and key.isalpha():
        return key.upper()
    raise InvalidInput("country", "give an ISO country code such as NL or PL", value)


def _check_storable(built: _Row) -> None:
    """Refuse a row with text no store can hold (NUL, a lone surrogate), as the store would.

    Checked per row so that one such row is reported and the import goes on,
    instead of failing the whole batch when the store refuses it.
    """
    for kind, record in (("relation", built.relation), ("contact", built.contact)):
        path = None if record is None else unstorable(record, kind)
        if path is not None:
            raise InvalidInput(path, UNSTORABLE_REASON)


def _build(line: int, cells: Mapping[str, str], s: _Settings, ids: Any) -> _Row:
    """One row's cells (target field -> text, :func:`_cells`) to records.

    Raises InvalidInput naming the field at fault.
    """
    get = cells.get

    raw_name = get("name", "")
    if not raw_name:
        raise InvalidInput("name", "is missing")
    name = normalise_relation_name(raw_name, s.conventions)
    country = _country(get("country", ""), s.country)
    postcode = normalise_postcode(get("postcode", ""), country)
    email = normalise_email(get("email", ""))
    phone = normalise_phone(get("phone", ""), country)
    street, city = get("street", ""), get("city", "")
    addresses = (
        (trusted_address(street, postcode, city, country),) if street or postcode or city else ()
    )
    relation = trusted_relation(
        RelationId(ids()),
        name,
        industry_code=get("industry_code", "") or None,
        kinds=_kinds(get("kinds", "")),
        addresses=addresses,
        email=email or None,
        phone=phone or None,
        website=get("website", "") or None,
        region=get("region", "") or None,
        source=s.source,
        notes=get("notes", ""),
    )
    contact = None
    keys = [email, phone]
    full, last = get("contact", ""), get("last_name", "")
    if full or last:
        if last:
            parts = split_dutch_name(last, s.conventions)
            prefix = get("prefix", "").lower() or parts.prefix
            last_name = parts.last_name
            first = get("first_name", "")
            initials = get("initials", "")
        else:
            parts = split_dutch_name(full, s.conventions)
            prefix, last_name = parts.prefix, parts.last_name
            first = get("first_name", "") or parts.first_name
            initials = get("initials", "") or parts.initials
        first = " ".join(w[:1].upper() + w[1:] for w in first.split())
        if not initials and first:
            initials = ".".join(w[0] for w in first.split())
        contact_email = normalise_email(get("contact_email", ""))
        contact_phone = normalise_phone(get("contact_phone", ""), country)
        gender_text = get("gender", "")
        contact = trusted_contact(
            ContactId(ids()),
            relation.id,
            last_name,
            initials=normalise_initials(initials),
            first_name=first,
            name_prefix=prefix,
            gender=normalise_gender(gender_text) if gender_text else Gender.UNKNOWN,
            email=contact_email or None,
            phone=contact_phone or None,
            function=get("function", ""),
        )
        keys += [contact_email, contact_phone]
    warnings: tuple[str, ...] = ()
    if s.rules is not None:
        found = check([relation] if contact is None else [relation, contact], s.rules)
        blocking = [v.message for v in found if v.blocking]
        if blocking:
            raise InvalidInput(None, "; ".join(blocking))
        warnings = tuple(v.message for v in found)
    return _Row(
        line,
        relation,
        contact,
        comparison_key(skeleton(name), s.conventions),
        postcode,
        tuple(k for k in keys if k),
        warnings,
    )


def _person_key(contact: Contact) -> tuple[str, str]:
    given = (contact.first_name or contact.initials).replace(".", "").replace(" ", "")
    return (f"{contact.name_prefix} {contact.last_name}".strip().casefold(), given.casefold())


def _new_person(
    uow: UnitOfWork, people: dict[str, list[Contact]], relation_id: str, contact: Contact
) -> bool:
    """True when ``contact`` is somebody the company does not have yet (W1).

    The same name (prefix, last name, first name or initials) or the same
    e-mail address is the same person; such a row stays a skipped duplicate.
    """
    if relation_id not in people:
        people[relation_id] = uow.contacts.of_relation(relation_id)
    key = _person_key(contact)
    for known in people[relation_id]:
        if _person_key(known) == key or (contact.email and known.email == contact.email):
            return False
    return True


def _existing_relations(uow: UnitOfWork) -> list[Relation]:
    # The repository port has no "all"; an empty search matches every relation.
    every = getattr(uow.relations, "all", None)
    if callable(every):
        return list(every())
    total = uow.relations.count()
    return uow.relations.search("", limit=max(total, 1)) if total else []


_Cells = dict[str, str] | str  # target field -> stripped text, or why the row is refused
_Columns = Sequence[tuple[str, str]]  # (target field, source column)


def _rows_of(
    source: Any, delimiter: str | None, encoding: str | None
) -> tuple[list[str], Callable[[_Columns], Iterator[tuple[int, _Cells]]]]:
    """The source's headers, and its rows' cells for the mapped columns (:func:`_cells`)."""
    if isinstance(source, (str, bytes, os.PathLike)):
        header, cells = read_csv_rows(source, delimiter=delimiter, encoding=encoding)
        width = len(header)

        def by_index(columns: _Columns) -> Iterator[tuple[int, _Cells]]:
            # A row's cells are picked by position: no dict of every column per
            # row. The last of equal headers wins, as in a dict of the row.
            at = {name: i for i, name in enumerate(header)}
            picks = [(target, at[column]) for target, column in columns]
            for line, row in cells:
                n = len(row)
                if n > width and any(c.strip() for c in row[width:]):
                    yield line, f"has {n} cells, the header has {width}"
                    continue
                yield line, {target: row[i].strip() for target, i in picks if i < n}

        return header, by_index
    if not isinstance(source, Iterable):
        raise InvalidInput("source", "must be a path, bytes, CSV text or an iterable of dicts")
    items = list(source)
    headers: dict[str, None] = {}
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"source[{i}]", "must be a dict of column -> value", item)
        headers.update(dict.fromkeys(str(k) for k in item))

    def by_name(columns: _Columns) -> Iterator[tuple[int, _Cells]]:
        for i, item in enumerate(items):
            yield i + 1, _cells(item, columns)

    return list(headers), by_name


def import_suspects(
    ctx: Context,
    actor: str,
    project_id: str,
    source: str | bytes | os.PathLike[str] | Iterable[Mapping[str, Any]],
    *,
    mapping: Mapping[str, str] | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    country: str = "NL",
    conventions: NameConventions = DEFAULT_CONVENTIONS,
    rules: RuleSet | None = None,
    all_or_nothing: bool = False,
    skip_duplicates: bool = True,
    duplicate_threshold: float = 0.9,
    check_store: bool = True,
    source_label: str = "import",
    batch_size: int = 20_000,
) -> ImportReport:
    """Import suspects into a project (W1) and report on the data's quality.

    ``source``: a :class:`pathlib.Path`, the file's bytes, CSV text, or an
    iterable of dicts (then "line" means the 1-based position in it).
    ``mapping`` maps target fields (:data:`FIELDS`) to source columns; unmapped
    fields are found by :data:`DEFAULT_HEADERS`. Names, postcodes, phones and
    e-mail addresses are normalised (``country`` is the default for rows
    without a country column); the installation's mandatory-data rules (see
    :func:`~crm_procedures.services.mandatory_rules.adopt_rules`), or ``rules``
    when given, apply to every row: blocking violations reject the row and
    others become warnings (pass an empty ``RuleSet`` to check none). Exact
    duplicates (same normalised name and postcode, same e-mail or phone; within
    the file, or of a stored relation when ``check_store``) are skipped when
    ``skip_duplicates``; likely duplicates (name similarity >=
    ``duplicate_threshold`` in the same postcode) are imported and reported for
    review. Each stored row becomes a relation (kinds from the file, else
    "suspect"), its contact, and a prospect in status preparing, stage suspect.
    They are stored ``batch_size`` good rows at a time, in the one unit of
    work of the import.

    Raises:
        AccessDenied: the actor lacks ``prospect.import`` or cannot see the project.
        NotFound: no such project (or not visible to the actor).
        InvalidInput: the source cannot be read or has no name column, or a
            mapping names an unknown field or column. Bad rows never raise:
            they are reported.
        MalformedFile: (an InvalidInput) the file as a whole is doubtful, with
            the line: mixed encodings, a header given twice, an unclosed quote
            (see :func:`read_csv_rows`). Nothing is stored.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInput("batch_size", "must be a whole number of at least 1", batch_size)
    header, read = _rows_of(source, delimiter, encoding)
    rows = read(tuple(_resolve_mapping(header, mapping).items()))
    settings = _Settings(ProjectId(project_id), country.upper(), conventions, rules, source_label)
    # The records of a batch, the duplicate index and the people of the file
    # are freed as _import returns, before the collector runs again.
    with _collector_paused():
        return _import(
            ctx,
            actor,
            project_id,
            rows,
            settings,
            duplicate_threshold=duplicate_threshold,
            check_store=check_store,
            skip_duplicates=skip_duplicates,
            all_or_nothing=all_or_nothing,
            batch_size=batch_size,
        )


def _import(
    ctx: Context,
    actor: str,
    project_id: str,
    rows: Iterator[tuple[int, _Cells]],
    settings: _Settings,
    *,
    duplicate_threshold: float,
    check_store: bool,
    skip_duplicates: bool,
    all_or_nothing: bool,
    batch_size: int,
) -> ImportReport:
    """The import itself, in one unit of work (see :func:`import_suspects`)."""
    index = DuplicateIndex(duplicate_threshold)
    ids = ctx.new_id
    conventions = settings.conventions
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        project = uow.projects.get(project_id, viewer)
        if not may_import_suspects(viewer, project):
            raise AccessDenied(
                viewer.user_id,
                "prospect.import",
                f"project {project_id}",
                "'prospect.write' grants it too",
            )
        if settings.rules is None:
            settings = attrs.evolve(settings, rules=rules_in(uow))
        if check_store:
            for rel in _existing_relations(uow):
                keys = [k for k in (rel.email, rel.phone) if k]
                name_key = comparison_key(skeleton(rel.name), conventions)
                index.add(rel.id, name_key, rel.postcode, keys)
        relation_ids: list[str] = []  # the relations imported, in file order
        pending: list[_Row] = []  # good rows of the batch being read
        rejected: list[RejectedRow] = []
        duplicates: list[DuplicateRow] = []
        warnings: list[tuple[int, str]] = []
        by_line: dict[int | str, str] = {}  # line -> the relation imported from it
        people: dict[str, list[Contact]] = {}  # relation -> contacts known in this import
        extra: list[Contact] = []  # contact persons attached to a known company (W1)
        attached: list[AttachedContact] = []
        attached_count = 0
        # Text no store can hold: when the settings hold none, a row whose cells
        # and new ids hold none yields records that hold none (normalising adds
        # no such character), and its records need not be walked.
        clean_settings = unstorable((project_id, settings.source, conventions)) is None
        write = _batch_writer(uow, settings.project_id, ids)
        count = 0
        for line, cells in rows:
            count += 1
            if isinstance(cells, str):
                rejected.append(RejectedRow(line, cells))
                continue
            try:
                built = _build(line, cells, settings, ids)
                if not clean_settings or not _clean(cells, built):
                    _check_storable(built)
            except InvalidInput as exc:
                rejected.append(RejectedRow(line, str(exc)))
                continue
            found: DuplicateMatch | None = index.match(built.name_key, built.postcode, built.keys)
            if found is not None and skip_duplicates and found.exact and built.contact is not None:
                target = by_line.get(found.ref) if isinstance(found.ref, int) else found.ref
                if target is not None and _new_person(uow, people, target, built.contact):
                    person = attrs.evolve(built.contact, relation_id=RelationId(target))
                    people[target].append(person)
                    extra.append(person)
                    attached.append(AttachedContact(line, target, person.id))
                    duplicates.append(
                        DuplicateRow(line, found.ref, found.score, found.reason, True)
                    )
                    continue
            if found is not None:
                skip = skip_duplicates and found.exact
                duplicates.append(DuplicateRow(line, found.ref, found.score, found.reason, skip))
                if skip:
                    continue
            index.add(line, built.name_key, built.postcode, built.keys)
            warnings.extend((line, w) for w in built.warnings)
            pending.append(built)
            relation_ids.append(built.relation.id)
            by_line[line] = built.relation.id
            people[built.relation.id] = [built.contact] if built.contact is not None else []
            if len(pending) >= batch_size:
                # An all-or-nothing import with a bad row stores nothing: stop writing.
                if not (all_or_nothing and rejected):
                    write(pending, extra)
                attached_count += len(extra)
                pending, extra = [], []
        if all_or_nothing and rejected:
            uow.rollback()
            return ImportReport(
                count, 0, tuple(rejected), tuple(duplicates), tuple(warnings), False, ()
            )
        if pending or extra:
            write(pending, extra)
            attached_count += len(extra)
        if relation_ids or attached_count:
            uow.audit.record(
                Change(
                    "project",
                    project_id,
                    project.version,
                    ctx.now(),
                    viewer.user_id,
                    "import",
                    {"suspects": ("", str(len(relation_ids)))}
                    | ({"contacts_attached": ("", str(attached_count))} if attached_count else {}),
                )
            )
        uow.commit()
    return ImportReport(
        count,
        len(relation_ids),
        tuple(rejected),
        tuple(duplicates),
        tuple(warnings),
        True,
        tuple(relation_ids),
        tuple(attached),
    )


_PAUSE_LOCK = threading.Lock()
_pauses = 0  # imports running with the cycle collector paused
_collector_was_enabled = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while an import runs, as it was found after the last.

    An import keeps a batch of records alive while it allocates millions of
    objects; each full collection walks all of them again (a quarter of the
    import's time). Nothing an import builds needs the cycle collector (its
    records are freed by reference counting). Imports in several threads
    count themselves in, so the last one out restores the state the first
    one found, also when the import fails.
    """
    global _pauses, _collector_was_enabled
    with _PAUSE_LOCK:
        if _pauses == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _PAUSE_LOCK:
            _pauses -= 1
            if _pauses == 0 and _collector_was_enabled:
                gc.enable()


def _clean(cells: Mapping[str, str], built: _Row) -> bool:
    """True when the row's cells and new ids hold no character a store refuses."""
    texts = [*cells.values(), built.relation.id]
    if built.contact is not None:
        texts.append(built.contact.id)
    return storable("".join(texts))


def _batch_writer(
    uow: UnitOfWork, project_id: ProjectId, ids: Any
) -> Callable[[Sequence[_Row], Sequence[Contact]], None]:
    """Stores one batch: its rows' relations, contacts and new suspects, and attached contacts.

    One statement per table through the unit of work's
    :class:`~crm_procedures.ports.BulkNewRecords` when it has it (the SQL
    store), the repositories' ``add_many`` otherwise; the records are the same.
    """

    def write(chunk: Sequence[_Row], extra: Sequence[Contact]) -> None:
        relations = [r.relation for r in chunk]
        contacts = [r.contact for r in chunk if r.contact is not None]
        contacts.extend(extra)
        prospects = [
            new_suspect(
                ProspectId(ids()),
                project_id,
                r.relation.id,
                r.contact.id if r.contact is not None else None,
            )
            for r in chunk
        ]
        if isinstance(uow, BulkNewRecords):
            uow.add_new_records(relations, contacts, prospects)
            return
        if relations:
            uow.relations.add_many(relations)
        if contacts:
            uow.contacts.add_many(contacts)
        if prospects:
            uow.prospects.add_many(prospects)

    return write


_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> str:
    """A cell value safe from spreadsheet formula injection.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    gets a leading single quote, so a spreadsheet shows it instead of running
    it. Numbers are written as they are; ``None`` becomes "".
    """
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, Decimal)):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_DANGEROUS) else text


def export_csv(
    rows: Iterable[Sequence[object] | Mapping[str, object]],
    header: Sequence[str] | None = None,
    *,
    delimiter: str = ",",
) -> str:
    """CSV text of ``rows`` with every cell neutralised (:func:`neutralise_cell`).

    Rows are sequences, or mappings (then ``header`` picks and orders the keys;
    without it, the first row's keys are used).

    Raises:
        InvalidInput: mixed rows, or a mapping row without the header's keys.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=_check_delimiter(delimiter), lineterminator="\r\n")
    items = list(rows)
    keys = list(header) if header is not None else None
    if items and isinstance(items[0], Mapping) and keys is None:
        keys = [str(k) for k in items[0]]
    if keys is not None:
        writer.writerow([neutralise_cell(k) for k in keys])
    for i, row in enumerate(items):
        if isinstance(row, Mapping):
            if keys is None:
                raise InvalidInput(f"rows[{i}]", "mapping rows need a header")
            missing = [k for k in keys if k not in row]
            if missing:
                raise InvalidInput(f"rows[{i}]", f"lacks the columns {missing}", dict(row))
            writer.writerow([neutralise_cell(row[k]) for k in keys])
        elif isinstance(row, (str, bytes)):
            raise InvalidInput(f"rows[{i}]", "must be a sequence of cells, not text", row)
        else:
            writer.writerow([neutralise_cell(v) for v in row])
    return out.getvalue()
