"""What every service needs: the store, the clock, id generation and settings.

Services are plain functions (or thin classes) that take a :class:`Context`
and the acting user, open one unit of work, call the domain, record outbox
messages and audit entries, and commit. They hold no business rule
themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from crm_procedures.access.viewer import ActivityScope, Viewer, viewer_for
from crm_procedures.errors import AccessDenied, InvalidInput
from crm_procedures.ids import UserId, new_id
from crm_procedures.model._checks import require_aware
from crm_procedures.ports import BlobStore, Clock, Store, UnitOfWork

if TYPE_CHECKING:
    from crm_procedures.procedures.events import Event
    from crm_procedures.procedures.procedure import Definitions
    from crm_procedures.services.step_kinds import StepKind

__all__ = ["SYSTEM_USER", "Context", "resolve_viewer"]

SYSTEM_USER = UserId("system")
"""The actor for batch jobs; resolves to :meth:`Viewer.system`."""


@attrs.define
class Context:
    """The ports and settings a service call works with.

    Attributes:
        store: where records live.
        clock: where the time comes from (timezone-aware).
        new_id: generates ids for new records.
        blobs: document content store (optional).
        language: default language for labels and messages (en, nl, pl).
        country: where the installation is (ISO 3166 alpha-2, default ``NL``):
            an address block to another country names that country.
        sender_email: the From address of outgoing e-mail.
        sender_name: the display name of that address.
        definitions: the installation's procedures, templates and dictionaries.
        step_kinds: what performing a step of each kind does (built-in kinds,
            kinds found through the ``crm_procedures.step_kinds`` entry point
            group, and the application's own).
        on_event: called with each :class:`~crm_procedures.procedures.events.Event`
            after the unit of work that raised it committed (see
            :mod:`crm_procedures.services.inbound`).
        unsubscribe_url: the https URL of the host's one-click unsubscribe
            endpoint; with ``unsubscribe_secret`` campaign e-mails carry
            ``List-Unsubscribe`` and ``List-Unsubscribe-Post``.
        unsubscribe_secret: the installation's secret for unsubscribe tokens
            (at least 16 bytes).
        soft_bounce_limit: soft delivery failures after which an address is suppressed.
        calendar_channel: booking, moving and cancelling an appointment also
            record a ``calendar`` outbox message (UID + SEQUENCE as key) that
            the dispatcher hands to the configured
            :class:`~crm_procedures.ports.Calendar` (``CrmApp`` sets it when it
            has a calendar).
    """

    store: Store
    clock: Clock
    new_id: Callable[[], str] = new_id
    blobs: BlobStore | None = None
    language: str = "en"
    country: str = "NL"
    sender_email: str = "crm@example.com"
    sender_name: str = "CRM"
    definitions: Definitions | None = None
    step_kinds: Mapping[str, StepKind] = attrs.field(factory=lambda: _default_step_kinds())
    on_event: Callable[[Event], object] | None = None
    unsubscribe_url: str | None = None
    unsubscribe_secret: bytes | None = attrs.field(default=None, repr=False)
    soft_bounce_limit: int = 3
    calendar_channel: bool = False

    def now(self) -> datetime:
        """The clock's time, checked to be timezone-aware."""
        return require_aware(self.clock.now(), "clock.now()")


def _default_step_kinds() -> Mapping[str, StepKind]:
    from crm_procedures.services.step_kinds import default_step_kinds

    return default_step_kinds()


def resolve_viewer(uow: UnitOfWork, user_id: str) -> Viewer:
    """The :class:`Viewer` for ``user_id``, resolved from the stored user and groups.

    Its ``group_members`` are read (every stored user) only when its
    ``activity_scope`` is ``group``, the one rule that uses them; otherwise
    they hold the viewer alone.

    Raises:
        AccessDenied: the user does not exist or is deactivated.
    """
    if user_id == SYSTEM_USER:
        return Viewer.system()
    if not isinstance(user_id, str) or not user_id:
        raise InvalidInput("actor", "must be a user id", user_id)
    user = uow.users.find(user_id)
    if user is None or not user.active:
        raise AccessDenied(user_id, "login", "this installation (unknown or inactive user)")
    groups = [g for g in uow.groups.all() if g.id in user.groups]
    viewer = viewer_for(user, groups)
    # Only a viewer who sees its groups' activities needs the members of its
    # groups: every other call is resolved without reading every user.
    if groups and viewer.activity_scope is ActivityScope.GROUP:
        viewer = viewer_for(user, groups, uow.users.all())
    return viewer
