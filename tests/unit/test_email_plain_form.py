"""Plain e-mail addresses skip the header round trip; they must be exactly those that pass it.

``is_sendable_email`` accepts an address of the plain dot-atom form without
writing and parsing a ``To`` header (the import checks 100,000 addresses, and
the round trip costs about half a millisecond each). These tests hold the
shortcut to the rule it stands for: every plain address survives the round trip
and the MIME writer, and non-plain addresses still go through it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_procedures.formats.mime import build_email
from crm_procedures.model._email import _PLAIN, _SHAPE, _round_trips, is_sendable_email

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

_plain = st.from_regex(_PLAIN, fullmatch=True).filter(
    lambda a: len(a) <= 254 and _SHAPE.match(a) is not None
)


@settings(max_examples=300, deadline=None)
@given(address=_plain)
def test_every_plain_address_survives_the_header_round_trip(address: str) -> None:
    assert is_sendable_email(address)
    assert _round_trips(address)
    msg = build_email(
        sender="crm@crm.example.com", to=[address], subject="s", text="t", key="k", date=WHEN
    )
    written = msg["To"].addresses[0]
    assert f"{written.username}@{written.domain}" == address


def test_addresses_outside_the_plain_form_still_take_the_round_trip() -> None:
    # Neither is plain; the round trip decides, as before the shortcut.
    assert _PLAIN.fullmatch("jan@mill.example:evil") is None
    assert not is_sendable_email("jan@mill.example:evil")
    assert _PLAIN.fullmatch("o'brien@mill.example") is None
    assert is_sendable_email("o'brien@mill.example")
