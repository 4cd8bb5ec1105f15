"""Migration 4: an outbox written by schema version 3 upgrades and is delivered.

Version 3 had no lease token and no per-recipient states. Its rows must keep
every value, read back with neither (``lease_token`` None, ``recipients``
empty), and be claimed, fenced and delivered like new ones; a mail message of
that age has no stored envelope, so it goes to the addresses of its headers.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import text

from contract.test_schema_upgrade import columns, migrate_to, urls
from crm_procedures.adapters.memory_mail import MemoryMailer
from crm_procedures.adapters.sql import open_store
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql.store import make_engine
from crm_procedures.model.outbox import OutboxStatus
from crm_procedures.services.outbox import dispatch_once
from crm_procedures.testing.clock import FrozenClock
from crm_procedures.testing.contracts.messages import T0, mail_text

__all__ = ["urls"]

V3_OUTBOX = [
    "id",
    "key",
    "channel",
    "payload",
    "created_key",
    "created_at",
    "due_key",
    "due_at",
    "status",
    "attempts",
    "last_error",
    "delivered_at",
    "version",
]


def test_a_version_3_outbox_upgrades_and_its_messages_are_delivered(
    urls: tuple[str, str],
) -> None:
    old_url, _ = urls
    engine = make_engine(old_url)
    payload = json.dumps({"message": mail_text("old-1@crm.test")})
    try:
        migrate_to(engine, 3)
        assert columns(engine, "outbox") == V3_OUTBOX
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO outbox (id, key, channel, payload, created_key, created_at,"
                    " due_key, due_at, status, attempts, last_error, delivered_at, version)"
                    " VALUES ('m1', 'old-1@crm.test', 'mail', :payload, 0, NULL, 0, NULL,"
                    " 'pending', 2, 'DeliveryError: 451 later', NULL, 3)"
                ),
                {"payload": payload},
            )
        assert s.upgrade_schema(engine) == s.LATEST_VERSION
        assert columns(engine, "outbox") == [*V3_OUTBOX, "lease_token", "recipients"]
    finally:
        engine.dispose()
    store = open_store(old_url)
    try:
        with store.unit_of_work() as uow:
            old = uow.outbox.get("m1")
        assert (old.attempts, old.version, old.last_error) == (2, 3, "DeliveryError: 451 later")
        assert (old.lease_token, old.recipients, old.envelope) == (None, {}, None)
        mailer = MemoryMailer()
        report = dispatch_once(store, FrozenClock(T0), mailer)
        assert (report.claimed, report.delivered) == (1, 1)
        assert mailer.deliveries == {"<old-1@crm.test>": ["jan@example.com"]}
        with store.unit_of_work() as uow:
            done = uow.outbox.get("m1")
        assert (done.status, done.attempts, done.lease_token) == (OutboxStatus.DELIVERED, 3, None)
        assert done.recipients["jan@example.com"].state == "accepted"
        assert dispatch_once(store, FrozenClock(T0 + timedelta(days=1)), mailer).claimed == 0
    finally:
        store.close()
