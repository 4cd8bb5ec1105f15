"""Labels, messages and report headings in English, Dutch and Polish.

Run with ``python examples/locales.py``. The built-in choice lists, the
messages of the library's errors and the report headings come from the
catalogues in ``crm_procedures/locales``; your own dictionaries (close
reasons in the procedure TOML) carry their own labels per language.
"""

from crm_procedures import (
    Group,
    ProspectStatus,
    Relation,
    TransitionNotAllowed,
    User,
    standard_definitions,
)
from crm_procedures.locales import LANGUAGES, builtin_dictionaries, error_message, label, message
from crm_procedures.services import campaigns, reports
from crm_procedures.testing import in_memory_app

# 1. One label in every language, by key.
for language in LANGUAGES:
    status = label(f"choice.prospect_status.{ProspectStatus.PREPARING.value}", language)
    print(f"{language}: preparing = {status!r}")

# 2. A built-in dictionary, labelled in Dutch, sorted as configured.
priorities = builtin_dictionaries("nl")["activity_priority"]
print(f"{priorities.label}: {[(c.key, c.label) for c in priorities.choices]}")

# 3. A message template with fields (string.Template: values are inserted, never evaluated).
print(message("error.not_found", "pl", kind="prospect", record_id="p-17"))

# 4. A refusal from the engine, told in the user's language.
refusal = TransitionNotAllowed("client_call", "client", "send_info", [])
for language in LANGUAGES:
    print(f"{language}: {error_message(refusal, language)}")

# 5. The installation's own dictionary: the close reasons of the standard procedure.
reasons = standard_definitions().dictionary("close_reason")
for choice in reasons.choices:
    print(f"close reason {choice.key}: {choice.label_in('nl')} / {choice.label_in('pl')}")

# 6. Report headings follow the language too.
app = in_memory_app(language="nl")
with app.store.unit_of_work() as uow:
    permissions = {"project.write", "prospect.write", "report.read"}
    uow.groups.add(Group("lead", "Leiding", permissions=permissions))
    uow.users.add(User("pia", "Pia Nowak", groups={"lead"}, roles={"marketeer"}, language="nl"))
    uow.relations.add(Relation("klant", "Klant B.V."))
    uow.relations.add(Relation("molen", "Molen Jansen B.V."))
    uow.relations.add(Relation("bakker", "Bakkerij de Vries"))
    uow.commit()
project = campaigns.start_campaign(
    app.ctx, "pia", relation_id="klant", name="Voorjaar", procedure="standard"
)
first, _second = campaigns.add_prospects(
    app.ctx, "pia", project.id, [("molen", None), ("bakker", None)]
)
campaigns.release(app.ctx, "pia", project.id)
campaigns.perform_step(app.ctx, "pia", first.id, "call", role="marketeer")
campaigns.close_prospect(app.ctx, "pia", first.id, "no_budget")
print(reports.render_table(reports.funnel(app.ctx, "pia", project.id), language="nl"))
