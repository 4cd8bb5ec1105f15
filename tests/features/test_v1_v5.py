"""V1-V5: the visit report through the services, on PostgreSQL as well.

tests/records/test_visit_reports.py proves V1-V5 through ``services.visits`` on
memory and SQLite (every V1 field, the dictionary of visit types, queries on
their own by account manager, keyword, period and type, the action as a
follow-up task, history, reassignment). Importing its tests here runs each of
them again with this directory's ``world``: the same installation on PostgreSQL.
"""

from __future__ import annotations

from records.test_visit_reports import *  # noqa: F403
