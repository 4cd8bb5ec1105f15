"""Walk a prospect through the standard procedure and show a refusal."""

from datetime import UTC, datetime

from crm_procedures.errors import TransitionNotAllowed
from crm_procedures.model.prospect import Prospect
from crm_procedures.procedures import render, runtime, standard, validation

definitions = standard.standard_definitions()
procedure = definitions.procedure("standard")
print("findings:", validation.validate(definitions) or "none")
print(render.mermaid(procedure, "marketeer", definitions=definitions))

at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
prospect = Prospect("p1", "campaign", "acme", contact_id="jansen")
runtime.release(prospect, "lead", at)
for step, role in [
    ("call", "marketeer"),
    ("send_info", "marketeer"),
    ("call_back", "marketeer"),
    ("make_appointment", "marketeer"),
    ("client_call", "client"),
]:
    effects = runtime.perform(procedure, prospect, step, role, "ann", at)
    print(f"{role} performed {step}: effects {list(effects)}; stage {prospect.stage}")
try:
    runtime.perform(procedure, prospect, "call_back", "marketeer", "ann", at)
except TransitionNotAllowed as refusal:
    print("refused:", refusal)
