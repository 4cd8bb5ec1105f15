"""Visit reports (MS Dynamics case, V1-V5)."""

from __future__ import annotations

from datetime import datetime

import attrs

from crm_procedures.errors import InvalidInput
from crm_procedures.ids import ActivityId, ContactId, DocumentId, RelationId, UserId, VisitReportId
from crm_procedures.model._checks import (
    aware,
    non_empty,
    non_negative_int,
    one_line,
    order,
    tuple_of_str,
)
from crm_procedures.model._checks import text as free_text

__all__ = ["MAX_KEYWORD", "MAX_KEYWORDS", "VisitReport"]

MAX_KEYWORDS = 50
"""The most keywords a visit report may carry."""
MAX_KEYWORD = 100
"""The longest keyword, in characters (so all keywords together stay within 5,000)."""


@attrs.frozen
class VisitReport:
    """A report of a visit to a relation (V1).

    ``visit_type`` is a choice key of the ``visit_type`` dictionary;
    ``keywords`` are free words searched case- and accent-insensitively;
    ``action`` is what to do next and can become a follow-up activity (V4).
    Raises :class:`~crm_procedures.errors.InvalidInput` for an empty
    designation, a naive datetime or an end before the start, more than
    :data:`MAX_KEYWORDS` keywords or one longer than :data:`MAX_KEYWORD`
    characters (keywords are search words, not a second text), or a contact
    or attachment id that breaks the id rule.
    """

    id: VisitReportId = attrs.field(validator=non_empty)
    designation: str = attrs.field(validator=non_empty)
    relation_id: RelationId = attrs.field(validator=non_empty)
    account_manager: UserId = attrs.field(validator=non_empty)
    start: datetime = attrs.field(validator=aware)
    end: datetime = attrs.field(validator=aware)
    contact_ids: tuple[ContactId, ...] = attrs.field(default=(), converter=tuple_of_str)
    address: str = attrs.field(default="", validator=one_line)
    postcode: str = attrs.field(default="", validator=one_line)
    city: str = attrs.field(default="", validator=one_line)
    subject: str = attrs.field(default="", validator=one_line)
    visit_type: str | None = attrs.field(default=None, validator=one_line)
    keywords: tuple[str, ...] = attrs.field(default=(), converter=tuple_of_str)
    text: str = attrs.field(default="", validator=free_text)
    attachments: tuple[DocumentId, ...] = attrs.field(default=(), converter=tuple_of_str)
    action: str = attrs.field(default="", validator=free_text)
    follow_up_activity_id: ActivityId | None = attrs.field(default=None, validator=one_line)
    version: int = attrs.field(default=0, validator=non_negative_int)

    def __attrs_post_init__(self) -> None:
        order("start", "end", self.start, self.end)
        if len(self.keywords) > MAX_KEYWORDS:
            raise InvalidInput(
                "keywords",
                f"has {len(self.keywords)} keywords; at most {MAX_KEYWORDS} are allowed",
                len(self.keywords),
            )
        for i, word in enumerate(self.keywords):
            non_empty(None, f"keywords[{i}]", word)
            if len(word) > MAX_KEYWORD:
                raise InvalidInput(
                    f"keywords[{i}]",
                    f"is longer than {MAX_KEYWORD} characters; a keyword is a search word",
                    word[:40],
                )
        for field, ids in (("contact_ids", self.contact_ids), ("attachments", self.attachments)):
            for i, value in enumerate(ids):
                non_empty(None, f"{field}[{i}]", value)
