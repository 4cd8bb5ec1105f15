"""Import suspects from a spreadsheet export, with the data-quality report.

Run with ``python examples/import_quality.py``. A cp1252 CSV with ``;``
(what a Dutch Excel saves) is read with its encoding and delimiter detected;
names, postcodes, phones and e-mail addresses are normalised by the
conventions (A1); rows that break a blocking mandatory-data rule (A2) are
rejected with their line number; duplicates are skipped or flagged for
review. Then the same import in all-or-nothing mode stores nothing, and an
export neutralises spreadsheet formulas.
"""

from crm_procedures import Group, Relation, User
from crm_procedures.policies.rules import DEFAULT_RULES
from crm_procedures.services import campaigns
from crm_procedures.services.imports import export_csv, import_suspects
from crm_procedures.testing import in_memory_app

ROWS = [
    "Relatienaam;Postcode;Plaats;Branchecode;Voornaam;Voorletters;Tussenvoegsel;Achternaam;"
    "Geslacht;E-mail contactpersoon;Mobiel",
    "ABN AMRO BANK;1082pp;Amsterdam;6419;Jan;J.;van der;Berg;M;J.vdBerg@Example.NL;06-1234 5678",
    "electro technisch bedrijf Visser;8011 cd;Zwolle;4321;Sanne;S.;;Visser;V;sanne@etb.example;",
    "Café Het Hoekje;3511 ab;Utrecht;5630;Ton;;;de Groot;M;groot@hoekje.example;0612345679",
    "Bakkerij de Vries;1012AB;Amsterdam;;Piet;P.;de;Vries;M;piet@devries.example;",
    "Electro Technisch Bedrijf Visser;8011CD;Zwolle;4321;Sanne;S.;;Visser;V;sanne@etb.example;",
    "Electro Technische Bedrijf Visser;8011CD;Zwolle;4321;;K.;;Visser;M;kees@etbv.example;",
]
DATA = ("\r\n".join(ROWS) + "\r\n").encode("cp1252")

app = in_memory_app()
with app.store.unit_of_work() as uow:
    uow.groups.add(Group("lead", "Leaders", permissions={"project.write", "prospect.write"}))
    uow.users.add(User("pia", "Pia Nowak", groups={"lead"}))
    uow.relations.add(Relation("client", "Klant B.V."))
    uow.commit()
project = campaigns.start_campaign(
    app.ctx, "pia", relation_id="client", name="Spring", procedure="standard"
)

# 1. All-or-nothing: one bad row, nothing stored.
strict = import_suspects(app.ctx, "pia", project.id, DATA, rules=DEFAULT_RULES, all_or_nothing=True)
print(strict.summary())

# 2. Row by row: the good rows are stored, every problem is reported by line.
report = import_suspects(app.ctx, "pia", project.id, DATA, rules=DEFAULT_RULES)
print(report.summary())
with app.store.unit_of_work() as uow:
    for relation_id in report.relation_ids:
        relation = uow.relations.get(relation_id)
        (contact,) = uow.contacts.of_relation(relation_id)
        print(
            f"  stored {relation.name!r} {relation.postcode}; contact {contact.full_name!r} "
            f"(prefix {contact.name_prefix!r}), {contact.email}, {contact.phone}"
        )

# 3. Export: cells that a spreadsheet would run as a formula are neutralised.
print(export_csv([("name", "note"), ("Klant B.V.", '=HYPERLINK("http://x.example")')]), end="")
