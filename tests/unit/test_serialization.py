"""The converter: every public record round-trips; bad data is one InvalidInput."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_procedures import InvalidInput
from crm_procedures import model as m
from crm_procedures.serialization import structure, unstructure
from unit.strategies import ALL


@pytest.mark.parametrize("cls", list(ALL), ids=lambda c: c.__name__)
def test_every_record_round_trips_through_plain_data(cls: type[Any]) -> None:
    @given(ALL[cls])
    def check(record: Any) -> None:
        data = unstructure(record)
        # Plain data means JSON can carry it unchanged.
        assert json.loads(json.dumps(data)) == data
        assert structure(data, cls) == record

    check()


@pytest.mark.parametrize("cls", list(ALL), ids=lambda c: c.__name__)
def test_mangled_data_raises_invalid_input_and_nothing_else(cls: type[Any]) -> None:
    junk = st.one_of(
        st.none(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=5),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )

    @given(ALL[cls], st.data())
    def check(record: Any, data: st.DataObject) -> None:
        plain = unstructure(record)
        if not isinstance(plain, dict):
            return
        key = data.draw(st.sampled_from(sorted(plain)))
        mangled = dict(plain)
        mangled[key] = data.draw(junk)
        error: InvalidInput | None = None
        try:
            got = structure(mangled, cls)
        except InvalidInput as exc:
            error = exc
        if error is None:
            # Some junk is still valid for the field (e.g. None for an optional one).
            assert isinstance(got, cls)
        else:
            assert error.field is None or error.field.split(".")[0].split("[")[0] in plain

    check()


def test_zone_name_survives_the_round_trip() -> None:
    at = datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    a = m.Activity(id="a", kind="task", employee="u", due=at)
    data = unstructure(a)
    assert data["due"] == "2026-03-29T01:30:00+01:00[Europe/Amsterdam]"
    back = structure(data, m.Activity)
    assert back.due is not None
    assert back.due.tzinfo == ZoneInfo("Europe/Amsterdam")


def test_money_is_a_string_amount_and_a_float_is_refused() -> None:
    data = unstructure(m.Money(Decimal("10.50"), "EUR"))
    assert data == {"amount": "10.50", "currency": "EUR"}
    with pytest.raises(InvalidInput, match="float") as err:
        structure({"amount": 10.5, "currency": "EUR"}, m.Money)
    assert err.value.field == "amount"


def test_bad_nested_field_is_named_by_its_path() -> None:
    data = {
        "id": "p",
        "relation_id": "r",
        "name": "Campaign",
        "one_off_contacts": [
            {"id": "c1", "relation_id": "r", "last_name": "Jansen"},
            {"id": "c2", "relation_id": "r", "last_name": "Vries", "email": "not-an-address"},
        ],
    }
    with pytest.raises(InvalidInput) as err:
        structure(data, m.Project)
    assert err.value.field == "one_off_contacts[1].email"


def test_unknown_key_is_refused_with_its_name() -> None:
    with pytest.raises(InvalidInput, match="unknown key 'colour'") as err:
        structure({"id": "r", "name": "Acme", "colour": "red"}, m.Relation)
    assert err.value.field == "colour"


def test_naive_datetime_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no time zone") as err:
        structure(
            {"id": "a", "kind": "task", "employee": "u", "due": "2026-01-01T10:00"}, m.Activity
        )
    assert err.value.field == "due"


def test_unknown_enum_value_lists_the_allowed_ones() -> None:
    with pytest.raises(InvalidInput, match="'contact', 'meeting', 'task'"):
        structure({"id": "a", "kind": "lunch", "employee": "u"}, m.Activity)


def test_utc_datetime_round_trips() -> None:
    at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    a = m.Activity(id="a", kind="task", employee="u", due=at)
    assert structure(unstructure(a), m.Activity).due == at
