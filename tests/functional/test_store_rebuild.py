"""The queue store after a total loss: rebuilt from the topics alone (roster, conclusions with their
cases, alerts), it holds the same clues, risk items, workflow steps, plans, measures, campaigns and
ledger decisions, and shows officers the same queue. On SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors.sinks import LocalSink
from dixian.config import Settings
from dixian.contract.alerts import Alert
from dixian.topics import Topics
from screening.campaigns import create_campaign
from screening.plans import MeasureChange, add_measure, update_measure
from screening.rebuild import StoreNotEmptyError
from screening.sink import publish_pending, rebuild_from_local, sync_local
from screening.store import Store
from screening.workflow import Request
from tests.screening_helpers import (
    CITY,
    COUNTY_A,
    OFFICER_A,
    STORE_TIMES,
    TOWNSHIP_A,
    Clock,
    alert,
    asset_passed,
    china,
    dump_store,
    household,
    open_test_store,
    store_differences,
    store_url,
)


def _queue(store: Store) -> list[tuple[dict[str, Any], Any]]:
    """The village officer's queue, closed cases included: each case and its deadline."""
    return [
        ({k: v for k, v in c.row.items() if k not in STORE_TIMES}, c.deadline)
        for c in store.clues.queue(OFFICER_A, include_closed=True)
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _publish(local: Path, topic: str, records: list[tuple[str, str]]) -> None:
    async def go() -> None:
        sink = LocalSink(local)
        await sink.start()
        await sink.send(topic, [(k.encode(), v.encode()) for k, v in records])
        await sink.flush()
        await sink.stop()

    asyncio.run(go())


async def _publish_steps(store: Store, local: Path, topics: Topics) -> None:
    outbox = LocalSink(local)
    await outbox.start()
    try:
        assert await publish_pending(store, outbox, topics) > 0
    finally:
        await outbox.stop()


def _alerts(local: Path, topics: Topics, alerts: list[Alert]) -> None:
    _publish(local, topics.alerts, [(a.village_code, a.model_dump_json()) for a in alerts])


@pytest.fixture
def stores(kind: str, tmp_path: Path) -> Iterator[tuple[Store, str, Clock]]:
    """The store that will be lost, and the URL of the empty one it is rebuilt into."""
    clock = Clock(china(2022, 7, 1))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for lost in store_url(kind, tmp_path / "a"):
        for empty in store_url(kind, tmp_path / "b"):
            store = open_test_store(lost, clock)
            yield store, empty, clock
            store.db.close()


def test_a_store_rebuilt_from_the_topics_is_the_store_that_was_lost(
    stores: tuple[Store, str, Clock], tmp_path: Path
) -> None:
    store, second_url, clock = stores
    local = tmp_path / "topics"
    topics = Topics(Settings(data_dir=tmp_path))
    roster = [household(n) for n in range(1, 7)]
    _publish(local, topics.households, [(h.household_id, h.model_dump_json()) for h in roster])
    a1, a3, a4 = alert(1), alert(3), alert(4)
    a2 = alert(1, rule="HR-JOB-LOSS", risk_label="因失业", severity="medium")
    _alerts(local, topics, [a1, a2, a3, a4])
    sync_local(store, local, topics)

    # household 1: the whole path to an inclusion, a plan and a measure
    for step in (
        Request("visit", note="见到户主"),
        Request("conclude", proposal="include", category="突发严重困难户"),
        Request("village_review", decision="approve"),
    ):
        store.clues.act(OFFICER_A, a1.alert_id, step)
    clock.at = china(2022, 7, 7)
    store.clues.act(OFFICER_A, a1.alert_id, Request("notice_end", decision="approve"))
    store.clues.act(TOWNSHIP_A, a1.alert_id, Request("township_review", decision="approve"))
    asset_passed(store, a1.alert_id)
    store.clues.act(COUNTY_A, a1.alert_id, Request("county_decide", decision="approve"))
    add_measure(store, OFFICER_A, a1.alert_id, "health", "落实大病专项救治", date(2022, 7, 7))
    add_measure(store, OFFICER_A, a1.alert_id, "employment", "推荐到扶贫车间务工", date(2022, 7, 7))
    update_measure(store, OFFICER_A, a1.alert_id, 2, MeasureChange("done", result="已在车间稳定务工"))
    # household 3: visited; household 5: a household's application; everyone: a campaign
    store.clues.act(OFFICER_A, a3.alert_id, Request("visit", note="户主不在家，见到其子"))
    store.clues.create(OFFICER_A, roster[4].household_id, "application", "家中老人住院，申请纳入监测")
    create_campaign(
        store, CITY, "2022年集中排查", ["4503"], date(2022, 7, 1), date(2022, 7, 31), ["ordinary"]
    )
    asyncio.run(_publish_steps(store, local, topics))
    # after the last steps: an alert joins household 3's open clue, one opens household 1's next clue
    # (read once, as the sink reads each record of the topic once)
    clock.at = china(2022, 7, 20)
    later = [alert(3, rule="HR-JOB-LOSS", risk_label="因失业"), alert(1, rule="HOUSING-UNSAFE")]
    _alerts(local, topics, later)
    store.clues.upsert_alerts(later)
    before = dump_store(store)
    assert len(before["steps"]) > 10
    assert [len(before[t]) for t in ("plans", "measures", "campaigns")] == [1, 2, 1]
    assert [m["status"] for m in before["measures"]] == ["active", "done"]

    clock.at = china(2022, 8, 1)  # the loss: a new, empty database some days later
    rebuilt = open_test_store(second_url, clock)
    try:
        stats = rebuild_from_local(rebuilt, local, topics)
        assert (stats.steps, stats.decisions, stats.refused) == (len(before["steps"]), 1, 0)
        assert store_differences(dump_store(rebuilt), before) == []
        assert _queue(rebuilt) == _queue(store)
        with pytest.raises(StoreNotEmptyError):  # never merged into a store that holds clues
            rebuild_from_local(rebuilt, local, topics)
    finally:
        rebuilt.db.close()
