"""Handle ConcurrencyConflict in a web request: two users, one prospect, one winner.

Run with ``python examples/web_conflict.py``. A framework-free stand-in for a
web view (Django, Flask, FastAPI look the same): the form that shows a
prospect carries the version the user saw; the POST passes it as
``expected_version``. When somebody else acted first, the service raises
``ConcurrencyConflict``; the view answers 409 and the user reloads. Every
library error maps to one HTTP status and a message in the user's language.
"""

from typing import Any

from crm_procedures import (
    AccessDenied,
    ConcurrencyConflict,
    CrmError,
    Group,
    InvalidInput,
    NotFound,
    ProspectClosed,
    Relation,
    TransitionNotAllowed,
    User,
)
from crm_procedures.locales import error_message
from crm_procedures.services import campaigns
from crm_procedures.services.app import CrmApp
from crm_procedures.services.context import resolve_viewer
from crm_procedures.testing import in_memory_app

STATUS: list[tuple[type[CrmError], int]] = [
    (ConcurrencyConflict, 409),  # somebody else changed it: reload and decide again
    (TransitionNotAllowed, 422),
    (ProspectClosed, 422),
    (NotFound, 404),  # also for records the user may not see
    (AccessDenied, 403),
    (InvalidInput, 400),
]


def show_prospect(app: CrmApp, user: str, prospect_id: str) -> dict[str, Any]:
    """GET: what the page shows, with the version in a hidden field."""
    with app.store.unit_of_work() as uow:
        prospect = uow.prospects.get(prospect_id, resolve_viewer(uow, user))
    return {"prospect": prospect.id, "last_step": prospect.last_step, "version": prospect.version}


def perform_view(
    app: CrmApp, user: str, language: str, prospect_id: str, form: dict[str, str]
) -> tuple[int, str]:
    """POST: perform the step the user chose, against the version they saw."""
    try:
        result = campaigns.perform_step(
            app.ctx,
            user,
            prospect_id,
            form["step"],
            role="marketeer",
            note=form.get("note", ""),
            expected_version=int(form["version"]),
        )
    except CrmError as error:
        status = next((code for cls, code in STATUS if isinstance(error, cls)), 500)
        return status, error_message(error, language)
    return 303, f"/prospects/{result.prospect.id} (version {result.prospect.version})"


app = in_memory_app()
with app.store.unit_of_work() as uow:
    uow.groups.add(Group("sales", "Sales", permissions={"project.write", "prospect.write"}))
    uow.users.add(User("ann", "Ann de Wit", groups={"sales"}, roles={"marketeer"}))
    uow.users.add(User("bas", "Bas Kowalski", groups={"sales"}, roles={"marketeer"}, language="pl"))
    uow.relations.add(Relation("client", "Klant B.V."))
    uow.relations.add(Relation("mill", "Molen Jansen B.V."))
    uow.commit()
project = campaigns.start_campaign(
    app.ctx, "ann", relation_id="client", name="Spring", procedure="standard"
)
(prospect,) = campaigns.add_prospects(app.ctx, "ann", project.id, [("mill", None)])
campaigns.release(app.ctx, "ann", project.id)

# Ann and Bas open the same prospect page.
page_ann = show_prospect(app, "ann", prospect.id)
page_bas = show_prospect(app, "bas", prospect.id)
print(f"both see version {page_ann['version']} (last step {page_ann['last_step']})")

# Both press "Call"; Ann's request commits first.
form = {"step": "call", "version": str(page_ann["version"])}
print("ann:", perform_view(app, "ann", "en", prospect.id, form))
form = {"step": "call", "version": str(page_bas["version"])}
print("bas:", perform_view(app, "bas", "pl", prospect.id, form))

# Bas reloads, sees Ann's call, and chooses again.
page_bas = show_prospect(app, "bas", prospect.id)
print(f"bas reloads: version {page_bas['version']}, last step {page_bas['last_step']}")
form = {"step": "call", "version": str(page_bas["version"])}
print("bas:", perform_view(app, "bas", "pl", prospect.id, form))
form = {"step": "call_back", "version": str(page_bas["version"])}
print("bas:", perform_view(app, "bas", "pl", prospect.id, form))
history = campaigns.prospect_history(app.ctx, "ann", prospect.id)
print(f"history: {[(e.actor, e.step) for e in history if e.step]} (nothing overwritten)")
