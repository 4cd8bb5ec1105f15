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

Delivery is at least once: if the connection breaks after the server accepted
the message but before its reply arrived, the retry sends it again, with the
same Message-ID, so the receiving side can recognise the duplicate.
"""

from __future__ import annotations

import smtplib
import ssl as _ssl
from typing import Any

from crm_procedures.adapters.memory_mail import message_id_of
from crm_procedures.errors import DeliveryError, InvalidInput

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
        self.refused: dict[str, tuple[int, str]] = {}
        """Recipients the server refused in the last send while accepting others."""

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
        """Send one message on a fresh connection.

        When the server accepts some recipients and refuses others, the
        message counts as sent (a retry would double it for the accepted
        ones); the refused ones are in :attr:`refused`.

        Raises:
            DeliveryError: see the module documentation for which failures
                are permanent.
            InvalidInput: the message has no Message-ID.
        """
        message_id_of(message)
        self.refused = {}
        try:
            smtp = self._connect()
            try:
                if self.username is not None:
                    smtp.login(self.username, self._password or "")
                refused = smtp.send_message(message)
                self.refused = {
                    str(k): (int(v[0]), _text(v[1])) for k, v in (refused or {}).items()
                }
            finally:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [int(v[0]) for v in exc.recipients.values()]
            detail = "; ".join(f"{k}: {v[0]} {_text(v[1])}" for k, v in exc.recipients.items())
            permanent = all(500 <= c < 600 for c in codes)
            raise DeliveryError(
                f"every recipient was refused ({detail})", permanent=permanent
            ) from exc
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
