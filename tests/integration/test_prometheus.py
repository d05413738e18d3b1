"""A real Prometheus (Debian's) scrapes a real worker, the queue's web server and the push server's
feed metrics, with the project's alerting rules loaded; every query of every dashboard returns data."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from connectors.ingest import ingest_files
from connectors.sinks import KafkaSink
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.partitioning import partition_of
from dixian.topics import Topics
from screening.sink import run_kafka_sink
from screening.store import open_store
from streams.kafka_run import input_topics, wait_caught_up
from tests.helpers import require_tool
from tests.integration.month import Month, free_port
from tests.screening_helpers import serve_queue

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PASSWORD = "prom-test-pass-1"


def _queries() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        board: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        out += [(path.stem, p["title"], t["expr"]) for p in board["panels"] for t in p["targets"]]
    return out


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


async def _odd_records(settings: Settings, month: Month) -> None:
    """What the month lacks for some panels: a record the worker refuses (dead letter), an event on a
    partition its household does not hash to (forwarded) and the same event twice (redelivered)."""
    topics = Topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        water = topics.dept(Dept.WATER)
        await producer.send_and_wait(water, b"{not json", key=b"4503211012010001")
        with (month.local_dir / f"{month.topics.dept(Dept.HRSS)}.jsonl").open("rb") as fh:
            rec = orjson.loads(fh.readline())
        key, value = rec["key"].encode(), orjson.dumps(rec["value"])
        wrong = (partition_of(key, settings.partitions) + 1) % settings.partitions
        hrss = topics.dept(Dept.HRSS)
        await producer.send_and_wait(hrss, value, key=key, partition=wrong)
        await producer.send_and_wait(hrss, value, key=key)
    finally:
        await producer.stop()


def test_every_dashboard_query_returns_data_from_a_real_prometheus(
    settings: Settings,
    workers,  # type: ignore[no-untyped-def]
    month: Month,
    tmp_path: Path,
) -> None:
    prometheus = require_tool("prometheus", "install Debian's prometheus (deploy/system-deps.sh does)")
    worker = workers("a")
    asyncio.run(
        ingest_files(settings, KafkaSink(settings.kafka), month.roster + month.feeds, month="2022-06")
    )
    asyncio.run(_odd_records(settings, month))
    wait_caught_up(settings, input_topics(settings))

    # the queue: the alerts in a store, an account, a step and a refusal
    db = tmp_path / "queue.sqlite"
    store = open_store(f"sqlite:///{db}", settings.now)
    try:
        asyncio.run(run_kafka_sink(settings, store, until_caught_up=True))
        village = store.db.one("SELECT village_code FROM clues ORDER BY clue_id LIMIT 1")["village_code"]
        clue = store.db.one("SELECT clue_id FROM clues WHERE village_code = ? LIMIT 1", (village,))["clue_id"]
        store.accounts.add("cun", "village", village, PASSWORD)
    finally:
        store.db.close()
    queue_metrics, push_port, push_metrics, prom_port = free_port(), free_port(), free_port(), free_port()
    env = {
        "DIXIAN_SCREENING_DB": f"sqlite:///{db}",
        "DIXIAN_SCREENING_METRICS_PORT": str(queue_metrics),
        "DIXIAN_CLOCK_DATE": "2022-08-01",  # a month on: the clues are overdue
        "DIXIAN_DATA_DIR": str(settings.data_dir),
    }
    queue, base = serve_queue(["--local", str(tmp_path / "outbox")], env, tmp_path / "queue.log")
    push = subprocess.Popen(
        [sys.executable, "-m", "dixian", "push-server", "--port", str(push_port)],
        env={
            **os.environ,
            "DIXIAN_DATA_DIR": str(settings.data_dir),  # the ingest counters of the month above
            "DIXIAN_PUSH_METRICS_PORT": str(push_metrics),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    prom = None
    prom_log = (tmp_path / "prometheus.log").open("wb")
    try:
        token = _login(base)
        _post(f"{base}/api/v1/clues/{clue}/actions", {"action": "visit", "note": "见到户主"}, token)
        _post(
            f"{base}/api/v1/clues/{clue}/actions", {"action": "county_decide", "decision": "approve"}, token
        )

        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(DEPLOY / "prometheus" / "alerts.yml")],
            "scrape_configs": [
                {
                    "job_name": "dixian-worker",
                    "static_configs": [{"targets": [f"127.0.0.1:{worker.metrics_port}"]}],
                },
                {
                    "job_name": "dixian-screening",
                    "static_configs": [{"targets": [f"127.0.0.1:{queue_metrics}"]}],
                },
                {"job_name": "dixian-push", "static_configs": [{"targets": [f"127.0.0.1:{push_metrics}"]}]},
            ],
        }
        (tmp_path / "prometheus.yml").write_text(
            json.dumps(config), encoding="utf-8"
        )  # YAML is a JSON superset
        prom = subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=prom_log,
        )
        api = f"http://127.0.0.1:{prom_port}/api/v1"
        deadline = time.monotonic() + 90
        while True:  # every target up
            try:
                targets = _get(f"{api}/targets")["data"]["activeTargets"]
                if len(targets) == 3 and all(t["health"] == "up" for t in targets):
                    break
            except OSError:
                pass
            assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()
            assert time.monotonic() < deadline, f"targets not up: {targets}"
            time.sleep(0.5)
        empty: list[tuple[str, str, str]] = []
        deadline = time.monotonic() + 60
        while True:  # a rate needs two samples: ask again until every query has data
            empty = []
            for board, title, expr in _queries():
                got = _get(f"{api}/query?query={urllib.parse.quote(expr)}")
                assert got["status"] == "success", (board, title, expr, got)
                if not got["data"]["result"]:
                    empty.append((board, title, expr))
            if not empty or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert empty == []
        rules = _get(f"{api}/rules")["data"]["groups"]
        assert sum(len(g["rules"]) for g in rules) == 13
        assert all(r["health"] == "ok" for g in rules for r in g["rules"]), rules
    finally:
        for p in (prom, push, queue):
            if p is not None:
                p.terminate()
                p.wait(timeout=30)
        prom_log.close()


def _login(base: str) -> str:
    got = _post(f"{base}/api/v1/login", {"username": "cun", "password": PASSWORD}, None)
    return str(got["token"])


def _post(url: str, body: dict[str, Any], token: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:  # a refusal is part of the test (refusals by reason)
        return json.loads(exc.read())
