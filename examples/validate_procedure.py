"""Write a procedure in TOML and validate it: every problem, each with a stable code.

Run with ``python examples/validate_procedure.py``. It checks
``examples/renewal_procedure.toml``, then breaks copies of it on purpose and
prints the findings, the way ``crm-procedures validate FILE`` does.
"""

import copy
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from crm_procedures import DefinitionError, load_definitions, validate
from crm_procedures.procedures import render

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "renewal_procedure.toml"

# 1. The file as written: load, validate, picture.
definitions = load_definitions(SOURCE)
print(f"{SOURCE.name}: {len(validate(definitions))} findings")
print(render.mermaid(definitions.procedure("renewal")))

# 2. Mistakes in the graph or the steps: load without validating, then validate.
data: dict[str, Any] = tomllib.loads(SOURCE.read_text(encoding="utf-8"))
broken = copy.deepcopy(data)
matrix = broken["procedures"]["renewal"]["matrix"]["account_manager"]
matrix["send_offer"] = ["call"]  # nobody can reach "renewed" any more ...
del matrix["visit"]  # ... and nobody may go on after a visit
broken["steps"]["visit"].pop("duration_minutes")  # a make_appointment step needs one
broken["steps"]["send_offer"]["template"] = "ofer"  # a typo
broken["templates"]["offer"]["subject"] = "Renewal for {{contact.shoe_size}}"
broken["procedures"]["renewal"]["corrections"]["director"] = "*"  # no such role
for finding in validate(load_definitions(broken, validate=False)):
    print(finding)

# 3. Loading with validation (the default) raises one DefinitionError listing them all,
#    with the file, table and key of each; so do unknown keys and wrong types.
with tempfile.TemporaryDirectory() as tmp:
    bad_file = Path(tmp) / "renewal.toml"
    text = SOURCE.read_text(encoding="utf-8")
    bad_file.write_text(
        text.replace('name = "Call"\n', 'name = "Call"\nduraton = 5\n').replace(
            "duration_minutes = 45", 'duration_minutes = "45"'
        ),
        encoding="utf-8",
    )
    try:
        load_definitions(bad_file)
    except DefinitionError as problem:
        print(f"DefinitionError with {len(problem.findings)} findings:")
        for finding in problem.findings:
            print(f"  {finding.code}: {finding.location}")
