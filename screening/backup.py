"""Backup and restore of the queue store: what the topics do not hold (accounts, sessions, push tokens,
login throttling) and a faster way back than a rebuild.

- PostgreSQL: ``pg_dump --format=custom`` (consistent: one snapshot, taken while the services run) and
  ``pg_restore`` into an empty database. The tools of the server's major version or newer are needed.
- SQLite (the embedded default): SQLite's online backup API, consistent while the store is in use.

A restore goes into an empty store only; the services stay stopped until it is done (README,
Production: backup and restore).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dixian.config import redact_url
from screening.db import Database


class BackupError(RuntimeError):
    """A backup or restore did not complete; the message says why and what to do."""


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL client (apt-get install postgresql-client)"
        )
    return found


def _pg_env(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and the password in PGPASSWORD (never on a command line)."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = parts.password
        host = parts.hostname or ""
        netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
        url = urlunsplit(parts._replace(netloc=netloc))
    return url, env


def _run(cmd: list[str], env: dict[str, str], what: str, url: str) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(
            f"{what} of {redact_url(url)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
        )


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: consistent while another connection writes."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def backup(url: str, target: Path) -> int:
    """Write a consistent copy of the store at ``url`` to ``target``; returns its size in bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")  # a failed backup never looks like a good one
    if url.startswith("sqlite:///"):
        _sqlite_copy(Path(url.removeprefix("sqlite:///")), partial)
    else:
        plain, env = _pg_env(url)
        _run(
            [_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}", plain],
            env,
            "pg_dump",
            url,
        )
    partial.replace(target)
    return target.stat().st_size


def restore(url: str, source: Path) -> None:
    """Restore a backup into the empty store at ``url`` (schema and data)."""
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    if _holds_tables(url):
        raise BackupError(
            f"the store at {redact_url(url)} is not empty: restore into a new database"
            " (createdb, or a new SQLite path) and point DIXIAN_SCREENING_DB at it"
        )
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source, path)
        return
    plain, env = _pg_env(url)
    _run(
        [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={plain}",
            str(source),
        ],
        env,
        "pg_restore",
        url,
    )


def _holds_tables(url: str) -> bool:
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return False
    db = Database(url)
    try:
        if db.dialect == "sqlite":
            rows = db.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = db.query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
        return bool(rows)
    finally:
        db.close()
