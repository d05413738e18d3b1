"""The department feed metrics the push server exports: this month's rows per outcome for every
department (0 for one that sent nothing), the rows that do not reconcile, the last delivery."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from connectors.metrics import FeedCollector
from connectors.stores import QualityCounters
from dixian.contract import Dept
from dixian.contract.events import CHINA_TZ


def _run(
    q: QualityCounters, run: str, dept: str, month: str, read: int, accepted: int, rejected: int, dup: int
) -> None:
    q.record(
        {
            "run_id": run, "dept": dept, "month": month, "source": "file", "file": f"{run}.csv",
            "encoding": "utf-8", "finished_at": f"{month}-05T10:00:00+08:00", "rows_read": read,
            "accepted": accepted, "duplicates": dup, "rejected": rejected, "late": 0,
            "ownership_conflicts": 0,
        },
        {"bad_date": rejected} if rejected else {},
    )  # fmt: skip


def test_this_months_feeds_per_department(tmp_path: Path) -> None:
    path = tmp_path / "quality.sqlite"
    q = QualityCounters(path)
    _run(q, "a", "hrss", "2022-07", 100, 90, 8, 2)
    _run(q, "b", "hrss", "2022-07", 10, 10, 0, 0)
    _run(q, "c", "water", "2022-07", 50, 40, 5, 0)  # 5 rows unaccounted for (a killed run)
    _run(q, "d", "housing", "2022-06", 30, 30, 0, 0)  # last month: not this month's
    q.close()
    registry = CollectorRegistry()
    registry.register(FeedCollector(path, lambda: datetime(2022, 7, 20, 9, tzinfo=CHINA_TZ)))
    text = generate_latest(registry).decode()
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples['dixian_feed_rows{dept="hrss",outcome="rows_read"}'] == 110
    assert samples['dixian_feed_rows{dept="hrss",outcome="accepted"}'] == 100
    assert samples['dixian_feed_deliveries{dept="hrss"}'] == 2
    assert samples['dixian_feed_unreconciled_rows{dept="hrss"}'] == 0
    assert samples['dixian_feed_unreconciled_rows{dept="water"}'] == 5
    assert samples['dixian_feed_deliveries{dept="housing"}'] == 0  # nothing this month
    assert samples['dixian_feed_deliveries{dept="health"}'] == 0  # never
    assert samples['dixian_feed_last_delivery_timestamp_seconds{dept="health"}'] == 0
    assert (
        samples['dixian_feed_last_delivery_timestamp_seconds{dept="housing"}']
        == datetime(2022, 6, 5, 10, tzinfo=CHINA_TZ).timestamp()
    )
    assert sum(1 for k in samples if k.startswith("dixian_feed_deliveries{")) == len(Dept)
