"""The outbox dispatcher with SmtpMailer against real SMTP servers (aiosmtpd on 127.0.0.1)
that fail: every message ends delivered exactly once or recorded as failed, never lost
and never doubled. Also logging in, STARTTLS and implicit TLS."""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest

from crm_procedures.adapters.memory import MemoryStore
from crm_procedures.adapters.smtp import SmtpMailer
from crm_procedures.errors import DeliveryError
from crm_procedures.model.outbox import OutboxMessage, OutboxStatus
from crm_procedures.ports import Store
from crm_procedures.services.messages import build_email, outbox_message_for_email
from crm_procedures.services.outbox import dispatch_once, exponential_backoff
from crm_procedures.testing.clock import FrozenClock

from .conftest import NOW, free_port

BACKOFF = exponential_backoff(base_seconds=60, factor=2, cap_seconds=3600)


class FlakyHandler:
    """Answers DATA with ``replies`` in turn (the last one for ever); keeps what it accepts."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.envelopes: list[Any] = []
        self.calls = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        if reply.startswith("250"):
            self.envelopes.append(envelope)
        return reply


@pytest.fixture
def serve() -> Iterator[Callable[..., int]]:
    """Start aiosmtpd servers on 127.0.0.1; returns their port. Stopped after the test."""
    from aiosmtpd.controller import Controller

    started: list[Any] = []

    def start(handler: Any, **options: Any) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


def sqlite_store() -> Store:
    from crm_procedures.adapters.sql import open_store

    return open_store("sqlite://")


STORES: dict[str, Callable[[], Store]] = {"memory": MemoryStore, "sqlite": sqlite_store}


def record_mail(store: Store, key: str = "prospect:p-1:entry:2:mail") -> str:
    """One e-mail recorded in the outbox, as a service records it; returns its Message-ID."""
    msg = build_email(
        sender=("Acme CRM", "crm@crm.example.com"),
        to=("Jan de Vries", "jan@acme.example.nl"),
        subject="Information about our products",
        text="Dear Mr De Vries,\n\nAs promised.\n",
        key=key,
        date=NOW,
    )
    with store.unit_of_work() as uow:
        uow.outbox.add(outbox_message_for_email(msg, key, NOW, lambda: "m-1"))
        uow.commit()
    return str(msg["Message-ID"])


def stored(store: Store) -> OutboxMessage:
    with store.unit_of_work() as uow:
        (message,) = uow.outbox.list(limit=10)
        return message


def drain(
    store: Store, clock: FrozenClock, mailer: SmtpMailer, rounds: int, max_attempts: int = 8
) -> None:
    """Run dispatch rounds, moving the clock past each backoff in between."""
    for _ in range(rounds):
        dispatch_once(store, clock, mailer, max_attempts=max_attempts, backoff=BACKOFF)
        clock.advance(hours=2)


@pytest.mark.parametrize("kind", sorted(STORES))
def test_temporary_refusals_are_retried_until_delivered_once(
    kind: str, serve: Callable[..., int]
) -> None:
    store, clock = STORES[kind](), FrozenClock(NOW)
    handler = FlakyHandler("451 4.3.0 Try again later", "421 4.7.0 Busy", "250 Accepted")
    port = serve(handler)
    message_id = record_mail(store)
    mailer = SmtpMailer("127.0.0.1", port, timeout=5)

    first = dispatch_once(store, clock, mailer, backoff=BACKOFF)
    assert (first.delivered, first.retried) == (0, 1)
    assert "451" in first.errors[0][1]
    # Not due before its backoff has passed: nothing is sent in between.
    assert dispatch_once(store, clock, mailer, backoff=BACKOFF).claimed == 0
    assert stored(store).status is OutboxStatus.PENDING
    drain(store, clock, mailer, rounds=5)

    assert handler.calls == 3
    (envelope,) = handler.envelopes
    received = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert received["Message-ID"] == message_id
    assert received["Subject"] == "Information about our products"
    record = stored(store)
    assert record.status is OutboxStatus.DELIVERED
    assert record.attempts == 3
    assert record.delivered_at is not None


@pytest.mark.parametrize("kind", sorted(STORES))
def test_a_permanent_refusal_is_recorded_as_failed_and_never_retried(
    kind: str, serve: Callable[..., int]
) -> None:
    store, clock = STORES[kind](), FrozenClock(NOW)
    handler = FlakyHandler("550 5.7.1 Message refused")
    port = serve(handler)
    record_mail(store)
    drain(store, clock, SmtpMailer("127.0.0.1", port, timeout=5), rounds=4)
    assert handler.calls == 1
    assert handler.envelopes == []
    record = stored(store)
    assert record.status is OutboxStatus.FAILED
    assert record.last_error is not None
    assert "550" in record.last_error
    assert "Information about our products" in record.payload["message"]  # kept, not lost


@pytest.mark.parametrize("kind", sorted(STORES))
def test_an_unreachable_server_ends_in_a_recorded_failure_after_the_last_attempt(
    kind: str,
) -> None:
    store, clock = STORES[kind](), FrozenClock(NOW)
    record_mail(store)
    mailer = SmtpMailer("127.0.0.1", free_port(), timeout=2)  # nothing listens there
    drain(store, clock, mailer, rounds=2, max_attempts=3)
    assert stored(store).status is OutboxStatus.PENDING
    drain(store, clock, mailer, rounds=3, max_attempts=3)
    record = stored(store)
    assert record.status is OutboxStatus.FAILED
    assert record.attempts == 3
    assert record.last_error is not None
    assert "cannot reach" in record.last_error


def test_a_server_that_never_answers_is_retried_and_then_delivered_elsewhere_once(
    serve: Callable[..., int],
) -> None:
    store, clock = MemoryStore(), FrozenClock(NOW)
    message_id = record_mail(store)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    held: list[socket.socket] = []

    def accept() -> None:
        conn, _ = silent.accept()
        held.append(conn)  # open, and silent

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        report = dispatch_once(
            store,
            clock,
            SmtpMailer("127.0.0.1", silent.getsockname()[1], timeout=0.5),
            backoff=BACKOFF,
        )
    finally:
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        silent.close()
    assert report.retried == 1
    assert "did not answer in time" in report.errors[0][1]
    # The relay is back (here: another server); the same message goes out once.
    handler = FlakyHandler("250 Accepted")
    mailer = SmtpMailer("127.0.0.1", serve(handler), timeout=5)
    clock.advance(hours=1)
    drain(store, clock, mailer, rounds=3)
    (envelope,) = handler.envelopes
    received = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert received["Message-ID"] == message_id
    assert stored(store).status is OutboxStatus.DELIVERED


# -- logging in and TLS ----------------------------------------------------------------------


class Credentials:
    """An aiosmtpd authenticator that accepts one user name and password."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.seen: list[tuple[str, str]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        login = auth_data.login.decode()
        password = auth_data.password.decode()
        self.seen.append((login, password))
        # handled=False: the server itself answers (235 or 535).
        ok = (login, password) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)


def test_login_is_sent_and_a_wrong_password_is_a_permanent_failure(
    serve: Callable[..., int],
) -> None:
    handler = FlakyHandler("250 Accepted")
    credentials = Credentials("crm", "s3cret")
    port = serve(handler, authenticator=credentials, auth_require_tls=False)
    store = MemoryStore()
    record_mail(store)
    SmtpMailer("127.0.0.1", port, username="crm", password="s3cret", timeout=5).send(
        _parsed(stored(store))
    )
    assert credentials.seen == [("crm", "s3cret")]
    assert len(handler.envelopes) == 1
    with pytest.raises(DeliveryError) as refused:
        SmtpMailer("127.0.0.1", port, username="crm", password="wrong", timeout=5).send(
            _parsed(stored(store))
        )
    assert refused.value.permanent is True
    assert len(handler.envelopes) == 1


def _parsed(record: OutboxMessage) -> Any:
    from crm_procedures.services.outbox import parse_mail

    return parse_mail(record)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the TLS tests need the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _contexts(certificate: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = certificate
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_starttls_then_login_delivers(
    serve: Callable[..., int], certificate: tuple[Path, Path]
) -> None:
    server_context, client_context = _contexts(certificate)
    handler = FlakyHandler("250 Accepted")
    credentials = Credentials("crm", "s3cret")
    port = serve(
        handler,
        tls_context=server_context,
        require_starttls=True,
        authenticator=credentials,
        auth_require_tls=True,
    )
    store = MemoryStore()
    message_id = record_mail(store)
    mailer = SmtpMailer(
        "127.0.0.1",
        port,
        starttls=True,
        username="crm",
        password="s3cret",
        ssl_context=client_context,
        timeout=5,
    )
    assert dispatch_once(store, FrozenClock(NOW), mailer).delivered == 1
    assert credentials.seen == [("crm", "s3cret")]
    (envelope,) = handler.envelopes
    assert message_id in envelope.original_content.decode()
    # Without STARTTLS the server refuses to take the message: a permanent error.
    with pytest.raises(DeliveryError) as refused:
        SmtpMailer("127.0.0.1", port, timeout=5).send(_parsed(stored(store)))
    assert refused.value.permanent is True


def test_implicit_tls_delivers_and_an_untrusted_certificate_is_refused(
    serve: Callable[..., int], certificate: tuple[Path, Path]
) -> None:
    server_context, client_context = _contexts(certificate)
    handler = FlakyHandler("250 Accepted")
    port = serve(handler, ssl_context=server_context)
    store = MemoryStore()
    record_mail(store)
    message = _parsed(stored(store))
    SmtpMailer("127.0.0.1", port, ssl=True, ssl_context=client_context, timeout=5).send(message)
    assert len(handler.envelopes) == 1
    with pytest.raises(DeliveryError) as untrusted:
        SmtpMailer("127.0.0.1", port, ssl=True, timeout=5).send(message)  # system CAs only
    assert untrusted.value.permanent is True
    assert "does not verify" in str(untrusted.value)
    assert len(handler.envelopes) == 1
