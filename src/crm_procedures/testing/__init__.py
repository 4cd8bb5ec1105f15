"""The testing kit for host applications (X6).

Everything a host application needs to test its procedures without a
database, a mail server or a real clock:

* :func:`in_memory_app`: a :class:`~crm_procedures.services.app.CrmApp` on
  in-memory adapters and a :class:`FrozenClock`;
* builders with sensible defaults and unique ids: :func:`a_relation`,
  :func:`a_contact`, :func:`a_project`, :func:`a_prospect`,
  :func:`an_activity`, :func:`an_appointment`, :func:`a_visit_report`,
  :func:`a_user`, :func:`a_group`, :func:`a_document`, :func:`a_dictionary`;
* outbox assertions that list what *was* sent when they fail:
  :func:`assert_sent`, :func:`assert_invitation`, :func:`assert_no_messages`;
* a pytest plugin (installed with the package) with the fixtures
  ``crm_app``, ``crm_clock``, ``crm_store``, ``crm_outbox`` and
  ``crm_definitions``.

Names are imported on first use, so ``import crm_procedures.testing`` stays
cheap and does not load the adapters.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_procedures.testing.app import in_memory_app
    from crm_procedures.testing.assertions import (
        Invitation,
        RecordingSender,
        SentMessage,
        assert_emitted,
        assert_invitation,
        assert_no_messages,
        assert_sent,
        channel_messages,
        invitations,
        sent_messages,
    )
    from crm_procedures.testing.builders import (
        BUILDER_TIME,
        a_contact,
        a_dictionary,
        a_document,
        a_group,
        a_project,
        a_prospect,
        a_relation,
        a_user,
        a_visit_report,
        an_activity,
        an_appointment,
        reset_ids,
    )
    from crm_procedures.testing.clock import FrozenClock
    from crm_procedures.testing.plugin import OutboxView

__all__ = [
    "BUILDER_TIME",
    "FrozenClock",
    "Invitation",
    "OutboxView",
    "RecordingSender",
    "SentMessage",
    "a_contact",
    "a_dictionary",
    "a_document",
    "a_group",
    "a_project",
    "a_prospect",
    "a_relation",
    "a_user",
    "a_visit_report",
    "an_activity",
    "an_appointment",
    "assert_emitted",
    "assert_invitation",
    "assert_no_messages",
    "assert_sent",
    "channel_messages",
    "in_memory_app",
    "invitations",
    "reset_ids",
    "sent_messages",
]

_ASSERTIONS = (
    "Invitation",
    "RecordingSender",
    "SentMessage",
    "assert_emitted",
    "assert_invitation",
    "assert_no_messages",
    "assert_sent",
    "channel_messages",
    "invitations",
    "sent_messages",
)
_BUILDERS = (
    "BUILDER_TIME",
    "a_contact",
    "a_dictionary",
    "a_document",
    "a_group",
    "a_project",
    "a_prospect",
    "a_relation",
    "a_user",
    "a_visit_report",
    "an_activity",
    "an_appointment",
    "reset_ids",
)
_MODULES = {
    "in_memory_app": "app",
    "FrozenClock": "clock",
    "OutboxView": "plugin",
    **dict.fromkeys(_ASSERTIONS, "assertions"),
    **dict.fromkeys(_BUILDERS, "builders"),
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
