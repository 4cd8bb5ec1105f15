"""The bulk path's JSON copies: the same text as ``unstructure`` and the shared encoder.

``adapters.sql._bulk.new_record_json`` writes a new relation's or contact's
JSON copy straight from its fields; the stored text must be exactly what the
repositories' ``add_many`` writes (``unstructure``, the version set to 1, the
shared encoder), for every record the model accepts.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_procedures.adapters.sql._bulk import (
    _JSON_WRITERS,
    _RECORD_FIELDS,
    holds_unstorable,
    new_record_json,
)
from crm_procedures.adapters.sql._repo import _UNSTORABLE_CHAR, _json
from crm_procedures.model.contact import Contact, Gender
from crm_procedures.model.relation import Address, Relation, RelationKind
from crm_procedures.serialization import unstructure

from .strategies import contacts, relations

_any_text = st.text(max_size=12)  # any code point: quotes, backslashes, controls, surrogates


def _expected(record: Any) -> str:
    data = unstructure(record)
    data["version"] = 1
    return _json(data)


@settings(max_examples=400, deadline=None)
@given(record=st.one_of(relations, contacts))
def test_new_record_json_is_the_unstructured_json(record: Relation | Contact) -> None:
    assert new_record_json(record) == _expected(record)


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(_any_text, min_size=6, max_size=6),
    kinds=st.frozensets(st.sampled_from(RelationKind)),
    gender=st.sampled_from(Gender),
)
def test_new_record_json_escapes_as_the_encoder_does(
    texts: list[str], kinds: frozenset[RelationKind], gender: Gender
) -> None:
    # Records built past their validators (attrs.evolve does not skip them,
    # so the fields are set directly): the writer must still escape every
    # code point exactly as the encoder does.
    relation = Relation("r1", "name", kinds=kinds, addresses=(Address(),))
    contact = Contact("c1", "r1", "last", gender=gender)
    for field, value in zip(("name", "notes", "phone"), texts[:3], strict=True):
        object.__setattr__(relation, field, value)
    object.__setattr__(relation.addresses[0], "street", texts[3])
    for field, value in zip(("last_name", "function"), texts[4:], strict=True):
        object.__setattr__(contact, field, value)
    assert _JSON_WRITERS[Relation](relation) is not None
    assert new_record_json(relation) == _expected(relation)
    assert new_record_json(contact) == _expected(contact)


def test_records_of_rarer_field_types_go_through_unstructure() -> None:
    class Name(str):
        pass

    relation = attrs.evolve(Relation("r1", "x"), name=Name("Bakkerij"))
    assert _JSON_WRITERS[Relation](relation) is None
    assert new_record_json(relation) == _expected(relation)


def test_the_json_templates_write_every_field_of_the_classes_in_order() -> None:
    # A field added to a class without its template would be left out of the
    # JSON copy; the Hypothesis tests above would catch it too, this names it.
    for cls, names in _RECORD_FIELDS.items():
        assert tuple(names.split()) == tuple(f.name for f in attrs.fields(cls))


@settings(max_examples=500, deadline=None)
@given(
    text=st.lists(
        st.one_of(st.text(max_size=8), st.sampled_from(["\x00", "\\u0000", "\\u000", "\ud83d"])),
        max_size=6,
    ).map("".join)
)
def test_holds_unstorable_is_the_repositories_pattern(text: str) -> None:
    assert holds_unstorable(text) == (_UNSTORABLE_CHAR.search(text) is not None)
