"""Two simulated months of one county set and the queue's decisions between them: the embedded
product path's tests and its comparison with the Kafka path share these."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from connectors.sinks import LocalSink
from dixian.config import Settings
from dixian.contract.vocabulary import ClueState, Role
from dixian.simulate import simulate
from dixian.topics import Topics
from screening.assets import record_asset_check
from screening.auth import Actor
from screening.sink import publish_pending
from screening.store import Store, open_store
from screening.workflow import Request

SEED, HOUSEHOLDS, ROWS = 47, 3000, 600


def simulate_months(root: Path) -> tuple[Path, Path]:
    """June and July 2022 of the same simulated city (same seed: same households)."""
    for month in ("2022-06", "2022-07"):
        simulate(root / month, households=HOUSEHOLDS, month=month, seed=SEED, malformed=0.01, rows=ROWS)
    return root / "2022-06", root / "2022-07"


def settings_at(root: Path, clock: date) -> Settings:
    return Settings(data_dir=root / "data", clock_date=clock)


def include_first_clues(settings: Settings, n: int) -> list[str]:
    """The county includes the households of the first ``n`` new clues; their steps are published to
    the local conclusions file, as the queue's web server (``--local``) does."""
    store = open_store(settings.screening_url(), settings.now, settings.visit_days)
    try:
        rows = store.db.query(
            "SELECT clue_id, household_id, village_code FROM clues WHERE state = ? ORDER BY clue_id LIMIT ?",
            (ClueState.NEW.value, n),
        )
        for r in rows:
            officer = Actor("cun", "村", Role.VILLAGE, r["village_code"])
            for req in (
                Request("visit", note="见到户主"),
                Request("conclude", proposal="include", category="突发严重困难户"),
                Request("village_review", decision="approve"),
            ):
                store.clues.act(officer, r["clue_id"], req)
    finally:
        store.db.close()
    later = settings.override(clock_date=date(2022, 7, 8))  # the 5-day notice is over
    store = open_store(later.screening_url(), later.now, later.visit_days)
    try:
        for r in rows:
            v = r["village_code"]
            county = Actor("xian", "县", Role.COUNTY, v[:6])
            for actor, req in (
                (Actor("cun", "村", Role.VILLAGE, v), Request("notice_end", decision="approve")),
                (Actor("zhen", "镇", Role.TOWNSHIP, v[:9]), Request("township_review", decision="approve")),
            ):
                store.clues.act(actor, r["clue_id"], req)
            record_asset_check(store, county, r["clue_id"], "passed", later.now().date())
            store.clues.act(county, r["clue_id"], Request("county_decide", decision="approve"))
        asyncio.run(publish_local(store, settings))
        return [r["household_id"] for r in rows]
    finally:
        store.db.close()


async def publish_local(store: Store, settings: Settings) -> None:
    sink = LocalSink(settings.local_dir)
    await sink.start()
    await publish_pending(store, sink, Topics(settings))
    await sink.stop()
