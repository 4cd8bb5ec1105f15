"""Finding the customer during a call: by phone number in any format, or by name.

The caller's visibility applies (a relation the caller may not see is never
returned), and relations merged into another are left out.
"""

from __future__ import annotations

import re

import attrs

from crm_procedures.access.viewer import Viewer, may_see_relation
from crm_procedures.errors import InvalidInput
from crm_procedures.model.contact import Contact
from crm_procedures.model.relation import Relation
from crm_procedures.policies.normalise import normalise_phone
from crm_procedures.ports import UnitOfWork
from crm_procedures.services._records import check_page
from crm_procedures.services.context import Context, resolve_viewer

__all__ = ["LookupMatch", "lookup"]


def _check_country(country: object) -> str:
    if not isinstance(country, str) or len(country) != 2 or not country.isalpha():
        raise InvalidInput("country", "give an ISO country code such as NL or PL", country)
    return country.upper()


@attrs.frozen
class LookupMatch:
    """One answer of :func:`lookup`: a relation, and the contact when one matched.

    ``matched_on`` is ``"phone"`` or ``"name"``.
    """

    relation: Relation
    contact: Contact | None
    matched_on: str


_PHONE_LIKE = re.compile(r"^[+(0-9][0-9\s\-./()]*$")


def _phone_candidates(query: str, country: str) -> list[str]:
    out: list[str] = []
    for c in (country, "NL", "PL", "BE", "DE"):
        try:
            number = normalise_phone(query, c)
        except InvalidInput:
            continue
        if number and number not in out:
            out.append(number)
        if query.strip().startswith(("+", "00")):
            break  # an international number reads the same for every country
    return out


def lookup(
    ctx: Context, actor: str, query: str, *, country: str = "NL", limit: int = 20
) -> list[LookupMatch]:
    """Find the customer on the line: by phone number in any format, or by name.

    A query that looks like a phone number ("020-123 4567", "+31 20 1234567",
    "0031201234567") is normalised (national numbers for ``country`` first)
    and matched against the stored phones of contacts and relations;
    anything else matches relation names (case-insensitive). Only relations
    the actor may see are returned, merged relations never; at most
    ``limit`` matches, contacts' relations first.

    Raises:
        AccessDenied: the actor is unknown or inactive.
        InvalidInput: the query is not text or blank, a bad country or limit.
    """
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("query", "give a phone number or (part of) a name", query)
    country = _check_country(country)
    check_page(limit, 0)
    with ctx.store.unit_of_work(read_only=True) as uow:
        viewer = resolve_viewer(uow, actor)
        text = query.strip()
        digits = sum(ch.isdigit() for ch in text)
        if _PHONE_LIKE.match(text) and digits >= 6:
            return _by_phone(uow, viewer, _phone_candidates(text, country), limit)
        return [
            LookupMatch(r, None, "name")
            for r in uow.relations.search(text, limit=limit, viewer=viewer)
            if r.merged_into is None
        ]


def _by_phone(uow: UnitOfWork, viewer: Viewer, numbers: list[str], limit: int) -> list[LookupMatch]:
    out: list[LookupMatch] = []
    seen: set[tuple[str, str | None]] = set()
    for number in numbers:
        for contact in uow.contacts.by_phone(number):
            relation = uow.relations.find(contact.relation_id)
            if relation is None or relation.merged_into is not None:
                continue
            if not may_see_relation(viewer, relation):
                continue
            key: tuple[str, str | None] = (relation.id, contact.id)
            if key not in seen:
                seen.add(key)
                out.append(LookupMatch(relation, contact, "phone"))
        for relation in uow.relations.by_phone(number, viewer):
            key = (relation.id, None)
            if relation.merged_into is None and key not in seen:
                seen.add(key)
                out.append(LookupMatch(relation, None, "phone"))
    return out[:limit]
