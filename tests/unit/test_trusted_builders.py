"""The import's record builders: the constructor's record, or the constructor's own error.

``model._trusted`` builds relations, addresses and contacts without running
each attrs validator when one test over the arguments shows they would all
pass. These tests draw arguments of every kind (good ones, and blank, long,
multi-line, control-character, non-text, ``str`` subclass, unknown-member
ones) and require that each builder gives a record equal to the class's own
constructor's, field for field and type for type, or refuses with the same
error class and message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_procedures.errors import InvalidInput
from crm_procedures.model._trusted import (
    new_suspect,
    trusted_address,
    trusted_contact,
    trusted_relation,
)
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.prospect import Prospect
from crm_procedures.model.relation import Address, Relation, RelationKind, RelationType


class _Text(str):
    """A ``str`` subclass: the builders leave it to the constructor."""


_good_line = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20
)
_bad_line = st.sampled_from(
    ["a\nb", "x\x00", "\ud800", "tab\there", "\u2028", " ", "", "\xa0nbsp", "a" * 1001, "é" * 600]
)
_texts = st.one_of(
    _good_line,
    _bad_line,
    _good_line.map(_Text),
    st.just(None),
    st.integers(-1, 3),
)
_emails = st.one_of(
    st.just(None),
    st.sampled_from(
        [
            "jan@mill.example",
            "Piet.Vries1@example.nl",
            "jan@mill.example:evil",
            "a@[b.c",
            "jan@mill.example(x",
            "no-at-sign",
            "ü@mill.example",
            "a b@c.de",
            "",
        ]
    ),
    _texts,
)
_addresses = st.builds(
    Address,
    street=_good_line,
    postcode=_good_line,
    city=_good_line,
)


def _same(make: Callable[..., Any], build: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    # Any exception: the builders must not even change a constructor's raw error
    # (``Relation(kinds=None)`` raises a TypeError of the model's own).
    try:
        expected: Any = make(**kwargs)
    except Exception as exc:
        expected = exc
    try:
        got: Any = build(**kwargs)
    except Exception as exc:
        got = exc
    if isinstance(expected, Exception):
        assert type(got) is type(expected)
        assert str(got) == str(expected)
        return
    assert got == expected
    for field in attrs.fields(type(expected)):
        assert type(getattr(got, field.name)) is type(getattr(expected, field.name)), field.name
    assert attrs.asdict(got, recurse=False) == attrs.asdict(expected, recurse=False)


@settings(max_examples=400, deadline=None)
@given(
    values=st.fixed_dictionaries(
        {},
        optional={
            "street": _texts,
            "postcode": _texts,
            "city": _texts,
            "country": _texts,
            "kind": _texts,
        },
    )
)
def test_trusted_address_is_the_constructor(values: dict[str, Any]) -> None:
    _same(Address, trusted_address, values)


@settings(max_examples=600, deadline=None)
@given(
    required=st.fixed_dictionaries({"id": _texts, "name": _texts}),
    optional=st.fixed_dictionaries(
        {},
        optional={
            "type": st.one_of(st.sampled_from(RelationType), st.sampled_from(["person", "x"])),
            "industry_code": _texts,
            "kinds": st.one_of(
                st.frozensets(st.sampled_from(RelationKind)),
                st.sets(st.sampled_from(RelationKind)),
                st.frozensets(st.sampled_from(["suspect", "nonsense"])),
                st.just(None),
            ),
            "addresses": st.one_of(
                st.lists(_addresses, max_size=2).map(tuple),
                st.lists(_addresses, max_size=2),
            ),
            "email": _emails,
            "phone": _texts,
            "website": _texts,
            "account_manager": _texts,
            "region": _texts,
            "source": _texts,
            "notes": st.one_of(_texts, st.just("two\nlines"), st.just("x" * 2000)),
            "merged_into": _texts,
            "version": st.one_of(st.integers(-2, 5), st.just(True), st.just("1")),
        },
    ),
)
def test_trusted_relation_is_the_constructor(
    required: dict[str, Any], optional: dict[str, Any]
) -> None:
    _same(Relation, trusted_relation, required | optional)


@settings(max_examples=600, deadline=None)
@given(
    required=st.fixed_dictionaries({"id": _texts, "relation_id": _texts, "last_name": _texts}),
    optional=st.fixed_dictionaries(
        {},
        optional={
            "initials": _texts,
            "first_name": _texts,
            "name_prefix": _texts,
            "gender": st.one_of(st.sampled_from(Gender), st.sampled_from(["male", "?"])),
            "email": _emails,
            "phone": _texts,
            "function": _texts,
            "version": st.one_of(st.integers(-2, 5), st.just(False)),
            "language": st.sampled_from([None, "nl", "NL", "dutch", 7]),
            "time_zone": st.sampled_from([None, "Europe/Amsterdam", "Mars/Base"]),
        },
    ),
)
def test_trusted_contact_is_the_constructor(
    required: dict[str, Any], optional: dict[str, Any]
) -> None:
    _same(Contact, trusted_contact, required | optional)


def test_trusted_builders_take_the_fast_path_for_plain_import_values() -> None:
    # Not a shortcut that is never taken: plain values give a record that no
    # constructor call made (a constructor that raises would be seen here).
    address = trusted_address("Dorpsstraat 1", "1000 AA", "Amsterdam", "NL")
    relation = trusted_relation(
        "r1",
        "Bakkerij Vries 1",
        kinds=frozenset({RelationKind.SUSPECT}),
        addresses=(address,),
        phone="+31612345678",
        source="import",
    )
    contact = trusted_contact(
        "c1", "r1", "Vries", "P.", "Piet", gender=Gender.MALE, email="piet.vries1@example.nl"
    )
    assert relation == Relation(
        "r1",
        "Bakkerij Vries 1",
        kinds=frozenset({RelationKind.SUSPECT}),
        addresses=(Address("Dorpsstraat 1", "1000 AA", "Amsterdam", "NL"),),
        phone="+31612345678",
        source="import",
    )
    assert contact == Contact(
        "c1", "r1", "Vries", "P.", "Piet", gender=Gender.MALE, email="piet.vries1@example.nl"
    )
    assert attrs.evolve(contact, first_name="Jan").first_name == "Jan"


@settings(max_examples=400, deadline=None)
@given(
    ids=st.fixed_dictionaries(
        {"id": _texts, "project_id": _texts, "relation_id": _texts, "contact_id": _texts}
    )
)
def test_new_suspect_is_the_constructor(ids: dict[str, Any]) -> None:
    _same(Prospect, new_suspect, ids)


def test_a_new_suspect_has_its_own_history_and_copies_like_one_made_by_the_constructor() -> None:
    first = new_suspect("p1", "proj", "r1", None)
    second = new_suspect("p2", "proj", "r2", "c2")
    assert first.history == []
    assert first.history is not second.history
    assert first.copy() == Prospect("p1", "proj", "r1", None)
    assert second == Prospect("p2", "proj", "r2", "c2")


def test_defect_new_suspect_sets_every_field_the_prospect_class_has() -> None:
    # A field added to Prospect later must be set here too: a slot left unset
    # raises AttributeError when a store reads it.
    made = new_suspect("p1", "proj", "r1", None)
    built = Prospect("p1", "proj", "r1", None)
    for field in attrs.fields(Prospect):
        assert getattr(made, field.name) == getattr(built, field.name), field.name


@pytest.mark.parametrize("junk", [None, 3, 2.5, object()])
def test_defect_a_set_field_given_no_collection_is_invalid_input_not_type_error(junk: Any) -> None:
    with pytest.raises(InvalidInput, match="expected a collection"):
        Relation(id="r", name="Acme", kinds=junk)
