"""The pytest plugin of the testing kit (registered through the ``pytest11`` entry point).

Installing crm_procedures makes these fixtures available in every test suite:

* ``crm_clock``: a :class:`~crm_procedures.testing.clock.FrozenClock` at
  Monday 2026-01-05 09:00 UTC; move it with ``advance(hours=2)``.
* ``crm_app``: a :class:`~crm_procedures.services.app.CrmApp` on the
  configured store (see below) with the memory mailer, calendar and blob
  store (see :func:`~crm_procedures.testing.app.make_app`), using
  ``crm_clock``, ``crm_definitions``, ``crm_settings`` and ``crm_app_options``.
* ``crm_app_factory``: makes more such apps in one test
  (``crm_app_factory(definitions=..., clock=..., store=..., **options)``);
  every app it made is closed after the test.
* ``crm_definitions``: the definitions ``crm_app`` runs: the file of the ini
  option ``crm_definitions``, else ``None`` (the standard procedure); a test
  suite may override the fixture.
* ``crm_store_url``: which store the apps run on: ``--crm-store`` on the
  command line, else the ini option ``crm_store_url``, else ``memory``.
  ``memory``, ``sqlite`` (a new SQLite file per app) or a store URL.
* ``crm_settings``: the app's settings (``language``, ``sender_email``,
  ``sender_name``): the ini option ``crm_settings`` (``NAME=VALUE`` lines).
* ``crm_app_options``: any other keyword arguments of the app, such as step
  kinds (the ini option ``crm_step_kinds`` names them as ``module:attribute``
  lines); empty unless configured or overridden.
* ``crm_store``: the app's store.
* ``crm_contract_store``: for the shipped contract suites
  (:mod:`crm_procedures.testing.contracts`): a host defines it to return a
  callable that makes an empty store of its own adapter.
* ``crm_contract_inbox``: for the Inbox contract suite
  (:mod:`crm_procedures.testing.contracts.inbox`): a host defines it to
  return a callable that takes raw messages and returns ``(inbox, append)``.
* ``crm_outbox``: an :class:`OutboxView` of the app: the e-mails and
  invitations recorded, and ``dispatch()`` to deliver them to the memory
  mailer and calendar.

Before each test the builders' id counters start again at 1, so ids in
failure messages are the same on every run.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from crm_procedures.testing.clock import FrozenClock

# The shipped contract suites assert like test modules: rewrite them before a host imports them.
pytest.register_assert_rewrite("crm_procedures.testing.contracts")

if TYPE_CHECKING:
    from crm_procedures.ports import Store
    from crm_procedures.services.app import CrmApp
    from crm_procedures.testing.assertions import Invitation, SentMessage

__all__ = [
    "AppFactory",
    "OutboxView",
    "crm_app",
    "crm_app_factory",
    "crm_app_options",
    "crm_clock",
    "crm_contract_inbox",
    "crm_contract_store",
    "crm_definitions",
    "crm_outbox",
    "crm_settings",
    "crm_store",
    "crm_store_url",
]

_STORE_HELP = (
    "store of the crm_app fixture: memory, sqlite (a new SQLite file per app) or a store "
    "URL such as sqlite:///crm.db or postgresql://...; overrides the ini option crm_store_url"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The kit's command-line switch and ini options."""
    group = parser.getgroup("crm_procedures", "crm_procedures testing kit")
    group.addoption("--crm-store", dest="crm_store", metavar="STORE", help=_STORE_HELP)
    parser.addini("crm_store_url", "store of crm_app (see --crm-store)", default="memory")
    parser.addini(
        "crm_settings",
        "settings of crm_app, NAME=VALUE per line (language, sender_email, sender_name)",
        type="linelist",
        default=[],
    )
    parser.addini("crm_definitions", "definitions file (TOML or JSON) crm_app runs", default="")
    parser.addini(
        "crm_step_kinds",
        "the app's step kinds, one module:attribute per line (passed as step_kinds=)",
        type="linelist",
        default=[],
    )


class AppFactory(Protocol):
    """The ``crm_app_factory`` fixture: makes a configured app; each is closed after the test."""

    def __call__(
        self,
        definitions: Any = None,
        clock: FrozenClock | None = None,
        store: str | None = None,
        **options: Any,
    ) -> CrmApp:
        """An app on ``store`` (the configured one when ``None``) with ``crm_settings`` and
        ``crm_app_options`` overlaid by ``options``."""
        ...


class OutboxView:
    """The messages of one app, for the ``crm_outbox`` fixture.

    ``messages`` and ``invitations`` list what was recorded or delivered;
    ``dispatch()`` runs one round of the outbox dispatcher with the app's
    memory mailer and calendar and returns how many messages it delivered.
    """

    def __init__(self, app: CrmApp) -> None:
        self.app = app

    @property
    def messages(self) -> list[SentMessage]:
        """Every e-mail sent (see :func:`~crm_procedures.testing.assertions.sent_messages`)."""
        from crm_procedures.testing.assertions import sent_messages

        return sent_messages(self.app)

    @property
    def invitations(self) -> list[Invitation]:
        """Every invitation sent (see :func:`~crm_procedures.testing.assertions.invitations`)."""
        from crm_procedures.testing.assertions import invitations

        return invitations(self.app)

    def dispatch(self) -> int:
        """Deliver the due messages to the app's memory mailer and calendar; returns how many."""
        from crm_procedures.services.outbox import dispatch_once

        report = dispatch_once(
            self.app.store, self.app.clock, self.app.mailer, self.app.calendar, limit=10_000
        )
        return report.delivered

    def __len__(self) -> int:
        return len(self.messages)


@pytest.fixture(autouse=True)
def _crm_reset_builder_ids() -> None:
    from crm_procedures.testing.builders import reset_ids

    reset_ids()


@pytest.fixture
def crm_clock() -> FrozenClock:
    """A frozen clock at Monday 2026-01-05 09:00 UTC; advance it with ``advance()``."""
    return FrozenClock()


@pytest.fixture
def crm_definitions(pytestconfig: pytest.Config) -> Any:
    """The definitions of ``crm_app``: ``None`` means the standard procedure.

    The ini option ``crm_definitions`` names a file (relative to the ini
    file's folder); or override this fixture in a ``conftest.py``.
    """
    name = str(pytestconfig.getini("crm_definitions") or "")
    if not name:
        return None
    from crm_procedures.procedures.definitions import load_definitions

    base = pytestconfig.inipath.parent if pytestconfig.inipath else pytestconfig.rootpath
    return load_definitions(base / name)


@pytest.fixture
def crm_store_url(pytestconfig: pytest.Config) -> str:
    """The store the kit's apps run on: ``--crm-store``, else ini ``crm_store_url``, else memory."""
    chosen = pytestconfig.getoption("crm_store", None) or pytestconfig.getini("crm_store_url")
    url = str(chosen or "memory").strip()
    from crm_procedures.testing.app import STORE_CHOICES

    if url not in STORE_CHOICES and "://" not in url:
        raise pytest.UsageError(
            f"--crm-store / crm_store_url: {url!r} is not memory, sqlite or a store URL "
            "(such as sqlite:///crm.db)"
        )
    return url


@pytest.fixture
def crm_settings(pytestconfig: pytest.Config) -> dict[str, str]:
    """The settings of ``crm_app``: the ini option ``crm_settings`` (``NAME=VALUE`` lines)."""
    settings: dict[str, str] = {}
    for line in pytestconfig.getini("crm_settings"):
        name, sep, value = str(line).partition("=")
        if not sep or not name.strip():
            raise pytest.UsageError(f"crm_settings: {line!r} is not NAME=VALUE")
        settings[name.strip()] = value.strip()
    return settings


def _load_object(spec: str) -> Any:
    module, sep, attribute = spec.partition(":")
    if not sep or not module or not attribute:
        raise pytest.UsageError(f"crm_step_kinds: {spec!r} is not module:attribute")
    try:
        found = importlib.import_module(module)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise pytest.UsageError(f"crm_step_kinds: cannot load {spec!r}: {exc}") from None
    return found


@pytest.fixture
def crm_app_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    """More keyword arguments of the app (``step_kinds`` from the ini option
    ``crm_step_kinds``); override the fixture to pass others."""
    kinds = [_load_object(str(line)) for line in pytestconfig.getini("crm_step_kinds")]
    return {"step_kinds": kinds} if kinds else {}


@pytest.fixture
def crm_app_factory(
    crm_clock: FrozenClock,
    crm_definitions: Any,
    crm_store_url: str,
    crm_settings: dict[str, str],
    crm_app_options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AppFactory]:
    """Makes apps like ``crm_app`` (same clock, definitions, store, settings unless given)."""
    from crm_procedures.testing.app import make_app

    made: list[CrmApp] = []

    def factory(
        definitions: Any = None,
        clock: FrozenClock | None = None,
        store: str | None = None,
        **options: Any,
    ) -> CrmApp:
        url = crm_store_url if store is None else store
        directory: Path | None = None
        if url == "sqlite":
            directory = tmp_path_factory.mktemp("crm-store")
        app = make_app(
            url,
            crm_definitions if definitions is None else definitions,
            crm_clock if clock is None else clock,
            directory=directory,
            **{**crm_settings, **crm_app_options, **options},
        )
        made.append(app)
        return app

    yield factory
    for app in made:
        app.close()


@pytest.fixture
def crm_app(crm_app_factory: AppFactory) -> CrmApp:
    """A CrmApp on the configured store with ``crm_clock``; closed after the test."""
    return crm_app_factory()


@pytest.fixture
def crm_contract_store() -> Any:
    """Define this fixture to run the shipped contract suites on your own store.

    Return a callable that makes an empty store; see
    :mod:`crm_procedures.testing.contracts`.
    """
    pytest.fail(
        "the store contract suites need a crm_contract_store fixture: define one in your "
        "conftest.py that returns a callable making an empty store of your adapter, "
        "e.g. `return lambda: MyStore(tmp_path / 'crm.db')`",
        pytrace=False,
    )


@pytest.fixture
def crm_contract_inbox() -> Any:
    """Define this fixture to run the Inbox contract suite on your own inbox adapter.

    Return a callable that takes a list of raw messages and returns
    ``(inbox, append)``; see :mod:`crm_procedures.testing.contracts.inbox`.
    """
    pytest.fail(
        "the Inbox contract suite needs a crm_contract_inbox fixture: define one in your "
        "conftest.py that returns a callable taking a list of raw messages (bytes, oldest "
        "first) and returning (inbox, append), where inbox holds exactly those messages and "
        "append(raw) delivers one more",
        pytrace=False,
    )


@pytest.fixture
def crm_store(crm_app: CrmApp) -> Store:
    """The store of ``crm_app`` (the configured one: memory unless ``--crm-store`` says)."""
    return crm_app.store


@pytest.fixture
def crm_outbox(crm_app: CrmApp) -> OutboxView:
    """The messages ``crm_app`` recorded, and ``dispatch()`` to deliver them."""
    return OutboxView(crm_app)
