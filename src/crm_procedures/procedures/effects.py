"""Effects: what performing a typed step asks the outside world to do.

The engine does no I/O. :func:`~crm_procedures.procedures.runtime.perform`
returns these values; the service layer turns them into outbox messages (an
e-mail, an appointment with its invitation) in the same unit of work as the
state change.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from crm_procedures.ids import ContactId
from crm_procedures.model._mappings import any_map
from crm_procedures.procedures.step import ParamValue

__all__ = ["BookAppointment", "CustomEffect", "Effect", "SendEmail"]


@attrs.frozen(slots=True)
class SendEmail:
    """Send the e-mail ``template`` to the prospect's contact (a ``send_email`` step).

    ``contact_id`` is ``None`` when the prospect has no contact person; the
    service then refuses or asks for one.
    """

    step: str
    template: str
    contact_id: ContactId | None


@attrs.frozen(slots=True)
class BookAppointment:
    """Book an appointment of ``duration_minutes`` with the contact (``make_appointment``).

    ``with_role`` is the role whose employee the appointment is with (``"client"``),
    or ``None`` for the employee who performed the step.
    """

    step: str
    duration_minutes: int
    with_role: str | None


def _params(value: Any) -> Mapping[str, ParamValue]:
    return MappingProxyType(any_map("params", value))


@attrs.frozen(slots=True)
class CustomEffect:
    """The effect of a step of an installation-declared kind.

    ``params`` holds the step's ``params`` plus the step attributes the kind
    requires (``template``, ``duration_minutes``, ``appointment_with``) when set.
    """

    kind: str
    step: str
    params: Mapping[str, ParamValue] = attrs.field(factory=dict, converter=_params, hash=False)


Effect = SendEmail | BookAppointment | CustomEffect
"""Any effect :func:`~crm_procedures.procedures.runtime.perform` may return."""
