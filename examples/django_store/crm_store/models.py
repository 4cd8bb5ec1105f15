"""One table per record kind, the way a Django CRM keeps its records.

Every row holds the record as JSON (``data``, written by
``crm_procedures.serialization``), its ``version`` for optimistic concurrency,
and the columns the store filters and orders on, indexed.
"""

# ruff: noqa: RUF012  (Django reads Meta options as class attributes)
from django.db import models


class Row(models.Model):
    id = models.CharField(primary_key=True, max_length=200)
    version = models.PositiveIntegerField()
    data = models.JSONField()

    class Meta:
        abstract = True


class RelationRow(Row):
    name = models.CharField(max_length=500)
    account_manager = models.CharField(max_length=200, null=True, db_index=True)
    phone = models.CharField(max_length=100, null=True, db_index=True)


class ContactRow(Row):
    relation_id = models.CharField(max_length=200, db_index=True)
    phone = models.CharField(max_length=100, null=True, db_index=True)


class ProjectRow(Row):
    relation_id = models.CharField(max_length=200, db_index=True)


class ProspectRow(Row):
    project_id = models.CharField(max_length=200, db_index=True)
    status = models.CharField(max_length=20)


class ProspectLeaseRow(models.Model):
    """The scheduler's claim of one prospect: ``worker`` holds it until ``until_key``."""

    prospect_id = models.CharField(primary_key=True, max_length=200)
    worker = models.CharField(max_length=200)
    until_key = models.BigIntegerField()


class ActivityRow(Row):
    employee = models.CharField(max_length=200, db_index=True)
    relation_id = models.CharField(max_length=200, null=True, db_index=True)
    project_id = models.CharField(max_length=200, null=True, db_index=True)


class AppointmentRow(Row):
    employee = models.CharField(max_length=200, db_index=True)
    uid = models.CharField(max_length=500, db_index=True)


class AppointmentParticipantRow(models.Model):
    """One user taking part in an appointment besides its employee: their agenda's index."""

    appointment_id = models.CharField(max_length=200)
    user_id = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["appointment_id", "user_id"], name="participant_once")
        ]
        indexes = [models.Index(fields=["user_id", "appointment_id"])]


class VisitReportRow(Row):
    account_manager = models.CharField(max_length=200, null=True, db_index=True)
    relation_id = models.CharField(max_length=200, null=True, db_index=True)


class DocumentRow(Row):
    owner_kind = models.CharField(max_length=50)
    owner_id = models.CharField(max_length=200, db_index=True)


class UserRow(Row):
    pass


class GroupRow(Row):
    pass


class OutboxRow(Row):
    key = models.CharField(max_length=500, unique=True)
    channel = models.CharField(max_length=100)
    status = models.CharField(max_length=20)  # "partially_failed" is the longest
    # the claim that may deliver the message now: the fence before a try
    # compares it in its UPDATE (None when nobody holds the message)
    lease_token = models.CharField(max_length=64, null=True)
    due_key = models.BigIntegerField()
    created_key = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["status", "due_key", "created_key", "id"])]


class DefinitionRow(models.Model):
    key = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    text = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "version"], name="definition_once")]


class AuditRow(models.Model):
    record_kind = models.CharField(max_length=50)
    record_id = models.CharField(max_length=200)
    data = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["record_kind", "record_id"])]
