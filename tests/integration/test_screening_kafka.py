"""The alert store's Kafka sink and outbox against the real broker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.kafka import read_topic
from connectors.sinks import KafkaSink, read_local
from dixian.config import Settings
from dixian.contract.alerts import Alert, Conclusion
from dixian.contract.vocabulary import Role
from dixian.topics import Topics
from screening.auth import Actor
from screening.sink import publish_pending, run_kafka_sink, sync_local
from screening.store import open_store
from screening.workflow import Request
from tests.integration.month import Month
from tests.screening_helpers import VILLAGE_A, alert, china, household

pytestmark = [pytest.mark.integration]


async def _produce(settings: Settings, alerts: list[Alert]) -> None:
    sink = KafkaSink(settings.kafka_bootstrap)
    await sink.start()
    try:
        t = Topics(settings)
        for i in range(0, len(alerts), 2000):
            chunk = alerts[i : i + 2000]
            await sink.send(
                t.alerts, [(a.village_code.encode(), a.model_dump_json().encode()) for a in chunk]
            )
        await sink.send(t.households, [(b"x", b"not json"), (b"y", b'{"household_id": "??"}')])
        await sink.flush()
    finally:
        await sink.stop()


def _sink_process(settings: Settings, db_url: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DIXIAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "DIXIAN_TOPIC_PREFIX": settings.topic_prefix,
        "DIXIAN_PARTITIONS": str(settings.partitions),
        "DIXIAN_WORKER_ID": settings.worker_id,
        "DIXIAN_SCREENING_DB": db_url,
        "DIXIAN_SESSION_TIMEOUT_S": "10",
    }
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "dixian", "screening", "sink", *extra],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )


def test_killing_the_sink_mid_stream_leaves_exactly_one_row_per_alert(
    settings: Settings, tmp_path: Path
) -> None:
    # 12,000 clues in 6 villages, a third of them updated twice more (revisions 2 and 3, sent late)
    villages = [f"45032110120{v}" for v in range(1, 7)]
    first = [alert(n, village=villages[n % 6], rule=f"R{n % 7}") for n in range(12_000)]
    updates = [
        alert(n, village=villages[n % 6], rule=f"R{n % 7}", revision=r, hits=r)
        for r in (2, 3)
        for n in range(0, 12_000, 3)
    ]
    asyncio.run(_produce(settings, first + updates))
    db_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = open_store(db_url)
    proc = _sink_process(settings, db_url, tmp_path / "sink.log")
    deadline = time.monotonic() + 120
    while store.db.one("SELECT COUNT(*) AS n FROM clues")["n"] < 2000:  # type: ignore[index]
        assert proc.poll() is None, (tmp_path / "sink.log").read_text()
        assert time.monotonic() < deadline, "the sink wrote nothing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = store.db.one("SELECT COUNT(*) AS n FROM clues")["n"]  # type: ignore[index]
    assert 2000 <= written < 12_000, f"killed too late to be mid-stream ({written} rows)"
    restarted = _sink_process(settings, db_url, tmp_path / "sink.log", "--until-caught-up")
    assert restarted.wait(timeout=240) == 0, (tmp_path / "sink.log").read_text()
    rows = store.db.query("SELECT clue_id, revision, hits FROM clues")
    expected = {a.alert_id: a.revision for a in first} | {a.alert_id: 3 for a in updates}
    assert len(rows) == len(expected) == 12_000
    assert {r["clue_id"]: r["revision"] for r in rows} == expected
    assert all(r["hits"] == r["revision"] for r in rows)
    assert store.db.one("SELECT COUNT(*) AS n FROM clues WHERE state <> 'new'")["n"] == 0  # type: ignore[index]
    # the two unreadable roster records became dead letters, with reasons
    letters = asyncio.run(read_topic(settings.kafka_bootstrap, Topics(settings).dead_letter))
    assert len(letters) >= 2
    assert all(b"roster" in (v or b"") for _, v in letters)


def test_steps_reach_the_conclusions_topic_once_each(settings: Settings, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    asyncio.run(_run_sink_once(settings, store))
    officer = Actor("cun-a", "", Role.VILLAGE, VILLAGE_A)
    cid = alert(1).alert_id
    store.clues.act(officer, cid, Request("visit", note="见到户主"))
    store.clues.act(officer, cid, Request("conclude", proposal="already_monitored", note="新增因病风险"))

    async def publish() -> int:
        sink = KafkaSink(settings.kafka_bootstrap)
        await sink.start()
        try:
            n = await publish_pending(store, sink, Topics(settings))
            return n + await publish_pending(store, sink, Topics(settings))  # nothing left the second time
        finally:
            await sink.stop()

    assert asyncio.run(publish()) == 2
    records = asyncio.run(read_topic(settings.kafka_bootstrap, Topics(settings).conclusions))
    got = [Conclusion.model_validate_json(v or b"") for _, v in records]
    assert [c.conclusion_id for c in got] == [f"{cid}#1", f"{cid}#2"]
    assert {k for k, _ in records} == {alert(1).household_id.encode()}  # keyed like the household table


async def _run_sink_once(settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    sink = KafkaSink(settings.kafka_bootstrap)
    await sink.start()
    t = Topics(settings)
    await sink.send(t.alerts, [(VILLAGE_A.encode(), alert(1).model_dump_json().encode())])
    await sink.send(t.households, [(b"h", household(1).model_dump_json().encode())])
    await sink.flush()
    await sink.stop()
    stats = await run_kafka_sink(settings, store, until_caught_up=True)
    assert (stats.inserted, stats.households) == (1, 1)


def test_the_sink_applies_the_roster_before_the_alerts(
    settings: Settings, month: Month, tmp_path: Path
) -> None:
    """A month's alerts and its roster (3,000 households, more than one fetch) are on the topics when
    the sink starts: whatever it fetches first, each clue records whether its household was a
    monitoring object as the roster says, as a store loaded roster first does."""
    topics = Topics(settings)
    local = [
        (t, list(read_local(month.local_dir / f"{t}.jsonl")))
        for t in (month.topics.alerts, month.topics.households)
    ]

    async def publish() -> None:
        sink = KafkaSink(settings.kafka)
        await sink.start()
        try:
            for name, records in local:
                await sink.send(topics.alerts if name == month.topics.alerts else topics.households, records)
            await sink.flush()
        finally:
            await sink.stop()

    asyncio.run(publish())
    store = open_store(f"sqlite:///{tmp_path / 'kafka.sqlite'}", lambda: china(2022, 7, 1))
    reference = open_store(f"sqlite:///{tmp_path / 'roster-first.sqlite'}", lambda: china(2022, 7, 1))
    try:
        asyncio.run(run_kafka_sink(settings, store, until_caught_up=True))
        sync_local(reference, month.local_dir, month.topics)  # households, then alerts
        query = "SELECT clue_id, household_id, monitored_risk, items FROM clues ORDER BY clue_id"
        want = reference.db.query(query)
        assert sum(r["monitored_risk"] for r in want) > 0  # monitored households are part of the month
        assert store.db.query(query) == want
    finally:
        store.db.close()
        reference.db.close()
