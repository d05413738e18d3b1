"""`dixian rules publish` → running workers switch catalogue between events, without a restart;
an invalid catalogue on the control topic is ignored and reported."""

from __future__ import annotations

import asyncio
import copy
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
import yaml

from connectors.sinks import KafkaSink
from dixian.cli import catalogue as rules_cli
from dixian.config import Settings
from dixian.contract import Dept
from dixian.topics import Topics
from rules.catalogue import SHIPPED, load_catalogue
from streams.kafka_run import input_topics, kafka_alerts, start_worker, wait_caught_up
from tests.integration.month import free_port

pytestmark = pytest.mark.integration


def _metric(port: int, name: str) -> str:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return "\n".join(line for line in text.splitlines() if line.startswith(name))


def _water(hid: str, n: int, days: int) -> tuple[bytes, bytes]:
    return hid.encode(), orjson.dumps(
        {
            "event_id": f"hot-{n:06d}",
            "event_type": "water.assessed",
            "dept": "water",
            "household_id": hid,
            "village_code": hid[:12],
            "occurred_at": "2022-06-01",
            "reported_at": "2022-06-30 10:00:00",
            "litres_per_person_day": 80,
            "days_lost_per_year": days,
        }
    )


async def _send(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    sink = KafkaSink(settings.kafka_bootstrap)
    await sink.start()
    await sink.send(topic, records)
    await sink.flush()
    await sink.stop()


def test_published_catalogue_switches_running_worker_and_invalid_one_is_ignored(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    worker = start_worker(settings, "hot", tmp_path / "logs", port)
    try:
        worker.wait_ready()
        topics = Topics(settings)
        shipped = load_catalogue().version
        assert f'version="{shipped}"' in _metric(port, "dixian_catalogue_info")

        asyncio.run(_send(settings, topics.dept(Dept.WATER), [_water("4503211012010001", 1, 40)]))
        wait_caught_up(settings, input_topics(settings))
        assert {a.rule_id for a in kafka_alerts(settings).latest.values()} == {"WA-RELIABILITY"}

        # publish a catalogue with WA-RELIABILITY paused, written as rule files like an operator would
        directory = tmp_path / "candidate"
        directory.mkdir()
        for src in SHIPPED.glob("*.yaml"):
            text = src.read_text(encoding="utf-8")
            if src.name == "water.yaml":
                data = yaml.safe_load(text)
                rule = next(r for r in data["rules"] if r["id"] == "WA-RELIABILITY")
                rule["state"] = "paused"
                text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
            (directory / src.name).write_text(text, encoding="utf-8")
        assert rules_cli.publish(settings, directory, rules_cli.stdout) == 0
        candidate = load_catalogue(directory).version
        deadline = time.monotonic() + 30
        while f'version="{candidate}"' not in _metric(port, "dixian_catalogue_info"):
            assert time.monotonic() < deadline, "worker did not switch to the published catalogue"
            time.sleep(0.3)

        asyncio.run(_send(settings, topics.dept(Dept.WATER), [_water("4503211012010002", 2, 40)]))
        wait_caught_up(settings, input_topics(settings))
        assert {a.household_id for a in kafka_alerts(settings).latest.values()} == {"4503211012010001"}

        # an invalid catalogue on the control topic: refused, the worker keeps the version in force
        bad = copy.deepcopy(load_catalogue().as_data())
        bad["version"] = "not-the-content-hash"
        asyncio.run(_send(settings, topics.rules_control, [(b"catalogue", orjson.dumps(bad))]))
        deadline = time.monotonic() + 30
        while "dixian_catalogue_rejected_total 1.0" not in _metric(port, "dixian_catalogue_rejected_total"):
            assert time.monotonic() < deadline, "worker did not report the refused catalogue"
            time.sleep(0.3)
        assert f'version="{candidate}"' in _metric(port, "dixian_catalogue_info")
        assert "refused, keeping" in worker.log_text()
    finally:
        worker.stop()
