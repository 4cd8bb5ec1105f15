"""P2-P7: contact, meeting and task activities through the services, on PostgreSQL as well.

tests/records/test_activity_services.py proves them through
``services.activities`` on memory and SQLite (kinds and their required fields,
the employee defaulting to the acting user, the relation filled in from the
project, contacts of the activity's relation only, costs with currency,
dictionaries, the timer, the frozen completed activity, the editable note, the
follow-up, "my activities" and a relation's activities, the employee's agenda).
Importing its tests here runs each again on PostgreSQL.
"""

from __future__ import annotations

from records.test_activity_services import *  # noqa: F403
