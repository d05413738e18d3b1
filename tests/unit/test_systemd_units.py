"""The service definitions in deploy/systemd: systemd's own checker accepts them, each is supervised
(notify, watchdog, restart on failure, a graceful stop), and each starts a command the CLI has."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dixian.cli import app

REPO = Path(__file__).resolve().parents[2]
UNITS = sorted((REPO / "deploy" / "systemd").glob("*.service"))


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set and systemd-analyze is missing (apt-get install systemd)")
        pytest.skip("no systemd-analyze on this machine")
    for unit in [*UNITS, REPO / "deploy" / "systemd" / "dixian.target"]:  # the repository as /opt/dixian
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/dixian", str(REPO)))
    done = subprocess.run(
        [analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_service_is_supervised_and_runs_a_real_command(unit: Path) -> None:
    service = _unit(unit)["Service"]
    assert service["Type"] == "notify"
    assert service["Restart"] == "on-failure"
    assert int(service["WatchdogSec"]) >= 30
    assert service["KillSignal"] == "SIGTERM"
    argv = shlex.split(service["ExecStart"].replace("%i", "1"))
    assert argv[0] == "/opt/dixian/.venv/bin/dixian"
    result = CliRunner().invoke(app, [*argv[1:], "--help"])
    assert result.exit_code == 0, result.output
