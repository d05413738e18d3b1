"""The embedded product path (``dixian run``) and the Kafka path (real broker, a real worker) over
the same two months with the same county decisions between them give the same alerts."""

from __future__ import annotations

import asyncio
import shutil
from datetime import date
from pathlib import Path

import pytest

from connectors.ingest import ingest_files
from connectors.sinks import KafkaSink, read_local
from dixian.config import Settings
from dixian.pipeline import MoveError, classify, move_to_kafka, run_once
from dixian.topics import Topics
from screening.sink import run_kafka_sink
from screening.store import open_store
from streams.kafka_run import collect_alerts, input_topics, kafka_alerts, wait_caught_up
from tests.embedded_helpers import HOUSEHOLDS, include_first_clues, settings_at, simulate_months
from tests.integration.month import same

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _files(folder: Path) -> list[tuple[str, Path]]:
    found = [f for p in sorted(folder.iterdir()) if (f := classify(p)) is not None and f.kind != "areas"]
    found.sort(key=lambda f: f.kind != "roster")
    return [(f.kind, f.path) for f in found]


async def _send_conclusions(settings: Settings, embedded: Settings) -> int:
    """The queue's steps the embedded run wrote locally, produced to the Kafka test's topic."""
    topics = Topics(settings)
    records = list(read_local(embedded.local_dir / f"{Topics(embedded).conclusions}.jsonl"))
    sink = KafkaSink(settings.kafka)
    await sink.start()
    try:
        await sink.send(topics.conclusions, records)
        await sink.flush()
    finally:
        await sink.stop()
    return len(records)


def test_the_embedded_product_path_gives_the_kafka_paths_alerts(
    settings: Settings,
    workers,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    june, july = simulate_months(tmp_path / "months")
    # embedded: June, the county's decisions in the queue, July
    inbox = tmp_path / "inbox"
    shutil.copytree(june, inbox)
    embedded = settings_at(tmp_path / "embedded", date(2022, 7, 1))
    run_once(embedded, inbox)
    include_first_clues(embedded, 40)
    for p in july.iterdir():
        shutil.copy(p, inbox / p.name)
    run_once(embedded.override(clock_date=date(2022, 8, 1)), inbox)
    want = collect_alerts(v for _, v in read_local(embedded.local_dir / f"{Topics(embedded).alerts}.jsonl"))

    # Kafka: the same files and the same decisions, in the order they happened
    workers("a")
    asyncio.run(ingest_files(settings, KafkaSink(settings.kafka), _files(june), month="2022-06"))
    wait_caught_up(settings, input_topics(settings))
    assert asyncio.run(_send_conclusions(settings, embedded)) == 40 * 7  # six steps and an asset check each
    wait_caught_up(settings, input_topics(settings))
    july_files = [(k, p) for k, p in _files(july) if k != "roster"]  # the roster did not change
    asyncio.run(ingest_files(settings, KafkaSink(settings.kafka), july_files, month="2022-07"))
    wait_caught_up(settings, input_topics(settings))
    same(kafka_alerts(settings), want)
    assert len(want.latest) > 100


def test_moving_to_kafka_carries_household_state_and_the_queue_over(
    settings: Settings,
    workers,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """June embedded, the county's decisions, then `dixian move-to-kafka`; July through a worker and
    the queue's sink gives what the embedded path gives for July, with the decisions kept."""
    june, july = simulate_months(tmp_path / "months")
    inbox = tmp_path / "inbox"
    shutil.copytree(june, inbox)
    emb = settings.override(clock_date=date(2022, 7, 1))  # the Kafka deployment's names, embedded first
    run_once(emb, inbox)
    included = include_first_clues(emb, 40)
    with pytest.raises(MoveError, match="run `dixian run` first"):  # the decisions are not applied yet
        asyncio.run(move_to_kafka(emb))
    run_once(emb, None)  # the decisions reach household state

    # the reference: the same data directory, July embedded
    ref = emb.override(data_dir=tmp_path / "reference")
    shutil.copytree(emb.data_dir, ref.data_dir)
    for p in july.iterdir():
        shutil.copy(p, inbox / p.name)
    run_once(ref.override(clock_date=date(2022, 8, 1)), inbox)
    want = collect_alerts(v for _, v in read_local(ref.local_dir / f"{Topics(ref).alerts}.jsonl"))

    moved = asyncio.run(move_to_kafka(emb))
    assert moved.states == HOUSEHOLDS
    with pytest.raises(MoveError, match="done once"):
        asyncio.run(move_to_kafka(emb))
    workers("a")
    july_files = [(k, p) for k, p in _files(july) if k != "roster"]
    asyncio.run(ingest_files(settings, KafkaSink(settings.kafka), july_files, month="2022-07"))
    wait_caught_up(settings, input_topics(settings))
    same(kafka_alerts(settings), want)

    later = emb.override(clock_date=date(2022, 8, 1))
    store = open_store(later.screening_url(), later.now, later.visit_days)
    reference = open_store(ref.screening_url(), later.now, later.visit_days)
    try:
        asyncio.run(run_kafka_sink(later, store, until_caught_up=True))
        for hid in included:  # the roster handed over was not applied again over the decisions
            assert store.ledger.household(hid)["status"] == "监测中"
        count = "SELECT COUNT(*) AS clues, SUM(items) AS items FROM clues"
        assert store.db.one(count) == reference.db.one(count)
    finally:
        store.db.close()
        reference.db.close()
