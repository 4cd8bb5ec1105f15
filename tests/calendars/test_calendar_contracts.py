"""Every shipped Calendar adapter passes the Calendar contract suite."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from crm_procedures.adapters.caldav import CalDavCalendar
from crm_procedures.adapters.files import FolderCalendar
from crm_procedures.adapters.memory_mail import MemoryCalendar
from crm_procedures.ports import Calendar
from crm_procedures.testing.contracts.calendar import (
    CalendarContract,
    CalendarFactory,
    CalendarReader,
    HeldEvent,
    held_from_ics,
)
from crm_procedures.testing.radicale import RadicaleServer

_runs = itertools.count(1)


class TestMemoryCalendar(CalendarContract):
    @pytest.fixture
    def crm_contract_calendar(self) -> CalendarFactory:
        def make() -> tuple[Calendar, CalendarReader]:
            calendar = MemoryCalendar()

            def read(employee: str, uid: str) -> HeldEvent | None:
                held = calendar.events.get(uid)
                if held is None:
                    return None
                return HeldEvent(held.sequence, held.start, held.end, held.cancelled)

            return calendar, read

        return make


class TestFolderCalendar(CalendarContract):
    @pytest.fixture
    def crm_contract_calendar(self, tmp_path: Path) -> CalendarFactory:
        def make() -> tuple[Calendar, CalendarReader]:
            calendar = FolderCalendar(tmp_path / f"agenda-{next(_runs)}")

            def read(employee: str, uid: str) -> HeldEvent | None:
                path = calendar.path_for(uid)
                return held_from_ics(path.read_bytes()) if path.exists() else None

            return calendar, read

        return make


class TestCalDavCalendar(CalendarContract):
    @pytest.fixture
    def crm_contract_calendar(self, radicale: RadicaleServer) -> CalendarFactory:
        def make() -> tuple[Calendar, CalendarReader]:
            # A fresh set of calendars per test: <user>/run-<n>/ on the one server.
            run = next(_runs)
            calendar = CalDavCalendar(radicale.url, calendars=lambda user: f"{user}/run-{run}/")

            def read(employee: str, uid: str) -> HeldEvent | None:
                response = calendar._client.request(calendar.href_for(employee, uid), "GET")
                if response.status == 404:
                    return None
                assert response.status == 200
                return held_from_ics(response.raw)

            return calendar, read

        return make
