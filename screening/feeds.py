"""Deliveries' facts in the store: the last word of each ingest run (``dixian.contract.feedruns``),
as the queue's sink reads them from the feed-runs topic (or the embedded path from its local file).
The reports read them through ``reports.queries``."""

from __future__ import annotations

from collections.abc import Iterable

from dixian.contract.feedruns import FeedRun
from screening.db import Database

_COLUMNS = (
    "run_id",
    "dept",
    "month",
    "source",
    "file",
    "encoding",
    "status",
    "started_at",
    "updated_at",
    "rows_read",
    "accepted",
    "duplicates",
    "rejected",
    "late",
    "ownership_conflicts",
)


class FeedRuns:
    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert(self, runs: Iterable[FeedRun]) -> int:
        """Keep each run's latest facts (a replayed older fact changes nothing); returns how many
        runs changed."""
        changed = 0
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
        sql = (
            f"INSERT INTO feed_runs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
            f" ON CONFLICT (run_id) DO UPDATE SET {updates} WHERE excluded.updated_at >= feed_runs.updated_at"
        )
        with self.db.transaction():
            for run in runs:
                row = run.model_dump(mode="json")
                if not self.db.execute(sql, [row[c] for c in _COLUMNS]):
                    continue
                changed += 1
                self.db.execute("DELETE FROM feed_run_counts WHERE run_id = ?", (run.run_id,))
                counts = [(run.run_id, "rejected", k, n) for k, n in run.rejections.items()]
                counts += [(run.run_id, "event_type", k, n) for k, n in run.event_types.items()]
                self.db.executemany("INSERT INTO feed_run_counts VALUES (?, ?, ?, ?)", counts)
        return changed

    def get(self, run_id: str) -> dict[str, object] | None:
        return self.db.one("SELECT * FROM feed_runs WHERE run_id = ?", (run_id,))
