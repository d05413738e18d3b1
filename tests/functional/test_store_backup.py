"""Backup and restore of the queue store (PostgreSQL: pg_dump and pg_restore against the real test
server; SQLite: its online backup): the restored store holds the same queue, steps, ledger and accounts,
and a restore never lands on a store that holds data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from screening.backup import BackupError, backup, restore
from screening.workflow import Request
from tests.screening_helpers import (
    OFFICER_A,
    Clock,
    alert,
    china,
    dump_store,
    household,
    open_test_store,
    postgres_base_url,
    store_differences,
)


def _databases(kind: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty stores: the one in use and the one restored into."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'in-use.sqlite'}", f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    base = postgres_base_url()
    names = [f"t_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with psycopg.connect(base, autocommit=True) as conn:
        for n in names:
            conn.execute(f"CREATE DATABASE {n}")
    parts = urlsplit(base)
    try:
        yield tuple(urlunsplit(parts._replace(path=f"/{n}")) for n in names)  # type: ignore[misc]
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            for n in names:
                conn.execute(f"DROP DATABASE IF EXISTS {n} WITH (FORCE)")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_restored_backup_is_the_store_that_was_saved(kind: str, tmp_path: Path) -> None:
    for in_use, empty in _databases(kind, tmp_path):
        clock = Clock(china(2022, 7, 1))
        store = open_test_store(in_use, clock)
        store.ledger.upsert([household(1), household(2)])
        store.clues.upsert_alerts([alert(1), alert(2)])
        store.clues.act(OFFICER_A, alert(1).alert_id, Request("visit", note="见到户主"))
        store.accounts.add("cun-a", "village", OFFICER_A.scope, "a-long-password-1")
        size = backup(in_use, tmp_path / "backups" / "store.dump")
        assert size > 0
        assert not list((tmp_path / "backups").glob("*.partial"))
        restore(empty, tmp_path / "backups" / "store.dump")
        restored = open_test_store(empty, clock)
        try:
            assert store_differences(dump_store(restored), dump_store(store)) == []
            assert restored.db.query("SELECT * FROM accounts") == store.db.query("SELECT * FROM accounts")
            assert restored.db.schema_version() == store.db.schema_version()
            with pytest.raises(BackupError, match="not empty"):
                restore(in_use, tmp_path / "backups" / "store.dump")
        finally:
            restored.db.close()
            store.db.close()
