"""Durable local state of the connectors (SQLite under ``data_dir``).

- ``SeenEvents``: ids of events already published and by which delivery, so re-ingesting a file adds
  no duplicates.
- ``QualityCounters``: per delivery, what each feed delivered, as this machine ingested it (the push
  server's metrics read it; the reports read the deliveries' facts from the queue's store).
- ``SnapshotStore``: the previous full extract per department, for snapshot mode.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class SeenEvents:
    """Event ids already published, each with the delivery (run id) that published it: a rerun of
    that delivery counts them as its own, any other delivery as duplicates."""

    def __init__(self, path: Path) -> None:
        self._db = _connect(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY) WITHOUT ROWID")
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(seen)")}
        if "run_id" not in columns:  # indexes written before deliveries had ids: another delivery's
            self._db.execute("ALTER TABLE seen ADD COLUMN run_id TEXT")

    def known(self, ids: list[str]) -> dict[str, str | None]:
        """The ids among ``ids`` already published, with the run that published each."""
        found: dict[str, str | None] = {}
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            q = f"SELECT event_id, run_id FROM seen WHERE event_id IN ({','.join('?' * len(chunk))})"
            found.update(self._db.execute(q, chunk))
        return found

    def add(self, ids: Iterable[str], run_id: str) -> None:
        """Called only after the broker acknowledged the events."""
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", ((i, run_id) for i in ids))
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


class QualityCounters:
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS feed_runs (
        run_id TEXT PRIMARY KEY, dept TEXT NOT NULL, month TEXT NOT NULL, source TEXT NOT NULL,
        file TEXT, encoding TEXT, finished_at TEXT NOT NULL,
        rows_read INTEGER NOT NULL, accepted INTEGER NOT NULL, duplicates INTEGER NOT NULL,
        rejected INTEGER NOT NULL, late INTEGER NOT NULL, ownership_conflicts INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS feed_rejections (
        run_id TEXT NOT NULL REFERENCES feed_runs(run_id), code TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (run_id, code));
    CREATE INDEX IF NOT EXISTS feed_runs_month ON feed_runs(month, dept);
    CREATE TABLE IF NOT EXISTS feed_event_types (
        run_id TEXT NOT NULL REFERENCES feed_runs(run_id), event_type TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (run_id, event_type));
    """

    def __init__(self, path: Path) -> None:
        self._db = _connect(path)
        self._db.executescript(self.SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(feed_runs)")}
        if (
            "status" not in columns
        ):  # runs recorded before runs had a status ended (they were recorded at the end)
            self._db.execute("ALTER TABLE feed_runs ADD COLUMN status TEXT NOT NULL DEFAULT 'complete'")
        if "started_at" not in columns:
            self._db.execute("ALTER TABLE feed_runs ADD COLUMN started_at TEXT")

    def status(self, run_id: str) -> str | None:
        row = self._db.execute("SELECT status FROM feed_runs WHERE run_id = ?", (run_id,)).fetchone()
        return str(row[0]) if row else None

    def run(self, run_id: str) -> tuple[dict[str, Any], dict[str, int], dict[str, int]] | None:
        """A recorded run: its row, rejections by reason and accepted events by type."""
        cur = self._db.execute("SELECT * FROM feed_runs WHERE run_id = ?", (run_id,))
        row = cur.fetchone()
        if row is None:
            return None
        names = [d[0] for d in cur.description]
        rejections = dict(self._db.execute("SELECT code, n FROM feed_rejections WHERE run_id = ?", (run_id,)))
        types = dict(
            self._db.execute("SELECT event_type, n FROM feed_event_types WHERE run_id = ?", (run_id,))
        )
        return dict(zip(names, row, strict=True)), rejections, types

    def record(
        self, run: dict[str, Any], rejections: dict[str, int], by_type: dict[str, int] | None = None
    ) -> None:
        self._db.execute("BEGIN")
        cols = ",".join(run)
        self._db.execute(
            f"INSERT OR REPLACE INTO feed_runs ({cols}) VALUES ({','.join('?' * len(run))})",
            list(run.values()),
        )
        self._db.execute("DELETE FROM feed_rejections WHERE run_id = ?", (run["run_id"],))
        self._db.executemany(
            "INSERT INTO feed_rejections VALUES (?, ?, ?)",
            [(run["run_id"], c, n) for c, n in rejections.items()],
        )
        self._db.execute("DELETE FROM feed_event_types WHERE run_id = ?", (run["run_id"],))
        self._db.executemany(
            "INSERT INTO feed_event_types VALUES (?, ?, ?)",
            [(run["run_id"], t, n) for t, n in (by_type or {}).items() if t],
        )
        self._db.execute("COMMIT")

    def month_totals(self, month: str) -> Iterator[dict[str, Any]]:
        """Per department: rows, accepted, duplicates, rejected, late, ownership conflicts."""
        cur = self._db.execute(
            """SELECT dept, SUM(rows_read), SUM(accepted), SUM(duplicates), SUM(rejected), SUM(late),
                      SUM(ownership_conflicts), COUNT(*)
               FROM feed_runs WHERE month = ? GROUP BY dept ORDER BY dept""",
            (month,),
        )
        keys = (
            "dept",
            "rows_read",
            "accepted",
            "duplicates",
            "rejected",
            "late",
            "ownership_conflicts",
            "runs",
        )
        for row in cur:
            yield dict(zip(keys, row, strict=True))

    def last_deliveries(self) -> dict[str, float]:
        """Per department, when its last delivery finished (POSIX seconds)."""
        cur = self._db.execute("SELECT dept, MAX(finished_at) FROM feed_runs GROUP BY dept")
        return {d: datetime.fromisoformat(at).timestamp() for d, at in cur if at}

    def close(self) -> None:
        self._db.close()


class SnapshotStore:
    """The last full extract of each department: key → (content hash, fields as JSON)."""

    def __init__(self, path: Path) -> None:
        self._db = _connect(path)
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS snapshot (
               dept TEXT NOT NULL, key TEXT NOT NULL, digest TEXT NOT NULL, fields TEXT NOT NULL,
               PRIMARY KEY (dept, key)) WITHOUT ROWID"""
        )

    def previous(self, dept: str) -> dict[str, tuple[str, str]]:
        cur = self._db.execute("SELECT key, digest, fields FROM snapshot WHERE dept = ?", (dept,))
        return {k: (d, f) for k, d, f in cur}

    def replace(self, dept: str, rows: dict[str, tuple[str, str]]) -> None:
        """Swap in the new extract atomically (after its events were acknowledged)."""
        self._db.execute("BEGIN")
        self._db.execute("DELETE FROM snapshot WHERE dept = ?", (dept,))
        self._db.executemany(
            "INSERT INTO snapshot VALUES (?, ?, ?, ?)", [(dept, k, d, f) for k, (d, f) in rows.items()]
        )
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


class TokenStore:
    """Department push tokens. Only an HMAC-SHA256 of each token is stored, keyed with
    ``DIXIAN_INGEST_SECRET``: tokens are 256-bit random values, so a fast keyed hash is enough, and a
    copy of the token file is of no use without the key. (Tokens issued before the key was used must
    be issued again.)"""

    def __init__(self, path: Path, key: bytes) -> None:
        self._key = key
        self._db = _connect(path)
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS tokens (
               digest TEXT PRIMARY KEY, prefix TEXT NOT NULL, dept TEXT NOT NULL, label TEXT NOT NULL,
               created_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)"""
        )

    def digest(self, token: str) -> str:
        import hashlib  # noqa: PLC0415
        import hmac  # noqa: PLC0415

        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def issue(self, dept: str, label: str, now: str) -> str:
        import secrets  # noqa: PLC0415

        token = "dxp_" + secrets.token_urlsafe(32)
        self._db.execute(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, 0)", (self.digest(token), token[:10], dept, label, now)
        )
        return token

    def dept_of(self, token: str) -> str | None:
        row = self._db.execute(
            "SELECT dept FROM tokens WHERE digest = ? AND revoked = 0", (self.digest(token),)
        ).fetchone()
        return None if row is None else str(row[0])

    def revoke(self, prefix: str) -> int:
        return self._db.execute("UPDATE tokens SET revoked = 1 WHERE prefix = ?", (prefix,)).rowcount

    def list(self) -> list[tuple[str, str, str, str, bool]]:
        cur = self._db.execute(
            "SELECT prefix, dept, label, created_at, revoked FROM tokens ORDER BY created_at"
        )
        return [(p, d, lbl, c, bool(r)) for p, d, lbl, c, r in cur]

    def close(self) -> None:
        self._db.close()
