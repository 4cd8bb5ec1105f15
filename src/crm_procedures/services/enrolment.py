"""Enrolling one relation into a running campaign in one call.

A host application that signs up one customer at a time (a web form, an
API call) needs neither a bulk import nor the three calls ``add_prospects``,
``release`` and a check that the campaign runs: :func:`enroll` does it in
one unit of work.
"""

from __future__ import annotations

from crm_procedures.access.permissions import require
from crm_procedures.access.viewer import Viewer
from crm_procedures.errors import InvalidInput, NotFound
from crm_procedures.ids import ProspectId, RelationId, UserId
from crm_procedures.model.audit import Change
from crm_procedures.model.prospect import Prospect, ProspectStatus
from crm_procedures.ports import UnitOfWork
from crm_procedures.procedures import runtime
from crm_procedures.services.campaigns import _procedure_of
from crm_procedures.services.context import Context, resolve_viewer

__all__ = ["enroll"]


def enroll(
    ctx: Context,
    actor: str,
    project_id: str,
    relation_id: str,
    contact_id: str | None = None,
    release: bool = True,
) -> Prospect:
    """Enrol ``relation_id`` (with its contact ``contact_id``) into the campaign ``project_id``.

    The new prospect is released (status running, in the worklists at once)
    unless ``release=False``, which leaves it in preparation. Nothing is
    stored when anything is refused.

    Raises:
        NotFound: unknown (or invisible) project, unknown relation or contact.
        AccessDenied: the actor lacks ``prospect.import``.
        InvalidInput: the project runs no procedure; the contact belongs to
            another relation; the relation is already enrolled and not closed
            (the message names its prospect).
    """
    if not isinstance(release, bool):
        raise InvalidInput("release", "must be true or false", release)
    with ctx.store.unit_of_work() as uow:
        viewer = resolve_viewer(uow, actor)
        require(viewer, "prospect.import", "prospects")
        project = uow.projects.get(project_id, viewer)
        _procedure_of(ctx, uow, project)
        if not isinstance(relation_id, str) or uow.relations.find(relation_id) is None:
            raise NotFound("relation", str(relation_id))
        if contact_id is not None:
            contact = uow.contacts.find(contact_id) if isinstance(contact_id, str) else None
            if contact is None:
                raise NotFound("contact", str(contact_id))
            if contact.relation_id != relation_id:
                raise InvalidInput(
                    "contact_id",
                    f"contact {contact_id} belongs to relation {contact.relation_id}, "
                    f"not {relation_id}",
                    contact_id,
                )
        _refuse_duplicate(uow, project.id, relation_id)
        prospect = Prospect(
            id=ProspectId(ctx.new_id()),
            project_id=project.id,
            relation_id=RelationId(relation_id),
            contact_id=contact_id,
        )
        now = ctx.now()
        if release:
            runtime.release(prospect, UserId(actor), now)
        stored = uow.prospects.add(prospect)
        uow.audit.record(
            Change(
                record_kind="prospect",
                record_id=stored.id,
                version=stored.version,
                at=now,
                actor=actor,
                action="create",
                changes={"status": ("", stored.status.value)},
            )
        )
        uow.commit()
    return stored


def _refuse_duplicate(uow: UnitOfWork, project_id: str, relation_id: str) -> None:
    from crm_procedures.services.reports import report_queries

    if getattr(uow, "reports", None) is not None:
        others = report_queries(uow).prospects_of_relation(relation_id, Viewer.system())
    else:
        # A store without report queries: read the project's prospects through the port.
        others = [p for p in _all_of_project(uow, project_id) if p.relation_id == relation_id]
    for other in others:
        if other.project_id == project_id and other.status is not ProspectStatus.CLOSED:
            raise InvalidInput(
                "relation_id",
                f"relation {relation_id} is already enrolled in project {project_id} "
                f"(prospect {other.id}, {other.status.value}); reopen or use that one",
                relation_id,
            )


def _all_of_project(uow: UnitOfWork, project_id: str) -> list[Prospect]:
    out: list[Prospect] = []
    while True:
        page = uow.prospects.of_project(project_id, Viewer.system(), limit=500, offset=len(out))
        out.extend(page)
        if len(page) < 500:
            return out
