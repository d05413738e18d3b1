"""A simulated month through the real pipeline — files → ingest → Kafka → worker → alerts → store —
and the monthly report's totals checked against the topics, the dead letters and the alert store."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from connectors.kafka import read_topic
from connectors.sinks import KafkaSink
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.wire import decode_events
from dixian.simulate import simulate
from dixian.topics import Topics
from reports.publish import monthly
from screening.sink import run_kafka_sink
from screening.store import open_store
from streams.kafka_run import input_topics, kafka_alerts, wait_caught_up
from tests.integration.test_pipeline_kafka import _ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_report_totals_reconcile_with_topics_dead_letters_and_store(
    settings: Settings,
    workers,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = settings.model_copy(update={"clock_date": date(2022, 7, 20)})  # June is closed
    sim = simulate(tmp_path / "sim", households=2000, month="2022-06", seed=7, malformed=0.05, rows=400)
    workers("a")
    files = [("roster", tmp_path / "sim" / "roster.csv")]
    files += [(f["dept"], tmp_path / "sim" / f["file"]) for f in sim["feeds"]]
    _ingest(settings, KafkaSink(settings.kafka_bootstrap), files, month="2022-06")
    wait_caught_up(settings, input_topics(settings))
    store = open_store(settings.screening_url(), settings.now)
    asyncio.run(run_kafka_sink(settings, store, until_caught_up=True))

    report, xlsx, html = monthly(settings, "2022-06", None, tmp_path / "reports")
    assert report.closed
    assert xlsx.exists()
    assert html.exists()
    topics = Topics(settings)
    feeds = {r["dept"]: r for r in report.table("部门数据报送").rows}
    letters = Counter(
        orjson.loads(v or b"{}")["dept"]
        for _, v in asyncio.run(read_topic(settings.kafka_bootstrap, topics.dead_letter))
    )
    for d in Dept:
        records = asyncio.run(read_topic(settings.kafka_bootstrap, topics.dept(d)))
        on_topic = sum(len(decode_events(v or b"", d)) for _, v in records)  # batches of events
        assert feeds[d.zh]["accepted"] == on_topic, d
        assert feeds[d.zh]["rejected"] == letters[d.value], d
        row = feeds[d.zh]
        assert row["rows_read"] == row["accepted"] + row["rejected"] + row["duplicates"]
    assert sum(letters[d.value] for d in Dept) > 0  # the 5% malformed rows were there to be counted
    # and against the simulator's ground truth: what it wrote, not what any of our code counted
    for f in sim["feeds"]:
        row = feeds[Dept(f["dept"]).zh]
        truth = (f["rows"], f["valid_unique"], f["duplicates"], sum(f["malformed"].values()))
        assert (row["rows_read"], row["accepted"], row["duplicates"], row["rejected"]) == truth, f["dept"]
        assert (row["delivered"], row["incomplete"]) == ("已报送（1批）", 0)

    june = [
        a
        for a in kafka_alerts(settings).latest.values()
        if date(2022, 6, 1) <= a.decide_by - timedelta(days=15) < date(2022, 7, 1)
    ]
    # one risk item per alert on the topic; one clue per household with a risk (only June's data here)
    items = store.db.one(
        "SELECT COUNT(*) AS n FROM risk_items WHERE source = 'department_warning'"
        " AND item_date >= '2022-06-01' AND item_date < '2022-07-01'"
    )
    clues = store.db.one(
        "SELECT COUNT(*) AS n FROM clues WHERE clue_date >= '2022-06-01' AND clue_date < '2022-07-01'"
    )
    assert items is not None
    assert clues is not None
    households = {a.household_id for a in june}
    assert len(june) == items["n"] > len(households) == clues["n"] > 0
    assert report.table("预警规则").total("alerts") == len(june)
    assert report.table("预警规则").total("hits") == sum(a.hits for a in june)
    assert report.table("核查处置-县").total("received") == len(households)
    assert report.table("核查处置-村").total("received") == len(households)
    # the ledger: every household of the roster, monitored ones counted by category
    monitored = store.db.one("SELECT COUNT(*) AS n FROM households WHERE status = '监测中'")
    assert monitored is not None
    assert report.table("监测对象-县").total("monitored_h") == monitored["n"]
    store.db.close()
