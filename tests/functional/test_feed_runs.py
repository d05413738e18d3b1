"""A delivery's facts on the feed-runs topic (here its local file) and in the store, read by the
report: a killed run stays incomplete, its rerun is the same delivery (duplicates are only rows the
department sent twice), a completed delivery run again changes nothing, pushes count beside files."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.ingest import Ingester, IngestSummary
from connectors.sinks import LocalSink
from dixian.config import Settings
from dixian.contract import Dept
from dixian.simulate import simulate
from dixian.topics import Topics
from reports.monthly import Sources, monthly_report
from screening.sink import sync_local
from screening.store import Store
from tests.helpers import settlement
from tests.screening_helpers import Clock, china, stores_of


def _facts(settings: Settings) -> dict[str, dict[str, Any]]:
    """The last fact per run id in the local feed-runs file (what compaction keeps)."""
    path = settings.local_dir / f"{Topics(settings).feed_runs}.jsonl"
    out: dict[str, dict[str, Any]] = {}
    for line in path.read_bytes().splitlines() if path.exists() else []:
        rec = orjson.loads(line)
        out[rec["key"]] = rec["value"]
    return out


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


async def _ingest(settings: Settings, dept: str, path: Path, month: str = "2022-06") -> IngestSummary:
    sink = LocalSink(settings.local_dir)
    await sink.start()
    ing = Ingester(settings, sink)
    try:
        return await ing.ingest_file(dept, path, month=month)
    finally:
        ing.close()
        await sink.stop()


async def _push(settings: Settings, dept: Dept, records: list[Any]) -> IngestSummary:
    sink = LocalSink(settings.local_dir)
    await sink.start()
    ing = Ingester(settings, sink)
    try:
        return await ing.ingest_records(dept, records, month="2022-06")
    finally:
        ing.close()
        await sink.stop()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One department's month with enough rows for several acknowledged batches (50,000 each)."""
    out = tmp_path_factory.mktemp("big")
    manifest = simulate(
        out,
        households=20_000,
        month="2022-06",
        seed=11,
        malformed=0.02,
        depts=[Dept.MEDICAL_INSURANCE],
        rows=160_000,
    )
    return out, next(f for f in manifest["feeds"] if f["dept"] == "medical_insurance")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from stores_of(request.param, tmp_path, Clock(china(2022, 8, 1)))


def _feed_row(store: Store) -> dict[str, Any]:
    report = monthly_report(Sources(store), "2022-06", date(2022, 8, 1))
    return next(r for r in report.table("部门数据报送").rows if r["dept"] == Dept.MEDICAL_INSURANCE.zh)


def test_a_killed_run_is_incomplete_and_its_rerun_is_the_same_delivery(
    tmp_path: Path, big: tuple[Path, dict[str, Any]], store: Store
) -> None:
    """SIGKILL after the broker (here the local file) acknowledged part of the file: the delivery is
    recorded as running with what was acknowledged; running the file again completes that delivery,
    and its duplicates are only the rows the department put in the file twice (it was: every row
    published before the kill counted again as a duplicate)."""
    out, feed = big
    settings = Settings(data_dir=tmp_path / "data", partitions=4)
    env = {**os.environ, "DIXIAN_DATA_DIR": str(settings.data_dir), "DIXIAN_PARTITIONS": "4"}
    cli = [sys.executable, "-m", "dixian.cli", "ingest", "--local", "--month", "2022-06"]
    cli += ["medical_insurance", str(out / feed["file"])]
    proc = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        running = [f for f in _facts(settings).values() if f["status"] == "running" and f["accepted"]]
        if running:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the ingest ended before a batch was acknowledged: make the file larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (killed,) = _facts(settings).values()
    assert killed["status"] == "running"
    assert 0 < killed["accepted"] < feed["valid_unique"]

    sync_local(store, settings.local_dir, Topics(settings))
    row = _feed_row(store)
    assert row["incomplete"] == 1
    assert "1批未完成" in row["delivered"]
    assert row["accepted"] == killed["accepted"]

    again = asyncio.run(_ingest(settings, "medical_insurance", out / feed["file"]))
    assert again.reconciles
    assert again.run_id == killed["run_id"]
    assert (again.accepted, again.duplicates, again.rejected_total) == (
        feed["valid_unique"],
        feed["duplicates"],
        sum(feed["malformed"].values()),
    )
    (done,) = _facts(settings).values()
    assert done["status"] == "complete"
    sync_local(store, settings.local_dir, Topics(settings))
    row = _feed_row(store)
    assert (row["rows_read"], row["accepted"], row["duplicates"], row["incomplete"]) == (
        feed["rows"],
        feed["valid_unique"],
        feed["duplicates"],
        0,
    )
    assert row["delivered"] == "已报送（1批）"


def test_a_completed_delivery_run_again_changes_nothing(
    tmp_path: Path, big: tuple[Path, dict[str, Any]]
) -> None:
    out, feed = big
    settings = Settings(data_dir=tmp_path / "data", partitions=4)
    dept_file = settings.local_dir / f"{Topics(settings).dept(Dept.MEDICAL_INSURANCE)}.jsonl"
    first = asyncio.run(_ingest(settings, "medical_insurance", out / feed["file"]))
    published = _lines(dept_file)
    again = asyncio.run(_ingest(settings, "medical_insurance", out / feed["file"]))
    assert again.already_ingested
    assert (again.run_id, again.accepted, again.duplicates) == (
        first.run_id,
        first.accepted,
        first.duplicates,
    )
    assert again.reconciles
    assert _lines(dept_file) == published  # nothing published again
    assert len(_facts(settings)) == 1


def test_rows_sent_again_in_another_delivery_are_duplicates(tmp_path: Path) -> None:
    """A department that sends a corrected file with last file's rows in it: those rows are
    duplicates of the other delivery, the new rows are accepted."""
    out = tmp_path / "sim"
    manifest = simulate(out, households=500, month="2022-06", seed=3, malformed=0.0, depts=[Dept.WATER])
    feed = next(f for f in manifest["feeds"] if f["dept"] == "water")
    src = out / feed["file"]
    raw = src.read_bytes()
    lines = raw.splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    half = len(body) // 2
    part = tmp_path / "part.csv"
    part.write_bytes(header + b"".join(body[:half]))
    settings = Settings(data_dir=tmp_path / "data", partitions=4)
    first = asyncio.run(_ingest(settings, "water", part))
    whole = asyncio.run(_ingest(settings, "water", src))
    assert first.run_id != whole.run_id
    assert whole.reconciles
    assert whole.accepted + first.accepted == feed["valid_unique"]
    assert whole.duplicates == first.accepted + feed["duplicates"] - first.duplicates
    assert len(_facts(settings)) == 2


def test_a_push_and_its_retry_are_one_delivery_in_the_report(tmp_path: Path, store: Store) -> None:
    settings = Settings(data_dir=tmp_path / "data", partitions=4)
    records: list[Any] = [
        settlement(event_id=f"medi-{d:010d}", occurred_at=f"2022-06-{d:02d}") for d in range(1, 11)
    ]
    records.append({"household_id": "bad"})
    first = asyncio.run(_push(settings, Dept.MEDICAL_INSURANCE, records))
    retry = asyncio.run(_push(settings, Dept.MEDICAL_INSURANCE, records))
    assert first.accepted == 10, first.problems
    assert first.rejected_total == 1
    assert (retry.run_id, retry.accepted, retry.duplicates, retry.rejected_total) == (first.run_id, 10, 0, 1)
    assert retry.problems  # the sender hears its problems again
    sync_local(store, settings.local_dir, Topics(settings))
    row = _feed_row(store)
    assert (row["rows_read"], row["accepted"], row["rejected"], row["duplicates"]) == (11, 10, 1, 0)
    assert row["delivered"] == "已报送（1批）"
    # the store keeps the latest facts: an older one replayed (a rebuild, a redelivery) changes nothing
    (fact,) = _facts(settings).values()
    assert store.feeds.get(fact["run_id"]) is not None
    assert store.feeds.upsert([]) == 0
