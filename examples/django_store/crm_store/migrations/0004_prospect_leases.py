# ruff: noqa: RUF012  (Django reads migration lists as class attributes)
"""The scheduler's leases of prospects (``prospects.claim_due``, ``lease``).

A claim holds a prospect for one worker until ``until_key`` (microseconds
since the epoch); the lease takes effect when the claiming unit of work
commits, like every other write of this store.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm_store", "0003_relation_phone"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProspectLeaseRow",
            fields=[
                (
                    "prospect_id",
                    models.CharField(max_length=200, primary_key=True, serialize=False),
                ),
                ("worker", models.CharField(max_length=200)),
                ("until_key", models.BigIntegerField()),
            ],
        ),
    ]
