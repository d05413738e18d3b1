"""The same alerts in any arrival order: a simulated month's records interleaved across topics at
random (each topic's own order kept, as a partition keeps it), the roster anywhere among them, through
the one driver as a worker runs it — against the embedded runner's roster-first order."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.ingest import Ingester
from connectors.sinks import LocalSink
from dixian.config import Settings
from dixian.contract.alerts import Alert
from dixian.contract.deadlines import Deadlines
from dixian.simulate import simulate
from dixian.topics import Topics
from rules.live import LiveCatalogue
from streams.core import HouseholdState
from streams.driver import Driver, InputRecord
from streams.embedded import local_records, run_embedded

pytestmark = pytest.mark.slow


def _ingested(root: Path, *, households: int, seed: int, rows: int) -> tuple[Path, Topics]:
    """A simulated month (no malformed rows) ingested into local topics under ``root``."""
    manifest = simulate(
        root / "sim", households=households, month="2022-06", seed=seed, malformed=0.0, rows=rows
    )
    settings = Settings(data_dir=root / "data")

    async def ingest() -> None:
        sink = LocalSink(settings.local_dir)
        await sink.start()
        ingester = Ingester(settings, sink)
        try:
            await ingester.ingest_file("roster", root / "sim" / "roster.csv", month="2022-06")
            for feed in manifest["feeds"]:  # type: ignore[attr-defined]
                await ingester.ingest_file(feed["dept"], root / "sim" / feed["file"], month="2022-06")
        finally:
            ingester.close()
            await sink.stop()

    asyncio.run(ingest())
    return settings.local_dir, Topics(settings)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Topics]:
    return _ingested(tmp_path_factory.mktemp("order"), households=2500, seed=11, rows=400)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveCatalogue]:
    lc = LiveCatalogue()
    yield lc
    lc.close()


def _summary(docs: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {
        k: (d["rule_id"], d["window_start"], d["revision"], d["hits"], d["visit_by"], d["decide_by"])
        for k, d in docs.items()
    }


def _interleaved(records: list[InputRecord], rng: random.Random) -> list[InputRecord]:
    """Every topic's records in their own order, the topics shuffled into each other."""
    queues: dict[str, list[InputRecord]] = {}
    for r in records:
        queues.setdefault(r.topic, []).append(r)
    for q in queues.values():
        q.reverse()
    out = []
    while queues:
        topic = rng.choice(sorted(queues))
        out.append(queues[topic].pop())
        if not queues[topic]:
            del queues[topic]
    return out


def _run_as_a_worker(records: list[InputRecord], topics: Topics, live: LiveCatalogue) -> dict[str, Any]:
    """One partition: the roster is "being read" until its last record has been processed."""
    driver = Driver(topics, live, Deadlines(), partitions=1)
    roster_left = sum(1 for r in records if r.topic == topics.households)
    states: dict[bytes, HouseholdState] = {}
    latest: dict[str, dict[str, Any]] = {}

    def keep(docs: list[dict[str, Any]]) -> None:
        for d in docs:
            if d["alert_id"] not in latest or latest[d["alert_id"]]["revision"] < d["revision"]:
                latest[d["alert_id"]] = d

    for i in range(0, len(records), 97):  # batches, as take_events hands them out
        chunk = records[i : i + 97]
        ready = roster_left == 0
        effects = driver.process(
            [InputRecord(r.topic, r.key, r.value, 0) for r in chunk], states.get, lambda _, r=ready: r
        )
        states.update(effects.states)
        keep(effects.alerts)
        roster_left -= sum(1 for r in chunk if r.topic == topics.households)
        if roster_left == 0:
            released = driver.release([k for k, s in states.items() if s.held], states.get)
            states.update(released.states)
            keep(released.alerts)
    assert not any(s.held for s in states.values())
    return latest


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_interleaving_gives_the_roster_first_alerts(
    month: tuple[Path, Topics], live: LiveCatalogue, seed: int
) -> None:
    local, topics = month
    expected = run_embedded(local, topics, live)
    want = _summary({k: a.model_dump(mode="json") for k, a in expected.alerts.items()})
    assert len(want) > 200
    rng = random.Random(seed)
    records = list(local_records(local, topics))
    roster = [r for r in records if r.topic == topics.households]
    feeds = [r for r in records if r.topic != topics.households]
    # seed 1: the roster after every department record, as in the backlog of a fresh deployment
    order = _interleaved(feeds, rng) + roster if seed == 1 else _interleaved(records, rng)
    got = _summary(_run_as_a_worker(order, topics, live))
    assert got == want
    for d in _run_as_a_worker(order, topics, live).values():
        Alert.model_validate(d)  # every document the core builds is a valid alert


@pytest.fixture(scope="module")
def dense_month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Topics]:
    """Few households and many events each: several settlements per household, out of date order in
    every file (rows are dated at random within the month, some months earlier)."""
    return _ingested(tmp_path_factory.mktemp("dense"), households=300, seed=5, rows=900)


@pytest.mark.parametrize("seed", [1, 2])
def test_any_order_of_one_departments_records_gives_the_same_alerts(
    dense_month: tuple[Path, Topics], live: LiveCatalogue, seed: int
) -> None:
    """A settlement dated before others of its household that were judged already judges them again:
    whether a 12-month out-of-pocket total crossed a threshold does not depend on which came first."""
    local, topics = dense_month
    expected = run_embedded(local, topics, live)
    want = _summary({k: a.model_dump(mode="json") for k, a in expected.alerts.items()})
    assert sum(1 for v in want.values() if v[0] in {"MI-OOP-OTHER", "HH-MEDICAL-SHARE"}) > 20
    rng = random.Random(seed)
    records = list(local_records(local, topics))
    roster = [r for r in records if r.topic == topics.households]
    feeds = [r for r in records if r.topic != topics.households]
    rng.shuffle(feeds)  # every department's records in another order, dates included
    got = _summary(_run_as_a_worker(roster + feeds, topics, live))
    assert got == want
