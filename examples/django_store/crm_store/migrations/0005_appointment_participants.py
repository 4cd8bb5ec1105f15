# ruff: noqa: RUF012  (Django reads Meta options and migration lists as class attributes)
"""Who takes part in an appointment besides its employee: a participant's agenda.

``appointments.agenda`` selects an employee's own appointments and those whose
``participants`` name them through these rows (indexed per user) instead of
reading every appointment. Appointments written before get the rows their
``data`` names.
"""

from typing import Any

from django.db import migrations, models


def fill_participants(apps: Any, schema_editor: Any) -> None:
    alias = schema_editor.connection.alias
    appointments = apps.get_model("crm_store", "AppointmentRow").objects.using(alias)
    participants = apps.get_model("crm_store", "AppointmentParticipantRow")
    rows = [
        participants(appointment_id=row_id, user_id=user)
        for row_id, employee, data in appointments.values_list("id", "employee", "data")
        for user in sorted(set(data.get("participants") or ()) - {employee})
    ]
    participants.objects.using(alias).bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("crm_store", "0004_prospect_leases"),
    ]

    operations = [
        migrations.CreateModel(
            name="AppointmentParticipantRow",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("appointment_id", models.CharField(max_length=200)),
                ("user_id", models.CharField(max_length=200)),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["user_id", "appointment_id"], name="crm_store_a_user_id_e7ff69_idx"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("appointment_id", "user_id"), name="participant_once"
                    )
                ],
            },
        ),
        migrations.RunPython(fill_participants, migrations.RunPython.noop),
    ]
