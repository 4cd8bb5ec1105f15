"""Regression tests for the mail defects of issue 16 (1, 2, 14), named after them."""

from __future__ import annotations

import email
import hashlib
from datetime import datetime
from email import policy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_procedures.errors import CrmError, InvalidInput
from crm_procedures.formats.mime import build_email
from crm_procedures.ids import ContactId, RelationId
from crm_procedures.model._email import is_sendable_email
from crm_procedures.model.contact import Contact
from crm_procedures.services.agenda import book_appointment, reschedule
from crm_procedures.services.context import Context

from .conftest import AMS

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=AMS)


def _old_boundary(key: str) -> str:
    """The boundary the library derived from the outbox key before the fix."""
    return "=_" + hashlib.sha256(b"boundary:" + key.encode("utf-8")).hexdigest()[:24]


def test_defect_01_mime_boundary_cannot_be_injected(ctx: Context) -> None:
    booked = book_appointment(
        ctx,
        "anna",
        employee="anna",
        start=datetime(2026, 3, 10, 10, tzinfo=AMS),
        end=datetime(2026, 3, 10, 11, tzinfo=AMS),
        title="Demo",
        contact_id="c-jan",
    ).appointment
    # The exploit of the issue: the next invitation's key is predictable, and so
    # was its boundary; a description closing the part forged an HTML part.
    key = f"invite:{booked.uid}:{booked.sequence + 1}"
    old = _old_boundary(key)
    evil = (
        f"x\n--{old}_1\nContent-Type: text/html\n\n<b>phish</b>\n--{old}_1--\n"
        f"--{old}_0\nContent-Type: text/calendar; method=CANCEL\n\nMETHOD:CANCEL\n"
        f"--{old}_0--\n"
    )
    reschedule(
        ctx,
        "anna",
        booked.id,
        datetime(2026, 3, 11, 10, tzinfo=AMS),
        datetime(2026, 3, 11, 11, tzinfo=AMS),
        description=evil,
    )
    with ctx.store.unit_of_work() as uow:
        stored = next(m for m in uow.outbox.list() if m.key == key)
    text = stored.payload["message"]
    parsed = email.message_from_string(text, policy=policy.strict)
    boundaries = [p.get_boundary() for p in parsed.walk() if p.is_multipart()]
    assert boundaries
    assert all(b is not None and old not in b for b in boundaries)
    types = [p.get_content_type() for p in parsed.walk() if not p.is_multipart()]
    assert "text/html" not in types
    calendars = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert len(calendars) == 1
    ics = calendars[0].get_payload(decode=True)
    assert isinstance(ics, bytes)
    methods = [line for line in ics.split(b"\r\n") if line.startswith(b"METHOD:")]
    assert methods == [b"METHOD:REQUEST"]
    plain = next(p for p in parsed.walk() if p.get_content_type() == "text/plain")
    assert "<b>phish</b>" in plain.get_content()  # the text stays text, inside its part
    for boundary in boundaries:
        assert boundary is not None
        # Each boundary line occurs only as a delimiter, never inside a part.
        delimiters = [
            line for line in text.splitlines() if boundary in line and "boundary=" not in line
        ]
        assert delimiters
        assert all(line.startswith(f"--{boundary}") for line in delimiters)


def test_defect_01_boundary_is_random_and_absent_from_every_part() -> None:
    def message(text: str) -> Any:
        return build_email(
            sender="crm@crm.example.com",
            to="jan@acme.example.nl",
            subject="s",
            text=text,
            html="<p>h</p>",
            key="same-key",
            date=WHEN,
        )

    first, second = message("a"), message("a")
    assert first.get_boundary() != second.get_boundary()
    # A text holding the boundary of another message cannot hold this one's.
    third = message(f"--{first.get_boundary()}\n")
    assert third.get_boundary() != first.get_boundary()
    for part in third.iter_parts():
        assert str(third.get_boundary()) not in part.as_string()


@pytest.mark.parametrize("address", ["a@[b.c", "jan@mill.example:evil", "jan@mill.example(x"])
def test_defect_14_address_that_a_header_changes_is_refused(address: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Contact(ContactId("c"), RelationId("r"), "Vries", email=address)
    assert info.value.field == "email"
    with pytest.raises(InvalidInput):
        build_email(
            sender="crm@crm.example.com",
            to=address,
            subject="s",
            text="t",
            key="k",
            date=WHEN,
        )


@pytest.mark.parametrize(
    "address", ["jan@acme.example.nl", "jan.de-vries+crm@mail.acme.example", "j_o'k@x.co"]
)
def test_ordinary_addresses_stay_accepted(address: str) -> None:
    assert Contact(ContactId("c"), RelationId("r"), "Vries", email=address).email == address


_ADDRESS_CHARS = st.characters(codec="utf-8")  # no lone surrogates


@settings(max_examples=300, deadline=None)
@given(
    local=st.text(_ADDRESS_CHARS, min_size=1, max_size=12)
    | st.from_regex(r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,12}", fullmatch=True),
    domain=st.text(_ADDRESS_CHARS, min_size=1, max_size=12)
    | st.from_regex(r"[a-z0-9-]{1,8}(\.[a-z0-9-]{1,8}){1,2}", fullmatch=True),
    name=st.text(_ADDRESS_CHARS, max_size=12),
)
def test_defect_14_accepted_addresses_round_trip_through_build_email(
    local: str, domain: str, name: str
) -> None:
    address = f"{local}@{domain}"
    try:
        msg = build_email(
            sender="crm@crm.example.com",
            to=[(name, address), "second@acme.example.nl"],
            subject="s",
            text="t",
            key="k",
            date=WHEN,
        )
    except CrmError:
        # Refused: then the model refuses it too (one rule).
        if not is_sendable_email(address):
            with pytest.raises(InvalidInput):
                Contact(ContactId("c"), RelationId("r"), "Vries", email=address)
        return
    assert is_sendable_email(address)
    assert Contact(ContactId("c"), RelationId("r"), "Vries", email=address).email == address
    # The address written into the header is read back unchanged.
    written = msg["To"].addresses[0]
    assert (written.username, written.domain) == (local, domain)


_HOSTILE = st.lists(
    st.text(st.characters(codec="utf-8"), max_size=5)
    | st.sampled_from(
        ["\r", "\n", "\x85", "\u2028", "\u202e", "\x00", "\ud800", "--=_", "@", "<", ","]
    ),
    max_size=8,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    name=_HOSTILE,
    address=_HOSTILE | st.just("jan@acme.example.nl"),
    subject=_HOSTILE,
    text=_HOSTILE,
    html=st.none() | _HOSTILE,
    header=st.tuples(_HOSTILE, _HOSTILE),
    filename=_HOSTILE,
)
def test_defect_14_build_email_raises_nothing_but_crm_errors(
    name: str,
    address: str,
    subject: str,
    text: str,
    html: str | None,
    header: tuple[str, str],
    filename: str,
) -> None:
    from crm_procedures.formats.mime import Attachment

    try:
        msg = build_email(
            sender=(name, "crm@crm.example.com"),
            to=[(name, address)],
            cc=[address],
            reply_to=address,
            subject=subject,
            text=text,
            html=html,
            key="k",
            date=WHEN,
            headers={header[0]: header[1]},
            attachments=[Attachment(filename, b"x")],
        )
        msg.as_bytes()
    except CrmError:
        return
