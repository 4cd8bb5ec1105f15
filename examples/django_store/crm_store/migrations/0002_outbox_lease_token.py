# ruff: noqa: RUF012  (Django reads migration lists as class attributes)
"""The outbox's lease token: the claim that may deliver a message now.

Issue 16 fenced delivery tries (``Outbox.start_attempt``): the fence renews a
lease only while the claim that took it still holds it, by comparing this
column in its UPDATE. Rows written before have no claim (NULL), which is what
a message nobody holds looks like. The per-recipient states and the
``partially_failed`` status live in the row's ``data`` and ``status`` as they
are: no column changes for them.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm_store", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxrow",
            name="lease_token",
            field=models.CharField(max_length=64, null=True),
        ),
    ]
