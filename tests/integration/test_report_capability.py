"""Report queries are a capability of the unit of work, found through the port (issue 17)."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from crm_procedures import CapabilityMissing, ProspectStatus
from crm_procedures.model.relation import Relation
from crm_procedures.ports import ReportingUnitOfWork, ReportQueries, Store, UnitOfWork
from crm_procedures.services import reports
from crm_procedures.services.enrolment import enroll
from crm_procedures.services.reports import funnel, negotiation_timeline, report_queries
from integration.campaign import Campaign


class _NoReports:
    """A unit of work that forwards everything except ``reports`` (a host's plain adapter)."""

    def __init__(self, inner: UnitOfWork) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "reports":
            raise AttributeError(name)
        return getattr(self._inner, name)


class _OwnReports(_NoReports):
    """A unit of work with its own report queries, counting how often they are asked."""

    asked = 0

    @property
    def reports(self) -> ReportQueries:
        type(self).asked += 1
        queries: ReportQueries = self._inner.reports  # type: ignore[attr-defined]
        return queries


class _Wrapped:
    """A store whose units of work are wrapped by ``wrap``."""

    def __init__(self, inner: Store, wrap: type[_NoReports]) -> None:
        self._inner = inner
        self._wrap = wrap

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[Any]:
        with self._inner.unit_of_work(read_only=read_only) as uow:
            yield self._wrap(uow)

    def close(self) -> None:
        self._inner.close()


def test_shipped_units_of_work_offer_reports_through_the_port(campaign: Campaign) -> None:
    with campaign.store.unit_of_work(read_only=True) as uow:
        queries = report_queries(uow)
        assert isinstance(uow, ReportingUnitOfWork)
        assert [p.id for p in queries.prospects_of_relation("acme", None)] == [campaign.acme]


def test_reports_service_names_no_store_class() -> None:
    """The service finds report queries through ``uow.reports`` alone."""
    source = inspect.getsource(reports)
    tree = ast.parse(source)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert "MemoryUnitOfWork" not in names
    assert "SqlUnitOfWork" not in strings
    assert "isinstance(uow" not in source
    assert "crm_procedures.adapters" not in source


def test_a_hosts_own_report_queries_are_used(campaign: Campaign) -> None:
    c = campaign
    c.ctx.store = _Wrapped(c.store, _OwnReports)
    _OwnReports.asked = 0
    result = funnel(c.ctx, "pia", c.project.id)
    assert _OwnReports.asked == 1
    assert result.total == 2


def test_a_store_without_reports_gets_a_named_error(campaign: Campaign) -> None:
    c = campaign
    c.ctx.store = _Wrapped(c.store, _NoReports)
    with pytest.raises(CapabilityMissing, match=r"offers no 'reports'.*ReportQueries") as info:
        funnel(c.ctx, "pia", c.project.id)
    assert info.value.capability == "reports"
    assert info.value.store == "_NoReports"
    with pytest.raises(CapabilityMissing):
        negotiation_timeline(c.ctx, "pia", "acme")


def test_enrolment_falls_back_to_the_prospect_port_without_reports(campaign: Campaign) -> None:
    c = campaign
    with c.store.unit_of_work() as uow:
        uow.relations.add(Relation(id="dune", name="Dune B.V."))
        uow.commit()
    c.ctx.store = _Wrapped(c.store, _NoReports)
    prospect = enroll(c.ctx, "pia", c.project.id, "dune")
    assert prospect.status is ProspectStatus.RUNNING
    from crm_procedures.errors import InvalidInput

    with pytest.raises(InvalidInput, match="already enrolled"):
        enroll(c.ctx, "pia", c.project.id, "dune")
    with pytest.raises(InvalidInput, match="already enrolled"):
        enroll(c.ctx, "pia", c.project.id, "acme")
