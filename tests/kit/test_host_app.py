"""The sample host project in ``examples/host_app`` passes its own test suite, which
uses only the testing kit and the pytest plugin registered by the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HOST_APP = Path(__file__).resolve().parents[2] / "examples" / "host_app"


def run_pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A separate pytest session in ``directory`` (its own rootdir and configuration)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_PLUGINS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_sample_host_project_passes_its_own_tests() -> None:
    assert (HOST_APP / "pyproject.toml").is_file()
    result = run_pytest(HOST_APP)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 passed" in result.stdout
    assert not (HOST_APP / ".pytest_cache").exists()


def test_the_plugin_fixtures_need_no_conftest_and_failures_show_what_was_sent(
    tmp_path: Path,
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_host.py").write_text(
        "from crm_procedures.testing import assert_no_messages, assert_sent\n"
        "\n"
        "def test_nothing_sent(crm_app, crm_outbox, crm_clock, crm_store):\n"
        "    assert crm_app.store is crm_store and crm_app.clock is crm_clock\n"
        "    assert_no_messages(crm_app)\n"
        "    assert crm_outbox.dispatch() == 0\n"
        "\n"
        "def test_expects_a_mail_that_was_not_sent(crm_app):\n"
        "    assert_sent(crm_app, to='nobody@example.com')\n",
        encoding="utf-8",
    )
    result = run_pytest(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    assert "expected an e-mail with to='nobody@example.com'; no e-mail at all was sent" in (
        result.stdout
    )
