# ruff: noqa: RUF012  (Django reads migration lists as class attributes)
"""A relation's phone as an indexed column: the lookup of a caller by number.

``relations.by_phone`` (an incoming call finds its relation) filters on this
column instead of reading every relation. Rows written before get the phone
their ``data`` holds.
"""

from typing import Any

from django.db import migrations, models


def fill_phones(apps: Any, schema_editor: Any) -> None:
    rows = apps.get_model("crm_store", "RelationRow").objects.using(schema_editor.connection.alias)
    for row_id, data in rows.values_list("id", "data"):
        if data.get("phone") is not None:
            rows.filter(id=row_id).update(phone=data["phone"])


class Migration(migrations.Migration):
    dependencies = [
        ("crm_store", "0002_outbox_lease_token"),
    ]

    operations = [
        migrations.AddField(
            model_name="relationrow",
            name="phone",
            field=models.CharField(max_length=100, null=True, db_index=True),
        ),
        migrations.RunPython(fill_phones, migrations.RunPython.noop),
    ]
