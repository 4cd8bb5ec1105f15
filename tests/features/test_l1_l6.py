"""L1-L6: the CRM project record and what surrounds it, on PostgreSQL as well.

tests/records proves them through ``services.projects`` on memory and SQLite:
test_projects.py (L1 relation and contacts, one-off contacts; L2 fields and
choice lists; L3 free fields; L5 notepad, linked users and groups, summary; L6
choices with sort order and deactivation), test_documents.py (L5 documents in a
blob store, linked e-mails) and test_call_log.py (L5 call log from telephony).
Importing their service tests here runs each again on PostgreSQL.
"""

from __future__ import annotations

from records.test_call_log import *  # noqa: F403
from records.test_documents import *  # noqa: F403
from records.test_projects import *  # noqa: F403
