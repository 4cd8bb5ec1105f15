"""The classifier against a corpus of realistic messages, and against hostile bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_procedures.errors import CrmError, InvalidInput
from crm_procedures.inbound.classify import (
    AutoReply,
    Bounce,
    CalendarCounter,
    CalendarReply,
    Kind,
    PartStat,
    Reply,
    Unmatched,
    classify,
)
from inbound.conftest import MESSAGES, corpus

SENT = "<0f1e2d3c4b5a69788796a5b4c3d2e1f0@crm.example.com>"


def test_outlook_accept_is_a_calendar_reply_with_partstat_and_comment() -> None:
    result = classify(corpus("outlook_accept.eml"))
    assert isinstance(result, CalendarReply)
    assert (result.uid, result.sequence) == ("appt-42@crm.example.com", 1)
    assert result.attendee == "jan@acme.example.nl"
    assert result.partstat is PartStat.ACCEPTED
    assert result.comment == "Tot dan!\nGroet, Jan"
    assert result.envelope.references == ("<a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6@crm.example.com>",)


def test_google_decline_with_folded_attendee_line() -> None:
    result = classify(corpus("google_decline.eml"))
    assert isinstance(result, CalendarReply)
    assert result.partstat is PartStat.DECLINED
    assert result.attendee == "piet@gmail.example.com"
    assert result.sequence == 2


def test_thunderbird_tentative_picks_the_sender_and_lowercases_it() -> None:
    result = classify(corpus("tentative_thunderbird.eml"))
    assert isinstance(result, CalendarReply)
    assert result.partstat is PartStat.TENTATIVE
    assert result.attendee == "m.nowak@firma.example.pl"
    assert result.envelope.subject == "Wstępnie zaakceptowano: Spotkanie"


def test_counter_carries_the_proposed_times_in_their_zone() -> None:
    result = classify(corpus("outlook_counter.eml"))
    assert isinstance(result, CalendarCounter)
    ams = ZoneInfo("Europe/Amsterdam")
    assert result.start == datetime(2026, 3, 12, 14, 0, tzinfo=ams)
    assert result.end == datetime(2026, 3, 12, 14, 45, tzinfo=ams)
    assert result.comment == "Can we do Thursday instead?"


@pytest.mark.parametrize(
    ("name", "address", "hard", "status", "original", "standard"),
    [
        ("postfix_dsn.eml", "kees@gone.example.nl", True, "5.1.1", SENT, True),
        (
            "gmail_dsn.eml",
            "nobody@example.org",
            True,
            "5.1.1",
            "<77aa88bb99cc00dd11ee22ff33aa44bb@crm.example.com>",
            True,
        ),
        (
            "delayed_dsn.eml",
            "full@busy.example.com",
            False,
            "4.2.2",
            "<delayed0001@crm.example.com>",
            True,
        ),
        (
            "exim_bounce.eml",
            "info@closed-shop.example.de",
            True,
            None,
            "<c0ffee00c0ffee00c0ffee00c0ffee00@crm.example.com>",
            False,
        ),
        (
            "qmail_bounce.eml",
            "old.contact@qmail.example.org",
            True,
            "5.1.1",
            "<feedbeeffeedbeeffeedbeeffeedbeef@crm.example.com>",
            False,
        ),
        (
            "exchange_ndr_soft.eml",
            "sales@partner.example.com",
            False,
            "4.2.2",
            "<abc123abc123abc123abc123abc12300@crm.example.com>",
            False,
        ),
    ],
)
def test_bounces_name_recipient_severity_and_original(
    name: str, address: str, hard: bool, status: str | None, original: str, standard: bool
) -> None:
    result = classify(corpus(name))
    assert isinstance(result, Bounce)
    assert [r.address for r in result.recipients] == [address]
    assert result.hard is hard
    assert result.recipients[0].status == status
    assert result.original_message_id == original
    assert result.standard is standard


def test_out_of_office_by_auto_submitted_keeps_references_and_body() -> None:
    result = classify(corpus("out_of_office_outlook.eml"))
    assert isinstance(result, AutoReply)
    assert result.reason == "Auto-Submitted: auto-generated"
    assert result.envelope.references == (SENT,)
    assert result.body.startswith("Ik ben afwezig tot en met 16 maart.")


def test_out_of_office_by_polish_subject_in_iso_8859_2() -> None:
    result = classify(corpus("out_of_office_subject.eml"))
    assert isinstance(result, AutoReply)
    assert result.reason == "subject: odpowiedź automatyczna"
    assert result.body == "Jestem na urlopie do 10 marca.\n"


def test_reply_lists_in_reply_to_first_and_decodes_the_plain_part() -> None:
    result = classify(corpus("reply_polish.eml"))
    assert isinstance(result, Reply)
    assert result.envelope.references == (SENT, "<older@crm.example.com>")
    assert result.envelope.sender == "pawel@hurt.example.pl"
    assert result.body.startswith("Dziękuję, proszę o telefon w czwartek.")


def test_reply_body_is_cut_at_the_limit() -> None:
    result = classify(corpus("reply_polish.eml"), max_body_chars=8)
    assert isinstance(result, Reply)
    assert (result.body, result.body_truncated) == ("Dziękuję", True)


def test_newsletter_is_unmatched_with_a_reason() -> None:
    result = classify(corpus("newsletter_unmatched.eml"))
    assert isinstance(result, Unmatched)
    assert "In-Reply-To" in result.reason
    assert result.envelope.message_id == "<news-2026-03@vendor.example.com>"


def test_every_corpus_message_has_a_kind_other_than_unmatched_except_the_newsletter() -> None:
    kinds = {p.name: classify(p.read_bytes()).kind for p in MESSAGES.glob("*.eml")}
    assert len(kinds) >= 14
    assert [n for n, k in kinds.items() if k is Kind.UNMATCHED] == ["newsletter_unmatched.eml"]


def test_date_without_zone_is_read_as_utc() -> None:
    raw = b"From: a@b.example\r\nDate: Mon, 2 Mar 2026 10:00:00 -0000\r\n\r\nx"
    assert classify(raw).envelope.date == datetime(2026, 3, 2, 10, tzinfo=UTC)


def test_calendar_reply_with_needs_action_is_unmatched() -> None:
    raw = corpus("google_decline.eml").replace(b"PARTSTAT=DECLINED", b"PARTSTAT=NEEDS-ACTION")
    result = classify(raw)
    assert isinstance(result, Unmatched)
    assert "NEEDS-ACTION" in result.reason


def test_a_person_writing_about_an_undeliverable_parcel_is_not_a_bounce() -> None:
    raw = (
        b"From: Jan <jan@acme.example.nl>\r\nSubject: Re: Undeliverable parcel\r\n"
        b"In-Reply-To: "
        + SENT.encode()
        + b"\r\n\r\nThe parcel to kees@x.example was undeliverable."
    )
    assert isinstance(classify(raw), Reply)


def test_defect_01_non_bytes_input_is_a_named_error() -> None:
    with pytest.raises(InvalidInput):
        classify("From: a@b\r\n\r\n")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        classify(b"", max_body_chars=0)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe" * 1000,
        b"Subject: " + b"A" * 2_000_000 + b"\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822;",
        b"From: =?x-unknown-charset?q?abc?=\r\nSubject: =?utf-8?b?!!!?=\r\n\r\n",
        b"Content-Type: text/plain; charset=rot13\r\nIn-Reply-To: <a@b>\r\n\r\n\xe9\xe9",
        b"Content-Type: text/calendar; method=REPLY\r\n\r\nBEGIN:VEVENT\r\nATTENDEE;PARTSTAT",
        b"Content-Type: text/calendar\r\n\r\nMETHOD:COUNTER\r\nBEGIN:VEVENT\r\nUID:u\r\n"
        b"DTSTART;TZID=../../../etc/passwd:20260101T100000\r\nEND:VEVENT\r\n",
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n"
        + b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" * 3000,
        b"Content-Transfer-Encoding: base64\r\nIn-Reply-To: <a@b>\r\n\r\n====!!!!",
    ],
)
def test_defect_02_hostile_messages_are_classified_not_raised(raw: bytes) -> None:
    result = classify(raw)
    assert result.kind in set(Kind)


_PARTS = [corpus(p.name) for p in sorted(MESSAGES.glob("*.eml"))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, len(_PARTS) - 1),
    cuts=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 200), st.binary(max_size=40))),
)
def test_mutated_corpus_messages_never_raise(
    index: int, cuts: list[tuple[int, int, bytes]]
) -> None:
    raw = bytearray(_PARTS[index])
    for at, drop, insert in cuts:
        at = at % (len(raw) + 1)
        raw[at : at + drop] = insert
    try:
        result = classify(bytes(raw))
    except CrmError:  # allowed by contract; none expected for bytes
        raise AssertionError("classify raised for bytes") from None
    assert result.kind in set(Kind)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3_000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    assert classify(raw).kind in set(Kind)


@settings(max_examples=100, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "From",
                "Subject",
                "In-Reply-To",
                "References",
                "Auto-Submitted",
                "Content-Type",
                "Content-Transfer-Encoding",
                "Date",
                "Message-ID",
                "Precedence",
                "Return-Path",
            ]
        ),
        st.text(max_size=200),
    ),
    body=st.text(max_size=500),
)
def test_arbitrary_header_values_never_raise(headers: dict[str, str], body: str) -> None:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = (head + "\r\n" + body).encode("utf-8", errors="surrogateescape")
    assert classify(raw).kind in set(Kind)
