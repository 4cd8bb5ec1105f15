"""Constructors validate: bad values raise InvalidInput naming the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from crm_procedures import (
    Activity,
    Appointment,
    Choice,
    Contact,
    Dictionary,
    InvalidInput,
    Money,
    Project,
    Relation,
    VisitReport,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Relation(id="r", name="  "), "name"),
        (lambda: Relation(id="r", name="Acme", email="acme.nl"), "email"),
        (lambda: Relation(id="r", name="Acme\r\nBcc: x@y.nl"), "name"),
        (lambda: Relation(id="r", name="Acme", kinds={"friend"}), "kinds"),
        (lambda: Contact(id="c", relation_id="r", last_name=""), "last_name"),
        (lambda: Contact(id="c", relation_id="r", last_name="Jansen", email="jan@"), "email"),
        (lambda: Activity(id="a", kind="task", employee="u", due=datetime(2026, 1, 1)), "due"),
        (
            lambda: Activity(
                id="a", kind="meeting", employee="u", start=NOW, end=NOW - timedelta(hours=1)
            ),
            "end",
        ),
        (lambda: Activity(id="a", kind="lunch", employee="u"), None),
        (
            lambda: Project(
                id="p",
                relation_id="r",
                name="P",
                start_date=date(2026, 2, 1),
                end_date=date(2026, 1, 1),
            ),
            "end_date",
        ),
        (
            lambda: Project(id="p", relation_id="r", name="P", value=Money(Decimal(-1), "EUR")),
            "value",
        ),
        (lambda: Project(id="p", relation_id="r", name="P", custom_text=["a"] * 5), "custom_text"),
        (lambda: Money(1.5, "EUR"), "amount"),
        (lambda: Money(Decimal("1.5"), "EURO"), "currency"),
        (lambda: Money(Decimal("NaN"), "EUR"), "amount"),
        (
            lambda: Appointment(id="a", employee="u", start=NOW, end=NOW, title="t", uid="x"),
            "end",
        ),
        (
            lambda: VisitReport(
                id="v", designation="", relation_id="r", account_manager="u", start=NOW, end=NOW
            ),
            "designation",
        ),
        (lambda: Dictionary("kind", (Choice("a", "A"), Choice("a", "B"))), "choices[1].key"),
    ],
)
def test_bad_values_raise_invalid_input_naming_the_field(build: Any, field: str | None) -> None:
    with pytest.raises(InvalidInput) as err:
        build()
    if field is not None:
        assert err.value.field == field
    assert isinstance(err.value, ValueError)


def test_records_are_immutable() -> None:
    r = Relation(id="r", name="Acme")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        r.name = "Other"  # type: ignore[misc]


def test_money_adds_within_one_currency_only() -> None:
    assert Money(Decimal("1.10"), "EUR") + Money(Decimal("2.20"), "EUR") == Money(
        Decimal("3.30"), "EUR"
    )
    with pytest.raises(InvalidInput, match="cannot add PLN to EUR"):
        _ = Money(Decimal(1), "EUR") + Money(Decimal(1), "PLN")


def test_dictionary_keeps_choices_in_sort_order_and_refuses_inactive_for_new_records() -> None:
    d = Dictionary(
        "chance",
        (
            Choice("90", "90%", sort_order=3),
            Choice("10", "10%", sort_order=1),
            Choice("50", "50%", 2, active=False),
        ),
    )
    assert [c.key for c in d.choices] == ["10", "50", "90"]
    assert [c.key for c in d.active()] == ["10", "90"]
    d.require("50", "chance", new=False)  # still valid on an old record
    with pytest.raises(InvalidInput, match="deactivated"):
        d.require("50", "chance", new=True)
    with pytest.raises(InvalidInput, match="not in the 'chance' list"):
        d.require("75", "chance")


def test_contact_sorts_on_last_name_with_prefix_after() -> None:
    c = Contact(id="c", relation_id="r", first_name="Jan", name_prefix="van der", last_name="Berg")
    assert c.full_name == "Jan van der Berg"
    assert c.sort_name == "Berg, van der"


def test_project_pads_custom_fields_to_their_fixed_count() -> None:
    p = Project(id="p", relation_id="r", name="P", custom_text=["x"], custom_choices=["a", None])
    assert p.custom_text == ("x", "", "", "")
    assert p.custom_choices == ("a", None, None, None, None)
    assert not p.restricted
    assert Project(id="p", relation_id="r", name="P", linked_users={"u1"}).restricted
