"""The department feeds as operators watch them: this month's deliveries per department, read from
the ingest counters at each scrape (files and pushes alike), so that "no feed from a department this
month" and a delivery that does not reconcile can alert. Served by ``dixian push-server`` on its own
metrics listener (``DIXIAN_PUSH_METRICS_PORT``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from connectors.stores import QualityCounters
from dixian.contract import Dept
from dixian.contract.events import now_china

OUTCOMES = ("rows_read", "accepted", "rejected", "duplicates")


class FeedCollector(Collector):
    """Per department (every one, 0 when it sent nothing): this month's rows by outcome, deliveries,
    rows that do not reconcile, and the time of the last delivery."""

    def __init__(self, quality_path: Path, now: Callable[[], datetime] = now_china) -> None:
        self.quality_path = quality_path
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        month = self.now().strftime("%Y-%m")
        totals: dict[str, dict[str, int]] = {}
        last: dict[str, float] = {}
        if self.quality_path.exists():
            q = QualityCounters(self.quality_path)
            try:
                totals = {t["dept"]: t for t in q.month_totals(month)}
                last = q.last_deliveries()
            finally:
                q.close()
        rows = GaugeMetricFamily(
            "dixian_feed_rows", "This month's rows per department and outcome", labels=["dept", "outcome"]
        )
        runs = GaugeMetricFamily(
            "dixian_feed_deliveries", "This month's deliveries (files, pushes)", labels=["dept"]
        )
        gap = GaugeMetricFamily(
            "dixian_feed_unreconciled_rows",
            "This month's rows read that are neither accepted, rejected nor duplicates (should be 0)",
            labels=["dept"],
        )
        when = GaugeMetricFamily(
            "dixian_feed_last_delivery_timestamp_seconds",
            "When the department's last delivery finished (0: never)",
            labels=["dept"],
        )
        for d in Dept:
            t = totals.get(d.value, {})
            for outcome in OUTCOMES:
                rows.add_metric([d.value, outcome], float(t.get(outcome) or 0))
            runs.add_metric([d.value], float(t.get("runs") or 0))
            read = int(t.get("rows_read") or 0)
            gap.add_metric([d.value], float(read - sum(int(t.get(o) or 0) for o in OUTCOMES[1:])))
            when.add_metric([d.value], last.get(d.value, 0.0))
        yield from (rows, runs, gap, when)
