"""The SMTP mailer: delivers e-mail through a mail server with :mod:`smtplib` (X1, X4).

One connection per message. Outbox dispatch is a trickle (a few messages per
second at most), and a fresh connection each time means no stale session
(servers drop idle ones after a minute or two), no state to recover after an
error, and one clear failure per message. Hosts that send in bulk can batch
at the server (a local relay) instead.

Failures become :class:`~crm_procedures.errors.DeliveryError`:

* temporary (``permanent=False``; the outbox retries): 4xx replies, refused
  or dropped connections, time-outs, DNS failures;
* permanent (``permanent=True``; a person must look): 5xx replies
  (unknown recipient, message refused, authentication failed), a server that
  does not offer STARTTLS when asked, a certificate that does not verify.

Per recipient (:meth:`SmtpMailer.send_to`): the envelope is the stored
recipient list, passed to the server as given; a recipient the server defers
(4xx to ``RCPT TO``) or refuses (5xx) is reported in the returned
:class:`~crm_procedures.model.outbox.DeliveryOutcome`, so that the outbox
retries only the deferred ones and records the refused ones.

Delivery is at least once: if the connection breaks after the server accepted
the message but before its reply arrived, the retry sends it again, with the
same Message-ID, so the receiving side can recognise the duplicate.
"""

from __future__ import annotations

import smtplib
import ssl as _ssl
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from crm_procedures.adapters.memory_mail import message_id_of
from crm_procedures.errors import DeliveryError, InvalidInput
from crm_procedures.formats.mime import envelope_of
from crm_procedures.model._email import is_sendable_email
from crm_procedures.model.outbox import DeliveryOutcome, RecipientOutcome, RecipientState

__all__ = ["SmtpMailer"]


def _from_code(code: int, text: str) -> DeliveryError:
    return DeliveryError(f"SMTP server replied {code}: {text}", permanent=500 <= code < 600)


def _text(raw: Any) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return str(raw)


class SmtpMailer:
    """A Mailer that sends through an SMTP server.

    Args:
        host: the server's name or address.
        port: the server's port (587 with ``starttls=True`` or 465 with
            ``ssl=True`` for most providers; 25 for a local relay).
        starttls: upgrade the connection with STARTTLS before logging in.
        ssl: connect with implicit TLS (SMTPS).
        username: log in with this user name when given (after STARTTLS).
        password: the password for ``username``.
        timeout: seconds for connecting and for each server reply.
        local_hostname: the name sent with EHLO (defaults to the host's FQDN).
        ssl_context: the TLS settings (defaults to verifying certificates).

    Raises InvalidInput for contradictory settings (``ssl`` and ``starttls``,
    a password without user name, a port outside 1..65535).
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        starttls: bool = False,
        ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
        local_hostname: str | None = None,
        ssl_context: _ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(host, str) or not host:
            raise InvalidInput("host", "must name the SMTP server", host)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise InvalidInput("port", "must be a port number 1..65535", port)
        if ssl and starttls:
            raise InvalidInput("starttls", "choose either ssl (port 465) or starttls (587)", True)
        if password is not None and username is None:
            raise InvalidInput("username", "is needed when a password is given", None)
        if timeout <= 0:
            raise InvalidInput("timeout", "must be more than 0 seconds", timeout)
        self.host = host
        self.port = port
        self.starttls = starttls
        self.ssl = ssl
        self.username = username
        self._password = password
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.ssl_context = ssl_context

    def __repr__(self) -> str:
        # Never show the password.
        return (
            f"SmtpMailer(host={self.host!r}, port={self.port}, starttls={self.starttls}, "
            f"ssl={self.ssl}, username={self.username!r})"
        )

    def _connect(self) -> smtplib.SMTP:
        context = self.ssl_context or _ssl.create_default_context()
        if self.ssl:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=context,
            )
        smtp = smtplib.SMTP(
            self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
        )
        if self.starttls:
            smtp.ehlo()
            smtp.starttls(context=context)
            smtp.ehlo()
        return smtp

    def send(self, message: Any) -> None:
        """Send one message to the addresses of its To and Cc headers.

        Prefer :meth:`send_to` with the stored envelope: headers read back
        from text can lose recipients (CPython gh-100884). Raises
        DeliveryError when any recipient was not accepted (permanent when
        every such refusal is a 5xx), naming them; use :meth:`send_to` to
        learn the outcome per recipient instead.
        """
        recipients = envelope_of(message)
        outcome = self.send_to(message, recipients)
        if outcome.recipients:
            detail = "; ".join(
                f"{a}: {o.code} {o.detail}" for a, o in sorted(outcome.recipients.items())
            )
            permanent = all(o.state is RecipientState.REFUSED for o in outcome.recipients.values())
            raise DeliveryError(f"not every recipient was accepted ({detail})", permanent=permanent)

    def send_to(self, message: Any, recipients: Sequence[str]) -> DeliveryOutcome:
        """Send one message on a fresh connection to exactly ``recipients`` (the envelope).

        The envelope is passed to the server as given (``RCPT TO`` per
        address); the headers are not read for it. Returns what the server
        said of each recipient it did not accept: ``deferred`` (4xx, worth
        another try) or ``refused`` (5xx). When it refuses every recipient
        the outcome says so too (nothing was sent).

        Raises:
            DeliveryError: the message as a whole was not delivered (see the
                module documentation for which failures are permanent).
            InvalidInput: the message has no Message-ID, or no recipients.
        """
        message_id_of(message)
        envelope = _envelope(recipients)
        try:
            smtp = self._connect()
            try:
                if self.username is not None:
                    smtp.login(self.username, self._password or "")
                refused = smtp.send_message(message, to_addrs=envelope)
            finally:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        except smtplib.SMTPRecipientsRefused as exc:
            return _outcome(exc.recipients)
        except smtplib.SMTPResponseException as exc:
            raise _from_code(exc.smtp_code, _text(exc.smtp_error)) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(
                f"SMTP server {self.host}:{self.port} does not support what is asked: {exc}",
                permanent=True,
            ) from exc
        except _ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"the certificate of {self.host} does not verify: {exc}", permanent=True
            ) from exc
        except (smtplib.SMTPServerDisconnected, TimeoutError) as exc:
            raise DeliveryError(
                f"SMTP server {self.host}:{self.port} did not answer in time or hung up: "
                f"{exc or type(exc).__name__}",
                permanent=False,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"cannot reach SMTP server {self.host}:{self.port}: {exc}", permanent=False
            ) from exc
        return _outcome(refused or {})


def _envelope(recipients: Any) -> list[str]:
    """``recipients`` as a list of addresses a header (and RCPT TO) carries unchanged."""
    if isinstance(recipients, (str, bytes)) or not isinstance(recipients, Iterable):
        raise InvalidInput("recipients", "must list at least one address", recipients)
    envelope = list(recipients)
    if not envelope:
        raise InvalidInput("recipients", "must list at least one address", recipients)
    for address in envelope:
        if not is_sendable_email(address):
            raise InvalidInput("recipients", f"{address!r} is not an e-mail address", address)
    return envelope


def _outcome(refused: Mapping[Any, Any]) -> DeliveryOutcome:
    """Per-recipient states from smtplib's ``{address: (code, text)}`` of refusals."""
    states: dict[str, RecipientOutcome] = {}
    for address, reply in refused.items():
        code, text = int(reply[0]), _text(reply[1])
        state = RecipientState.DEFERRED if 400 <= code < 500 else RecipientState.REFUSED
        states[str(address)] = RecipientOutcome(state, code, text)
    return DeliveryOutcome(states)
