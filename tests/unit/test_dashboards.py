"""The operators' dashboards and alerting rules in deploy/ parse, and every metric they query is one
the workers or the queue actually export (a renamed metric fails here, not on a wall screen)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from connectors.metrics import FeedCollector
from streams.metrics import PipelineMetrics
from tests.helpers import require_tool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
QUEUE_METRICS = {  # screening.metrics: gauges computed from the store, counters of the web server
    "dixian_screening_clues",
    "dixian_screening_overdue",
    "dixian_screening_steps_unpublished",
    "dixian_screening_steps_total",
    "dixian_screening_refusals_total",
    "dixian_screening_steps_published_total",
}


def _exported() -> set[str]:
    registry = CollectorRegistry()
    PipelineMetrics(registry)
    registry.register(FeedCollector(Path("/nonexistent/quality.sqlite")))  # the push server's feed metrics
    names = set(QUEUE_METRICS) | {"up"}
    for family in registry.collect():
        names.add(family.name)
        names |= {s.name for s in family.samples}
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "info":
            names.add(family.name + "_info")
        if family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
    return names


def _metrics_in(expr: str) -> set[str]:
    return set(re.findall(r"\b(dixian_[a-z_]+|up)\b", expr))


def test_every_dashboard_query_names_an_exported_metric() -> None:
    exported = _exported()
    dashboards = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert [p.stem for p in dashboards] == ["dixian-ingest", "dixian-pipeline", "dixian-screening"]
    for path in dashboards:
        board: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        assert board["uid"]
        assert board["panels"]
        for panel in board["panels"]:
            for target in panel["targets"]:
                unknown = _metrics_in(target["expr"]) - exported
                assert not unknown, (path.name, panel["title"], unknown)


def test_every_alert_rule_names_an_exported_metric_and_says_what_to_do() -> None:
    exported = _exported()
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert len(alerts) >= 8
    for rule in alerts:
        assert not (_metrics_in(rule["expr"]) - exported), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert re.search(r"[\u4e00-\u9fff]", rule["annotations"]["description"])  # operators read Chinese
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]


def test_promtool_accepts_the_rules_and_the_configuration() -> None:
    promtool = require_tool("promtool", "install Debian's prometheus (deploy/system-deps.sh does)")
    for args in (
        ["check", "rules", "alerts.yml"],
        ["check", "config", "prometheus.yml"],
        ["test", "rules", "alerts_test.yml"],  # each rule fires on its series, with its annotations
    ):
        done = subprocess.run(
            [promtool, *args],
            cwd=DEPLOY / "prometheus",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_rule_has_a_unit_test() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    tests = yaml.safe_load((DEPLOY / "prometheus" / "alerts_test.yml").read_text(encoding="utf-8"))
    named = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tested = {a["alertname"] for t in tests["tests"] for a in t["alert_rule_test"] if a["exp_alerts"]}
    assert named == tested
