"""The agriculture bureau's feed (农业农村: registered households' industry projects and farm losses)
and the rules for the official risk type 因产业项目失败: the simulator writes the feed in the
bureau's own headers, ingest reads it, and the pipeline raises its clues."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from connectors.ingest import ingest_files
from connectors.mapping import load_mapping
from connectors.readers import open_source
from connectors.sinks import LocalSink
from dixian.cli import app
from dixian.config import Settings
from dixian.contract import Dept
from dixian.simulate import simulate
from dixian.topics import Topics
from streams.embedded import run_embedded


def test_rules_check_lists_the_rules_for_failed_industry_projects() -> None:
    result = CliRunner().invoke(app, ["rules", "check"], terminal_width=240)
    assert result.exit_code == 0, result.output
    flat = re.sub(r"[│\s]", "", result.output)  # the table's cells, however the terminal wrapped them
    line = flat[flat.index("因产业项目失败") : flat.index("因务工就业不稳")]
    for rule in ("AG-PROJECT-FAILED", "AG-PROJECT-LOSS", "AG-PRODUCE-UNSOLD", "AG-FARM-LOSS"):
        assert rule in line
    assert "无规则" not in result.output  # every official risk type has a rule


def test_the_simulated_agriculture_feed_raises_industry_clues(tmp_path: Path) -> None:
    manifest = simulate(tmp_path / "sim", households=6000, month="2022-06", seed=5, malformed=0.02)
    feed = next(f for f in manifest["feeds"] if f["dept"] == "agriculture")
    path = tmp_path / "sim" / feed["file"]
    src = open_source(path)
    mapping = load_mapping("agriculture")
    assert all(mapping.field_of(h) for h in src.headers), src.headers  # the bureau's own headers
    assert "项目状态" in src.headers
    assert "损失原因" in src.headers
    settings = Settings(data_dir=tmp_path / "data", partitions=4)
    files = [("roster", tmp_path / "sim" / "roster.csv"), ("agriculture", path)]
    summaries = asyncio.run(ingest_files(settings, LocalSink(settings.local_dir), files, month="2022-06"))
    ag = summaries[-1]
    assert ag.reconciles
    assert (ag.accepted, ag.duplicates) == (feed["valid_unique"], feed["duplicates"])
    assert set(ag.by_type) == {"industry.project", "agriculture.loss"}
    result = run_embedded(settings.local_dir, Topics(settings))
    rules = Counter(a.rule_id for a in result.alerts.values() if a.department == Dept.AGRICULTURE)
    assert {"AG-PROJECT-FAILED", "AG-PROJECT-LOSS", "AG-FARM-LOSS", "AG-FARM-DISASTER"} <= set(rules), rules
    labels = {a.risk_label for a in result.alerts.values() if a.rule_id.startswith("AG-")}
    assert "因产业项目失败" in labels
    assert any(label.startswith("因自然灾害(") for label in labels)  # the disaster's subtype named
