"""L6: choice lists are configured as data, each value a name and a sort order that decides
its place in the list ("50%" with sort order 1 comes first); few fields are mandatory.
Through the definitions an installation loads and the project services, on every store."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest

from crm_procedures import InvalidInput, dump_definitions, load_definitions
from crm_procedures.model.money import Money
from crm_procedures.services import projects
from crm_procedures.services.record_settings import PROJECT_CHANCE_DICTIONARY
from records.builders import World

CHANCES = """
[dictionaries.project_chance]
label = "Kans"

[[dictionaries.project_chance.choices]]
key = "10%"
label = "10%"
sort_order = 5

[[dictionaries.project_chance.choices]]
key = "90%"
label = "90%"
sort_order = 3

[[dictionaries.project_chance.choices]]
key = "50%"
label = "50%"
sort_order = 1

[[dictionaries.project_chance.choices]]
key = "0%"
label = "0%"
sort_order = 2
active = false
"""


def test_l6_a_choice_list_from_data_is_in_sort_order_and_checked(records: World) -> None:
    w = records
    definitions = load_definitions(tomllib.loads(CHANCES), validate=False)
    chances = {d.key: d for d in definitions.dictionaries}[PROJECT_CHANCE_DICTIONARY]
    # The sort order decides the place in the list, not the order written down.
    assert [c.key for c in chances.choices] == ["50%", "0%", "90%", "10%"]
    assert [c.key for c in chances.active()] == ["50%", "90%", "10%"]
    again = load_definitions(dump_definitions(definitions), validate=False)
    assert {d.key: d for d in again.dictionaries}[PROJECT_CHANCE_DICTIONARY] == chances

    w.ctx.definitions = definitions  # the services take their lists from the definitions
    before = w.dump()
    with pytest.raises(InvalidInput, match="deactivated"):
        projects.create_project(w.ctx, "u-anna", relation_id="R-1", name="Ovens", chance="0%")
    with pytest.raises(InvalidInput, match="'75%' is not in the 'project_chance' list"):
        projects.create_project(w.ctx, "u-anna", relation_id="R-1", name="Ovens", chance="75%")
    assert w.dump() == before
    made = projects.create_project(
        w.ctx,
        "u-anna",
        relation_id="R-1",
        name="Ovens",
        chance="50%",
        value=Money(Decimal("12000.00"), "EUR"),
    )
    assert made.chance == "50%"
    summary = projects.project_summary(w.ctx, "u-anna", made.id)
    assert summary.weighted_value == Money(Decimal("6000.00"), "EUR")


def test_l6_only_a_relation_and_a_name_are_mandatory(records: World) -> None:
    w = records
    made = projects.create_project(w.ctx, "u-anna", relation_id="R-1", name="Ovens")
    stored = projects.get_project(w.ctx, "u-anna", made.id)
    assert stored == made
    assert (stored.kind, stored.stage, stored.chance, stored.value, stored.responsible) == (
        None,
        None,
        None,
        None,
        None,
    )
    before = w.dump()
    with pytest.raises(InvalidInput, match="name"):
        projects.create_project(w.ctx, "u-anna", relation_id="R-1", name="")
    assert w.dump() == before
