"""Events: what happened to a prospect outside its procedure steps (I1, exit rules).

An :class:`Event` is raised when something comes back (a reply, a bounce, an
unsubscribe, a declined or cancelled appointment). Events are stored (the
store's ``events`` log) so that exit rules can read them later, and handed to
the host's hook (``CrmApp(on_event=...)``) after the unit of work that raised
them committed.

The names are the constants below; a host may raise its own names too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.model._checks import aware, non_empty, non_negative_int

__all__ = [
    "APPOINTMENT_CANCELLED",
    "APPOINTMENT_DECLINED",
    "BOUNCE",
    "EMAIL_SKIPPED",
    "EVENT_NAMES",
    "REPLY",
    "UNSUBSCRIBE",
    "Event",
]

REPLY = "reply"
"""A person answered an e-mail the procedure sent (automatic replies raise none)."""

BOUNCE = "bounce"
"""An e-mail to the prospect's contact could not be delivered."""

UNSUBSCRIBE = "unsubscribe"
"""The contact asked to receive no more campaign e-mail (one-click unsubscribe)."""

APPOINTMENT_DECLINED = "appointment_declined"
"""The contact declined the invitation to an appointment."""

APPOINTMENT_CANCELLED = "appointment_cancelled"
"""An appointment of the prospect was cancelled."""

EMAIL_SKIPPED = "email_skipped"
"""An automatic e-mail step sent nothing: the address is on the suppression list."""

EVENT_NAMES = frozenset(
    {REPLY, BOUNCE, UNSUBSCRIBE, APPOINTMENT_DECLINED, APPOINTMENT_CANCELLED, EMAIL_SKIPPED}
)
"""The events the library raises itself."""

_MAX_DETAIL = 50
_MAX_VALUE = 2_000


def _detail(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidInput("detail", "must be a mapping of text to text", value)
    if len(value) > _MAX_DETAIL:
        raise InvalidInput("detail", f"must hold at most {_MAX_DETAIL} entries", len(value))
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or not isinstance(item, str):
            raise InvalidInput("detail", "must map non-empty text keys to text values", key)
        out[key] = item[:_MAX_VALUE]
    return dict(sorted(out.items()))


@attrs.frozen
class Event:
    """Something that happened to a prospect, stored and handed to the host's hook.

    Attributes:
        name: one of :data:`EVENT_NAMES` (or a host's own name).
        prospect_id: the prospect it concerns, ``None`` when none was found
            (an opt-out of an address no prospect uses any more).
        at: when it happened (timezone-aware).
        detail: text facts (the address, the Message-ID, the reason).
        id: unique; derived from what caused the event, so raising it twice
            stores it once.
    """

    name: str = attrs.field(validator=non_empty)
    prospect_id: str | None
    at: datetime = attrs.field(validator=aware)
    detail: Mapping[str, str] = attrs.field(factory=dict, converter=_detail)
    id: str = attrs.field(kw_only=True, validator=non_empty)
    version: int = attrs.field(default=0, kw_only=True, validator=non_negative_int)

    def __attrs_post_init__(self) -> None:
        if self.prospect_id is not None and (
            not isinstance(self.prospect_id, str) or not self.prospect_id
        ):
            raise InvalidInput("prospect_id", "must be a prospect id or None", self.prospect_id)
