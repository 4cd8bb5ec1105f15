"""One-click unsubscribe tokens (RFC 8058) and their headers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_procedures.errors import InvalidInput, UnsubscribeTokenInvalid
from crm_procedures.inbound.unsubscribe import (
    ONE_CLICK,
    UnsubscribeRequest,
    list_unsubscribe_headers,
    sign_unsubscribe_token,
    verify_unsubscribe_token,
)

SECRET = b"0123456789abcdef0123456789abcdef"
DAY = date(2026, 3, 2)


def test_a_signed_token_verifies_to_what_was_signed() -> None:
    token = sign_unsubscribe_token(SECRET, "c-jan", "p-spring", DAY)
    assert verify_unsubscribe_token(SECRET, token) == UnsubscribeRequest("c-jan", "p-spring", DAY)


@settings(max_examples=50, deadline=None)
@given(
    contact=st.text(min_size=1, max_size=50).filter(lambda s: s.encode("utf-8", "ignore") != b""),
    project=st.text(min_size=1, max_size=50),
)
def test_any_ids_round_trip(contact: str, project: str) -> None:
    try:
        token = sign_unsubscribe_token(SECRET, contact, project, DAY)
    except InvalidInput:  # unpaired surrogates
        return
    assert verify_unsubscribe_token(SECRET, token) == UnsubscribeRequest(contact, project, DAY)


def test_another_secret_is_a_bad_signature() -> None:
    token = sign_unsubscribe_token(SECRET, "c-jan", "p-spring", DAY)
    with pytest.raises(UnsubscribeTokenInvalid) as caught:
        verify_unsubscribe_token(b"another secret of 32 bytes......", token)
    assert caught.value.reason == "signature"


def test_a_changed_payload_is_a_bad_signature() -> None:
    other = sign_unsubscribe_token(SECRET, "c-piet", "p-spring", DAY)
    token = sign_unsubscribe_token(SECRET, "c-jan", "p-spring", DAY)
    forged = other.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(UnsubscribeTokenInvalid) as caught:
        verify_unsubscribe_token(SECRET, forged)
    assert caught.value.reason == "signature"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_refused_with_the_named_error(text: str) -> None:
    with pytest.raises(UnsubscribeTokenInvalid):
        verify_unsubscribe_token(SECRET, text)


def test_expiry_is_checked_when_asked() -> None:
    token = sign_unsubscribe_token(SECRET, "c-jan", "p-spring", DAY)
    week = timedelta(days=7)
    assert verify_unsubscribe_token(SECRET, token, today=DAY + week, max_age=week).issued == DAY
    with pytest.raises(UnsubscribeTokenInvalid) as caught:
        verify_unsubscribe_token(SECRET, token, today=DAY + week + timedelta(days=1), max_age=week)
    assert caught.value.reason == "expired"
    with pytest.raises(InvalidInput):
        verify_unsubscribe_token(SECRET, token, max_age=week)


@pytest.mark.parametrize("secret", [b"short", "a text secret of many characters", None])
def test_weak_or_wrong_secrets_are_refused(secret: object) -> None:
    with pytest.raises(InvalidInput):
        sign_unsubscribe_token(secret, "c", "p", DAY)  # type: ignore[arg-type]


def test_headers_for_one_click() -> None:
    token = sign_unsubscribe_token(SECRET, "c-jan", "p-spring", DAY)
    headers = list_unsubscribe_headers(
        "https://crm.example.com/unsubscribe", token, mailto="unsubscribe@crm.example.com"
    )
    assert headers == {
        "List-Unsubscribe": f"<https://crm.example.com/unsubscribe?token={token}>, "
        "<mailto:unsubscribe@crm.example.com?subject=unsubscribe>",
        "List-Unsubscribe-Post": ONE_CLICK,
    }
    with_query = list_unsubscribe_headers("https://crm.example.com/u?lang=nl", token)
    assert with_query["List-Unsubscribe"] == f"<https://crm.example.com/u?lang=nl&token={token}>"


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.com/u",
        "https://crm.example.com/u#x",
        "https://crm.example.com/u\r\nBcc: x@y",
        "https://crm.example.com/u>,<https://evil.example",
        "/unsubscribe",
        "https://crm.example.com/ü",
    ],
)
def test_defect_03_unsafe_urls_cannot_reach_the_header(url: str) -> None:
    token = sign_unsubscribe_token(SECRET, "c", "p", DAY)
    with pytest.raises(InvalidInput):
        list_unsubscribe_headers(url, token)


def test_a_token_with_header_characters_is_refused() -> None:
    with pytest.raises(InvalidInput):
        list_unsubscribe_headers("https://crm.example.com/u", "a.b>\r\nX: y")
