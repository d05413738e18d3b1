"""`dixian rules backtest` over a demo month's local topic files."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from dixian.cli import app
from rules.catalogue import SHIPPED

runner = CliRunner()


def test_backtest_reports_per_rule_difference(tmp_path: Path) -> None:
    assert runner.invoke(app, ["--data-dir", str(tmp_path), "demo", "--households", "3000"]).exit_code == 0
    candidate = tmp_path / "candidate"
    shutil.copytree(SHIPPED, candidate)
    water = candidate / "water.yaml"
    text = water.read_text(encoding="utf-8")
    # pause WA-QUALITY in the candidate
    head, _, tail = text.partition("  - id: WA-QUALITY\n    version: 1\n    state: active")
    water.write_text(head + "  - id: WA-QUALITY\n    version: 1\n    state: paused" + tail, encoding="utf-8")
    result = runner.invoke(
        app,
        ["rules", "backtest", str(candidate), "--local", str(tmp_path / "demo" / "local")],
        terminal_width=250,
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "WA-QUALITY" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    active, cand, delta, change = int(cells[2]), int(cells[3]), cells[4], cells[5]
    assert active > 0
    assert cand == 0
    assert delta == f"-{active}"
    assert change == "active→paused"
