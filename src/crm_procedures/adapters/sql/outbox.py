"""The SQL outbox: messages to send, their leases, attempts and outcomes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, Final

import attrs
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm_procedures.adapters._common import check_limit, db_count, sort_key, utc_us
from crm_procedures.adapters.sql import schema as s
from crm_procedures.adapters.sql._repo import _dt, _dt_text, _json, _paged
from crm_procedures.adapters.sql._uow import SqlTransaction
from crm_procedures.errors import ConcurrencyConflict, InvalidInput, NotFound
from crm_procedures.model._checks import require_aware
from crm_procedures.model.outbox import OutboxMessage, OutboxStatus, check_lease_seconds

_O = s.outbox.c
_OUTBOX_COLUMNS: Final = [
    _O.id,
    _O.key,
    _O.channel,
    _O.payload,
    _O.created_at,
    _O.due_at,
    _O.status,
    _O.attempts,
    _O.last_error,
    _O.delivered_at,
    _O.version,
    _O.recipients,
    _O.lease_token,
]


def _recipients_text(message: OutboxMessage) -> str | None:
    if not message.recipients:
        return None
    return _json(
        {
            address: {"state": o.state.value, "code": o.code, "detail": o.detail}
            for address, o in message.recipients.items()
        }
    )


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row[0],
        key=row[1],
        channel=row[2],
        payload=json.loads(row[3]),
        created_at=_dt(row[4]),
        due_at=_dt(row[5]),
        status=OutboxStatus(row[6]),
        attempts=row[7],
        last_error=row[8],
        delivered_at=_dt(row[9]),
        version=row[10],
        recipients=json.loads(row[11]) if row[11] else {},
        lease_token=row[12],
    )


def _insert_ignoring_key(insert: str) -> str:
    return f'{insert} ON CONFLICT ("key") DO NOTHING'


class _Outbox:
    def __init__(self, uow: SqlTransaction) -> None:
        self._uow = uow

    def add(self, message: OutboxMessage) -> None:
        """Record a message in this transaction; a recorded key is ignored.

        Raises ConcurrencyConflict when the id is taken by another key,
        InvalidInput for a payload that is not JSON data.
        """
        if not isinstance(message, OutboxMessage):
            raise InvalidInput("message", "must be an OutboxMessage", type(message).__name__)
        try:
            payload = json.dumps(dict(message.payload), separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("payload", f"must be plain JSON data: {exc}") from None
        row = (
            message.id,
            message.key,
            message.channel,
            payload,
            sort_key(message.created_at),
            _dt_text(message.created_at),
            sort_key(message.due_at),
            _dt_text(message.due_at),
            message.status.value,
            message.attempts,
            message.last_error,
            _dt_text(message.delivered_at),
            1,
            message.lease_token,
            _recipients_text(message),
        )
        self._uow._last = ("outbox_message", message.id, 0)
        # One statement: a recorded key is skipped by the database itself (also
        # one a concurrent transaction commits first: the insert waits for it).
        # An id taken by another key still fails, undone alone (a savepoint on
        # PostgreSQL, where a failed statement would end the transaction).
        sql = _insert_ignoring_key(self._uow._store.insert_sql(s.outbox))
        try:
            with self._uow.atomic(1):
                self._uow.fast(sql, row)
        except IntegrityError:
            if self._uow.execute(select(_O.id).where(_O.key == message.key)).first():
                return  # recorded by a concurrent transaction: the same message
            raise ConcurrencyConflict("outbox_message", message.id, 0, None) from None

    def claim_due(
        self,
        now: datetime,
        limit: int,
        lease_seconds: float,
        channels: Collection[str] | None = None,
    ) -> list[OutboxMessage]:
        """Pending messages due at ``now``, leased for ``lease_seconds`` (attempts + 1).

        On PostgreSQL rows locked by another claimer are skipped (``FOR UPDATE
        SKIP LOCKED``); on SQLite the write lock serialises claimers.
        """
        check_limit(limit, 0)
        check_lease_seconds(lease_seconds)
        at = utc_us(require_aware(now, "now"))
        statement = (
            select(*_OUTBOX_COLUMNS)
            .where(_O.status == OutboxStatus.PENDING.value, _O.due_key <= at)
            .order_by(_O.due_key, _O.created_key, _O.id)
            .limit(db_count(limit))
        )
        if channels is not None:
            statement = statement.where(_O.channel.in_(sorted(channels)))
        if self._uow.dialect == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        found = [_message(r) for r in self._uow.execute(statement)]
        if not found:
            return []
        until = now + timedelta(seconds=lease_seconds)
        until_key, until_text = utc_us(until), _dt_text(until)
        token = uuid.uuid4().hex
        claimed = []
        for m in found:
            self._uow._last = ("outbox_message", m.id, m.version)
            result = self._uow.execute(
                s.outbox.update()
                .where(_O.id == m.id, _O.version == m.version)
                .values(
                    due_key=until_key,
                    due_at=until_text,
                    lease_token=token,
                    version=_O.version + 1,
                )
            )
            if result.rowcount == 1:
                claimed.append(
                    attrs.evolve(m, due_at=until, lease_token=token, version=m.version + 1)
                )
        return claimed

    def start_attempt(
        self, message_id: str, lease_token: str, now: datetime, lease_seconds: float
    ) -> OutboxMessage | None:
        """Renew the lease and count the try when ``lease_token`` still holds it; else None.

        One conditional UPDATE: a concurrent claim (which changes the token)
        and this fence cannot both succeed.
        """
        until = require_aware(now, "now") + timedelta(seconds=check_lease_seconds(lease_seconds))
        if not isinstance(message_id, str) or not isinstance(lease_token, str):
            raise InvalidInput("lease_token", "message id and lease token must be text")
        self._uow._last = ("outbox_message", message_id, None)
        result = self._uow.execute(
            s.outbox.update()
            .where(
                _O.id == message_id,
                _O.lease_token == lease_token,
                _O.status == OutboxStatus.PENDING.value,
            )
            .values(
                due_key=utc_us(until),
                due_at=_dt_text(until),
                attempts=_O.attempts + 1,
                version=_O.version + 1,
            )
        )
        if result.rowcount != 1:
            return None
        return self.get(message_id)

    def record(self, message: OutboxMessage) -> OutboxMessage:
        """Store ``message`` over the version it was read at. Raises ConcurrencyConflict."""
        if not isinstance(message, OutboxMessage):
            raise InvalidInput("message", "must be an OutboxMessage", type(message).__name__)
        self._uow._last = ("outbox_message", message.id, message.version)
        result = self._uow.execute(
            s.outbox.update()
            .where(_O.id == message.id, _O.version == message.version)
            .values(
                status=message.status.value,
                attempts=message.attempts,
                last_error=message.last_error,
                due_key=sort_key(message.due_at),
                due_at=_dt_text(message.due_at),
                delivered_at=_dt_text(message.delivered_at),
                recipients=_recipients_text(message),
                lease_token=message.lease_token,
                version=_O.version + 1,
            )
        )
        if result.rowcount != 1:
            current = self.get(message.id)  # NotFound when missing
            raise ConcurrencyConflict(
                "outbox_message", message.id, message.version, current.version
            )
        return self.get(message.id)

    def _change(self, message_id: str, values: dict[str, Any]) -> None:
        self._uow._last = ("outbox_message", message_id, None)
        result = self._uow.execute(
            s.outbox.update()
            .where(_O.id == message_id, _O.status != OutboxStatus.DELIVERED.value)
            .values(version=_O.version + 1, **values)
        )
        if result.rowcount == 0:
            self.get(message_id)  # raises NotFound; otherwise it was delivered already

    def mark_delivered(self, message_id: str, at: datetime) -> None:
        """Mark a message delivered (idempotent). Raises NotFound."""
        require_aware(at, "at")
        self._change(
            message_id,
            {
                "status": OutboxStatus.DELIVERED.value,
                "delivered_at": _dt_text(at),
                "lease_token": None,
            },
        )

    def mark_failed(self, message_id: str, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: pending again at ``retry_at``, or failed for good."""
        if retry_at is None:
            self._change(
                message_id,
                {
                    "status": OutboxStatus.FAILED.value,
                    "last_error": str(error),
                    "lease_token": None,
                },
            )
            return
        require_aware(retry_at, "retry_at")
        self._change(
            message_id,
            {
                "status": OutboxStatus.PENDING.value,
                "last_error": str(error),
                "due_key": utc_us(retry_at),
                "due_at": _dt_text(retry_at),
                "lease_token": None,
            },
        )

    def get(self, message_id: str) -> OutboxMessage:
        """One message. Raises NotFound."""
        row = self._uow.execute(select(*_OUTBOX_COLUMNS).where(_O.id == message_id)).first()
        if row is None:
            raise NotFound("outbox_message", str(message_id))
        return _message(row)

    def list(self, status: str | None = None, limit: int = 1000) -> list[OutboxMessage]:
        """Messages (optionally of one status), by creation then id."""
        statement = select(*_OUTBOX_COLUMNS).order_by(_O.created_key, _O.id)
        if status is not None:
            statement = statement.where(_O.status == OutboxStatus(status).value)
        return [_message(r) for r in self._uow.execute(_paged(statement, limit, 0))]
