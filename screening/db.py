"""One small database layer for SQLite (embedded default) and PostgreSQL (production), so the store's
SQL is written once. Queries use ``?`` placeholders (rewritten to ``%s`` for psycopg); every timestamp
is stored as ISO-8601 text in China time and every flag as 0/1, which both engines order alike.

URLs: ``sqlite:///relative/or/absolute/path.sqlite`` or ``postgresql://user:pass@host:port/db``.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from dixian.config import redact_url
from dixian.contract.events import now_china

Row = dict[str, Any]
Params = Sequence[Any]


class DatabaseError(RuntimeError):
    """The store could not be opened or migrated; the message says what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def migrations() -> list[Migration]:
    """``screening/migrations/NNN_name.sql``, in version order; statements end with ``;`` at a line end."""
    out = []
    for item in resources.files("screening").joinpath("migrations").iterdir():
        m = re.fullmatch(r"(\d{3})_(\w+)\.sql", item.name)
        if not m:
            continue
        text = "\n".join(
            line
            for line in item.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith("--")
        )
        stmts = tuple(s.strip() for s in re.split(r";\s*$", text, flags=re.M) if s.strip())
        out.append(Migration(int(m.group(1)), m.group(2), stmts))
    return sorted(out, key=lambda x: x.version)


class Database:
    """A connection with a lock (one statement at a time per process) and explicit transactions."""

    dialect: Literal["sqlite", "postgresql"]

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._depth = 0
        self._held: set[int] = set()  # serialise() keys the open transaction holds
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self.dialect = "sqlite"
            self._sqlite = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            self._sqlite.row_factory = sqlite3.Row
            self._sqlite.execute("PRAGMA journal_mode=WAL")
            self._sqlite.execute("PRAGMA synchronous=NORMAL")
            self._sqlite.execute("PRAGMA foreign_keys=ON")
            # PostgreSQL's md5(text), so that SQL computing keyed ids is the same on both
            self._sqlite.create_function(
                "md5",
                1,
                lambda v: hashlib.md5(str(v).encode(), usedforsecurity=False).hexdigest(),
                deterministic=True,
            )
        elif url.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgresql"
            try:
                self._pg = psycopg.connect(url, autocommit=True, row_factory=dict_row)
            except psycopg.OperationalError as exc:
                raise DatabaseError(
                    f"cannot connect to PostgreSQL at {redact_url(url)}: {exc}".strip()
                    + " — is the server running and the URL (DIXIAN_SCREENING_DB) right?"
                ) from exc
        else:
            raise DatabaseError(
                f"unsupported database URL {redact_url(url)!r}: use sqlite:///path.sqlite or postgresql://…"
            )

    def close(self) -> None:
        with self._lock:
            if self.dialect == "sqlite":
                self._sqlite.close()
            else:
                self._pg.close()

    def _sql(self, sql: str) -> str:
        """psycopg placeholders are %s, so a literal % (a LIKE pattern in the SQL text) is doubled."""
        return sql.replace("%", "%%").replace("?", "%s") if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        with self._lock:
            if self.dialect == "sqlite":
                return self._sqlite.execute(sql, params).rowcount
            with self._pg.cursor() as cur:
                cur.execute(self._sql(sql), params)
                return cur.rowcount

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if not rows:
            return
        with self._lock:
            if self.dialect == "sqlite":
                self._sqlite.executemany(sql, rows)
            else:
                with self._pg.cursor() as cur:
                    cur.executemany(self._sql(sql), rows)

    def query_in(self, sql: str, values: Sequence[Any], suffix: str = "", before: Params = ()) -> list[Row]:
        """``sql IN (values) suffix``, asked in chunks of 500 values (engines bound the parameters of
        one statement); ``suffix`` (an ORDER BY) applies within each chunk; ``before``: the values of
        the placeholders in ``sql``.

        Never a prepared statement on PostgreSQL: psycopg prepares a query run five times, and the
        server may then keep a generic plan made while the table was small. For an IN list that plan
        can be a sequential scan testing every row against each of the 500 values (seen: 45 of the
        sink's 62 s for a month's alerts on a fresh store, against 4–6 s with a plan for the values)."""
        rows: list[Row] = []
        for i in range(0, len(values), 500):
            chunk = list(values[i : i + 500])
            sql_in = f"{sql} IN ({','.join('?' * len(chunk))}){suffix}"
            rows += self.query(sql_in, [*before, *chunk], prepare=False)
        return rows

    def query(self, sql: str, params: Params = (), *, prepare: bool | None = None) -> list[Row]:
        """``prepare``: psycopg's (None: prepared once run five times; False: never)."""
        with self._lock:
            if self.dialect == "sqlite":
                return [dict(r) for r in self._sqlite.execute(sql, params).fetchall()]
            with self._pg.cursor() as cur:
                cur.execute(self._sql(sql), params, prepare=prepare)
                return list(cur.fetchall())

    def one(self, sql: str, params: Params = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all (nested calls join the outer one).

        SQLite takes the write lock at the start (BEGIN IMMEDIATE), so two processes sharing one file
        (sink and web server) serialise instead of failing half-way.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                if self.dialect == "sqlite":
                    self._sqlite.execute("BEGIN IMMEDIATE")
                    try:
                        yield
                    except BaseException:
                        self._sqlite.execute("ROLLBACK")
                        raise
                    self._sqlite.execute("COMMIT")
                else:
                    with self._pg.transaction():
                        yield
            finally:
                self._depth = 0
                self._held.clear()

    def serialise(self, key: int) -> None:
        """Inside a transaction: wait for, then hold until it ends, the lock ``key`` (PostgreSQL's
        transaction-level advisory lock). SQLite needs none: its writers are serialised already
        (``BEGIN IMMEDIATE``). Asked again in the same transaction, it is held already."""
        if self.dialect == "postgresql" and key not in self._held:
            assert self._depth, "serialise() holds its lock until the transaction ends: call it inside one"
            self.execute("SELECT pg_advisory_xact_lock(?)", (key,))
            self._held.add(key)

    # ---- schema ------------------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Apply the migrations not yet applied, each in its own transaction; returns their versions."""
        applied: list[int] = []
        with self.transaction():
            self.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        for m in migrations():
            with self.transaction():
                if self.dialect == "postgresql":
                    # two processes starting together must not both apply a migration
                    self.execute("SELECT pg_advisory_xact_lock(4503)")
                if self.one("SELECT version FROM schema_migrations WHERE version = ?", (m.version,)):
                    continue
                for stmt in m.statements:
                    self.execute(stmt)
                self.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (m.version, m.name, _now_text()),
                )
                applied.append(m.version)
        return applied

    def schema_version(self) -> int:
        row = self.one("SELECT MAX(version) AS v FROM schema_migrations")
        return int(row["v"]) if row and row["v"] is not None else 0


def _now_text() -> str:
    return now_china().isoformat(timespec="seconds")
