"""The embedded runner: the whole stream pipeline in one process, no Kafka. A host of the one driver
(``streams.driver``), like the Faust worker: it reads the local topic files written by ``LocalSink``,
keeps household state in memory, writes the alerts to ``alerts.jsonl`` beside the inputs and refused
records (with the reason) to the local dead-letter topic file, as the worker sends them to the
dead-letter topic.

Order: the roster first (as it is loaded before the monthly feeds), then each department's events in
the order the department published them, then screening conclusions. Within a household and a
department this is the order a Kafka partition keeps.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from connectors.sinks import (
    LocalSink,
    local_head,
    local_line,
    read_local,
    read_local_from,
    replace_local_letters,
    resume_at,
)
from dixian.contract import Dept
from dixian.contract.alerts import Alert
from dixian.contract.deadletter import DeadLetter
from dixian.contract.deadlines import Deadlines
from dixian.topics import Topics
from rules.live import LiveCatalogue
from streams.core import HouseholdState, decode_state, encode_state
from streams.driver import Driver, Effects, InputRecord, Load, alert_record

BATCH = 5000


@dataclass
class EmbeddedResult:
    consumed: Counter[str] = field(default_factory=Counter)
    applied: Counter[str] = field(default_factory=Counter)
    redelivered: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    rule_hits: Counter[str] = field(default_factory=Counter)
    suppressed: int = 0
    households: dict[str, HouseholdState] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)  # latest revision per alert id
    catalogue_version: str = ""

    def add(self, effects: Effects) -> None:
        for (name, labels), n in effects.counts.items():
            if name == "events_consumed":
                self.consumed[labels[0]] += n
            elif name == "events_applied":
                self.applied[labels[0]] += n
            elif name == "redeliveries":
                self.redelivered[labels[0]] += n
            elif name == "dead_letters":
                self.dead_letters[labels[1]] += n
            elif name == "rule_hits":
                self.rule_hits[labels[0]] += n
            elif name == "alerts_suppressed":
                self.suppressed += n
        for key, state in effects.states.items():
            self.households[key.decode()] = state
        for doc in effects.alerts:
            self.alerts[doc["alert_id"]] = Alert.model_validate(doc)


def local_records(local_dir: Path, topics: Topics) -> Iterator[InputRecord]:
    """The embedded order of the local topic files: roster, each department, conclusions."""
    names = [topics.households, *(topics.dept(d) for d in Dept), topics.conclusions]
    for topic in names:
        for key, value in read_local(local_dir / f"{topic}.jsonl"):
            yield InputRecord(topic, key, value)


def run_embedded(
    local_dir: Path,
    topics: Topics,
    live: LiveCatalogue | None = None,
    deadlines: Deadlines | None = None,
) -> EmbeddedResult:
    own = live is None
    live = live or LiveCatalogue()
    driver = Driver(topics, live, deadlines or Deadlines())
    result = EmbeddedResult(catalogue_version=live.version)
    out: list[tuple[bytes, bytes]] = []
    letters: list[DeadLetter] = []
    records = local_records(local_dir, topics)
    try:
        while batch := list(islice(records, BATCH)):
            effects = driver.process(batch, lambda key: result.households.get(key.decode()))
            result.add(effects)
            out.extend(map(alert_record, effects.published))
            letters.extend(effects.dead_letters)
    finally:
        if own:
            live.close()
    channels = {d.value for d in Dept} | {"roster", "conclusions"}
    replace_local_letters(local_dir, topics.dead_letter, letters, channels)
    alerts_path = local_dir / f"{topics.alerts}.jsonl"
    alerts_path.unlink(missing_ok=True)  # a run publishes the alerts of its inputs, from scratch

    async def write() -> None:
        sink = LocalSink(local_dir)
        await sink.start()
        await sink.send(topics.alerts, out)
        await sink.stop()

    asyncio.run(write())
    return result


# ---- the embedded product path: state on disk between runs ----------------------------------------
class EmbeddedState:
    """The embedded pipeline's household state and read positions, on disk between runs (SQLite):
    what the Faust worker keeps in its tables and committed offsets.

    A run's outputs are appended to the local alert and dead-letter files before its state and
    positions are committed; the file sizes before the append are recorded first, so a run killed in
    between is undone (the files cut back) and done again on the next run: nothing twice, nothing lost.
    """

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS households (key BLOB PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS positions (
        topic TEXT PRIMARY KEY, position INTEGER NOT NULL, head TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS pending (file TEXT PRIMARY KEY, size INTEGER NOT NULL);
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(self.SCHEMA)

    def close(self) -> None:
        self.db.close()

    def load(self, key: bytes) -> HouseholdState | None:
        row = self.db.execute("SELECT state FROM households WHERE key = ?", (key,)).fetchone()
        return decode_state(key.decode(), row[0]) if row else None

    def households(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM households").fetchone()[0])

    def position(self, topic: str, path: Path) -> int:
        row = self.db.execute("SELECT position, head FROM positions WHERE topic = ?", (topic,)).fetchone()
        return resume_at(path, int(row[0]) if row else None, row[1] if row else None)

    def recover(self) -> int:
        """Undo the appends of a run that was killed before it committed; returns the files cut back."""
        rows = self.db.execute("SELECT file, size FROM pending").fetchall()
        for file, size in rows:
            p = Path(file)
            if p.exists() and p.stat().st_size > size:
                with p.open("r+b") as fh:
                    fh.truncate(size)
                    os.fsync(fh.fileno())  # on disk before the pending record goes
        self.db.execute("DELETE FROM pending")
        return len(rows)

    def commit(
        self,
        outputs: dict[Path, list[bytes]],
        states: dict[bytes, HouseholdState],
        positions: dict[str, tuple[int, str]],
    ) -> None:
        """Append ``outputs`` (lines per file), then store ``states`` and ``positions`` (topic →
        (position, head)) in one transaction."""
        outputs = {p: lines for p, lines in outputs.items() if lines}
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO pending (file, size) VALUES (?, ?)",
            [(str(p), p.stat().st_size if p.exists() else 0) for p in outputs],
        )
        self.db.execute("COMMIT")
        for p, lines in outputs.items():
            p.parent.mkdir(parents=True, exist_ok=True)
            with p.open("ab") as fh:
                fh.write(b"".join(lines))
                fh.flush()
                os.fsync(fh.fileno())
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO households (key, state) VALUES (?, ?)",
            [(k, encode_state(s)) for k, s in states.items()],
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO positions (topic, position, head) VALUES (?, ?, ?)",
            [(t, pos, head) for t, (pos, head) in positions.items()],
        )
        self.db.execute("DELETE FROM pending")
        self.db.execute("COMMIT")


def run_incremental(
    local_dir: Path,
    topics: Topics,
    state: EmbeddedState,
    live: LiveCatalogue | None = None,
    deadlines: Deadlines | None = None,
    commit_every: int = 4 * BATCH,
) -> EmbeddedResult:
    """Process what the local topic files gained since the last run, against the household state on
    disk: new roster records first, then the screening conclusions recorded since (the county's
    decisions of the last run's clues, made before these files came in), then each department's new
    events. New alerts are appended to the local alerts file (the queue loads them from there) and
    refused records to the dead-letter file. The same core and driver as the Faust worker: the same
    inputs in the same order give the same alert ids, revisions and hits."""
    state.recover()
    own = live is None
    live = live or LiveCatalogue()
    driver = Driver(topics, live, deadlines or Deadlines())
    result = EmbeddedResult(catalogue_version=live.version)
    alerts_path, letters_path = (
        local_dir / f"{topics.alerts}.jsonl",
        local_dir / f"{topics.dead_letter}.jsonl",
    )
    states: dict[bytes, HouseholdState] = {}
    positions: dict[str, tuple[int, str]] = {}
    outputs: dict[Path, list[bytes]] = {alerts_path: [], letters_path: []}
    pending = 0

    def load(key: bytes) -> HouseholdState | None:
        return states[key] if key in states else state.load(key)

    def flush() -> None:
        nonlocal states, outputs, pending
        state.commit(outputs, states, positions)
        states, outputs, pending = {}, {alerts_path: [], letters_path: []}, 0

    try:
        for topic in (topics.households, topics.conclusions, *(topics.dept(d) for d in Dept)):
            path = local_dir / f"{topic}.jsonl"
            batch: list[InputRecord] = []
            pos = start = state.position(topic, path)
            for pos, key, value in read_local_from(path, start):
                batch.append(InputRecord(topic, key, value))
                if len(batch) >= BATCH:
                    pending += _apply_batch(
                        driver, batch, load, result, states, outputs, alerts_path, letters_path
                    )
                    # fingerprinted once a line was read: a file created empty has no first line yet
                    positions[topic] = (pos, local_head(path))
                    batch = []
                    if pending >= commit_every:
                        flush()
            if batch:
                pending += _apply_batch(
                    driver, batch, load, result, states, outputs, alerts_path, letters_path
                )
            if pos > start:
                positions[topic] = (pos, local_head(path))
        flush()
    finally:
        if own:
            live.close()
    return result


def _apply_batch(
    driver: Driver,
    batch: list[InputRecord],
    load: Load,
    result: EmbeddedResult,
    states: dict[bytes, HouseholdState],
    outputs: dict[Path, list[bytes]],
    alerts_path: Path,
    letters_path: Path,
) -> int:
    effects = driver.process(batch, load)
    result.add(effects)
    states.update(effects.states)
    outputs[alerts_path].extend(local_line(*alert_record(a)) for a in effects.published)
    outputs[letters_path].extend(
        local_line(d.dept, d.model_dump_json().encode()) for d in effects.dead_letters
    )
    return len(batch)
