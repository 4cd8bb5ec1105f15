"""E-mail address acceptance: an address is accepted only if it survives a header.

The model's simple pattern (one ``@``, a dot in the domain, no spaces) lets
through text that the stdlib writes into a ``To:`` header as something else:
``jan@mill.example:evil`` is read back as ``jan@mill.example`` with a defect,
``jan@mill.example(x`` gains a closing parenthesis and a comment, and
``a@[b.c`` makes the header writer raise a raw ``AttributeError``. Mail would
then go to an address nobody typed, or not at all.

:func:`is_sendable_email` therefore writes the address the way
:func:`~crm_procedures.formats.mime.build_email` does (an
``email.headerregistry.Address`` in a ``To`` header, folded with the SMTP
policy), parses the header back with ``email.policy.strict`` and accepts the
address only when exactly that one address comes back, without defects.
Addresses with a non-ASCII local part are refused (RFC 5322 has no way to
write them; RFC 6531 needs SMTPUTF8 end to end).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from crm_procedures._memo import remember
from crm_procedures.errors import InvalidInput

__all__ = ["email_address", "is_sendable_email"]

# The coarse shape first (cheap, and it keeps display-name syntax out):
# one @, no spaces, controls, angle brackets, commas, semicolons or quotes.
_SHAPE = re.compile(
    r"^[^@\s\x00-\x1f\x7f<>,;\"]+@[^@\s\x00-\x1f\x7f<>,;\"]+\.[^@\s\x00-\x1f\x7f<>,;\".]+$"
)
# Addresses of this plain form (dot-separated atoms of letters, digits, ``_``,
# ``+`` and ``-`` on both sides of the @) always survive the round trip: no
# character the header writer quotes, encodes or folds at. They skip it, which
# costs about half a millisecond; tests check the two agree on this form.
_PLAIN = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_MAX_LENGTH = 254
_KNOWN: dict[str, bool] = {}
_KNOWN_MAX = 4096


@cache
def _email_parts() -> tuple[Any, Any, Any, type[Exception]]:
    """The stdlib's mail header machinery, loaded with the first address checked."""
    from email import policy
    from email.errors import MessageError
    from email.headerregistry import Address

    return policy.SMTP, policy.strict, Address, MessageError


def _round_trips(value: str) -> bool:
    local, domain = value.rsplit("@", 1)
    if not local.isascii():
        return False
    write, read, address, message_error = _email_parts()
    try:
        header = write.header_factory("To", [address(username=local, domain=domain)])
        folded = header.fold(policy=write)
        written = folded.split(":", 1)[1].replace("\r\n", "").strip()
        parsed = read.header_factory("To", written)
        addresses = parsed.addresses
    # The stdlib's header classes raise whatever their parser trips over (an
    # AttributeError for "a@[b.c"); any of it means the address cannot be written.
    except (message_error, AttributeError, IndexError, TypeError, ValueError):
        return False
    return (
        not parsed.defects
        and len(addresses) == 1
        and not addresses[0].display_name
        and addresses[0].username == local
        and addresses[0].domain == domain
    )


def is_sendable_email(value: Any) -> bool:
    """True when ``value`` is an address that a ``To:`` header carries unchanged."""
    if not isinstance(value, str) or len(value) > _MAX_LENGTH or not _SHAPE.match(value):
        return False
    if _PLAIN.fullmatch(value):
        return True
    known = _KNOWN.get(value)
    if known is None:
        known = _round_trips(value)
        remember(_KNOWN, value, known, _KNOWN_MAX)
    return known


def email_address(_inst: Any, attribute: Any, value: Any) -> None:
    """attrs validator: an optional e-mail address that survives a header round trip."""
    if value is None:
        return
    if not is_sendable_email(value):
        name = str(getattr(attribute, "name", attribute))
        raise InvalidInput(
            name,
            f"{value!r} is not an e-mail address that can be written in a mail header "
            "(written and read back it would name another address)",
            value,
        )
