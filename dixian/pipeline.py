"""The embedded pipeline as a product path (``dixian run``): a county's or a city's department files
in a folder, turned into household clues in the village queue, on one machine, without Kafka.

One run: every file of the folder not ingested before is validated and published to the local topic
files (roster files first; a file is known by its content, so a file dropped again is not read
twice); the stream core processes what the local topics gained since the last run against the
household state on disk (``streams.embedded.run_incremental``: new roster records, then the queue's
conclusions recorded since, then the new department events); the queue loads the new alerts and
roster records. The queue's web server, started with the same local directory, publishes its steps
to the local conclusions file, which the next run applies to household state. ``watch`` repeats the
run whenever the folder or the conclusions change.

Files are recognised by name: a department's code or Chinese name at the start (``hrss-2022-07.csv``,
``医保局_7月.xlsx``), ``roster``/``农户名单`` for the roster, ``areas``/``区划`` for the area table; a
``YYYY-MM`` in the name is its reporting month.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from connectors.ingest import Ingester, IngestSummary
from connectors.readers import FileFormatError
from connectors.sinks import LocalSink
from dixian.config import Settings
from dixian.contract import Dept
from dixian.topics import Topics
from screening.areas import read_area_table
from screening.sink import SinkStats, sync_local
from screening.store import Store, store_for
from streams.embedded import EmbeddedResult, EmbeddedState, run_incremental

SUFFIXES = {".csv", ".xlsx", ".jsonl", ".json"}
_MONTH = re.compile(r"(20\d\d)[-_.年]?(0[1-9]|1[0-2])")
_ROSTER = ("roster", "农户名单", "名单")
_AREAS = ("areas", "区划")


@dataclass(frozen=True)
class InboxFile:
    path: Path
    kind: str  # a department code, "roster" or "areas"
    month: str | None


@dataclass
class RunReport:
    ingested: list[IngestSummary] = field(default_factory=list)
    already: list[Path] = field(default_factory=list)  # read by an earlier run (same content)
    unrecognised: list[Path] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)  # could not be read: nothing published
    areas: int = 0
    stream: EmbeddedResult | None = None
    queue: SinkStats | None = None
    households: int = 0

    @property
    def reconciles(self) -> bool:
        return all(s.reconciles for s in self.ingested)


def classify(path: Path) -> InboxFile | None:
    """What a file of the folder holds, from its name; None when the name says nothing."""
    name = path.name.lower()
    if path.suffix.lower() not in SUFFIXES or name.startswith(".") or name == "manifest.json":
        return None
    m = _MONTH.search(path.stem)
    month = f"{m.group(1)}-{m.group(2)}" if m else None
    if name.startswith(_AREAS):
        return InboxFile(path, "areas", month)
    if name.startswith(_ROSTER):
        return InboxFile(path, "roster", month)
    for d in sorted(Dept, key=lambda d: -len(d.value)):  # longest first: no code is a prefix of another
        if name.startswith(d.value) or path.name.startswith(d.zh):
            return InboxFile(path, d.value, month)
    return None


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Inbox:
    """Which files of the folder were ingested (by content), in the embedded state directory. A file
    whose name, size and modification time are those of one ingested is not read again to tell."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS files (digest TEXT PRIMARY KEY, name TEXT NOT NULL,"
            " kind TEXT NOT NULL, ingested_at REAL NOT NULL, size INTEGER, mtime_ns INTEGER)"
        )

    def close(self) -> None:
        self.db.close()

    def unchanged(self, path: Path) -> bool:
        st = path.stat()
        row = self.db.execute(
            "SELECT 1 FROM files WHERE name = ? AND size = ? AND mtime_ns = ?",
            (path.name, st.st_size, st.st_mtime_ns),
        ).fetchone()
        return row is not None

    def seen(self, digest: str) -> bool:
        return self.db.execute("SELECT 1 FROM files WHERE digest = ?", (digest,)).fetchone() is not None

    def done(self, digest: str, f: InboxFile) -> None:
        st = f.path.stat()
        self.db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
            (digest, f.path.name, f.kind, time.time(), st.st_size, st.st_mtime_ns),
        )


def state_dir(settings: Settings) -> Path:
    return settings.data_dir / "embedded"


def run_once(
    settings: Settings,
    folder: Path | None,
    *,
    month: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunReport:
    """One run of the embedded pipeline over ``folder`` (None: only the conclusions since the last
    run)."""
    report = RunReport()
    say = progress or (lambda _: None)
    topics = Topics(settings)
    inbox = Inbox(state_dir(settings) / "inbox.sqlite")
    store = store_for(settings)
    state = EmbeddedState(state_dir(settings) / "state.sqlite")
    try:
        # a run killed after appending its outputs is undone first: this run's ingest appends too
        state.recover()
        todo: list[tuple[str, InboxFile]] = []
        for path in sorted(folder.iterdir()) if folder else []:
            if not path.is_file():
                continue
            f = classify(path)
            if f is None:
                report.unrecognised.append(path)
                continue
            if inbox.unchanged(path):
                report.already.append(path)
                continue
            digest = _digest(path)
            if inbox.seen(digest):
                report.already.append(path)
            else:
                todo.append((digest, f))
        # the area table and the roster before the department files
        todo.sort(key=lambda x: (x[1].kind != "areas", x[1].kind != "roster", x[1].path.name))
        asyncio.run(_ingest(settings, todo, inbox, store, report, month, say))
        say("流处理 / stream core")
        report.stream = run_incremental(settings.local_dir, topics, state, deadlines=settings.deadlines())
        report.households = state.households()
        say("载入村级队列 / village queue")
        report.queue = sync_local(store, settings.local_dir, topics)
    finally:
        state.close()
        store.db.close()
        inbox.close()
    return report


async def _ingest(
    settings: Settings,
    todo: list[tuple[str, InboxFile]],
    inbox: Inbox,
    store: Store,
    report: RunReport,
    month: str | None,
    say: Callable[[str], None],
) -> None:
    sink = LocalSink(settings.local_dir)
    await sink.start()
    ingester = Ingester(settings, sink)
    try:
        for digest, f in todo:
            say(f"导入 / ingesting {f.path.name}")
            try:
                if f.kind == "areas":
                    names, problems = read_area_table(f.path)
                    report.areas += store.areas.load(names)
                    if problems:
                        report.refused.append((f.path, f"{len(problems)} 行不是本市的乡镇或村，已跳过"))
                else:
                    summary = await ingester.ingest_file(
                        f.kind, f.path, month=month or f.month or settings.now().strftime("%Y-%m")
                    )
                    report.ingested.append(summary)
                await sink.flush()
                inbox.done(digest, f)
            except (FileFormatError, ValueError, OSError) as exc:
                report.refused.append((f.path, str(exc)))
    finally:
        ingester.close()
        await sink.stop()


def _signature(settings: Settings, folder: Path | None) -> tuple[object, ...]:
    """What a watcher compares: the folder's files and the local conclusions file's size."""
    conclusions = settings.local_dir / f"{Topics(settings).conclusions}.jsonl"
    files = (
        tuple(
            sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file())
        )
        if folder
        else ()
    )
    return files, conclusions.stat().st_size if conclusions.exists() else 0


def watch(
    settings: Settings,
    folder: Path | None,
    every: float,
    on_run: Callable[[RunReport], None],
    *,
    month: str | None = None,
    progress: Callable[[str], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Run now, then again whenever the folder or the queue's conclusions change (checked every
    ``every`` seconds), until ``stop()``."""
    last: tuple[object, ...] | None = None
    while not stop():
        now = _signature(settings, folder)
        if now != last:
            on_run(run_once(settings, folder, month=month, progress=progress))
            last = now  # what arrived during the run is a change for the next look
        time.sleep(every)


# ---- moving to Kafka ------------------------------------------------------------------------------
class MoveError(RuntimeError):
    """The embedded pipeline cannot be moved now; the message says what to do."""


@dataclass
class MoveReport:
    records: dict[str, int] = field(default_factory=dict)  # topic → records produced
    states: int = 0


def _unread(path: Path, position: int) -> bool:
    return path.exists() and path.stat().st_size > position


async def move_to_kafka(settings: Settings, progress: Callable[[str], None] | None = None) -> MoveReport:
    """Hand the embedded pipeline over to Kafka and the Faust workers, once, into empty topics: the
    local topic files' history is produced to the topics (roster, department events, conclusions,
    alerts, dead letters: what a rebuild of the queue reads), the household state on disk to the
    workers' table changelog (they recover it on start), and the workers' and the queue sink's
    consumer groups are committed at the end of what was handed over, so nothing is processed twice
    and the roster is not applied again over the county's decisions. The queue's store stays where it
    is: point ``DIXIAN_SCREENING_DB`` of the Kafka services at it. Stop the queue's web server first
    (its steps must not be appended during the move) and start no worker or sink before it reports
    done (their groups are committed last)."""
    from aiokafka import TopicPartition  # noqa: PLC0415

    from connectors.kafka import commit_group_at, end_offsets, ensure_topics  # noqa: PLC0415
    from connectors.sinks import KafkaSink, read_local  # noqa: PLC0415
    from dixian.topics import TopicSpec  # noqa: PLC0415
    from screening.sink import sink_group  # noqa: PLC0415

    say = progress or (lambda _: None)
    topics = Topics(settings)
    local = settings.local_dir
    inputs = [topics.households, topics.conclusions, *(topics.dept(d) for d in Dept)]
    state = EmbeddedState(state_dir(settings) / "state.sqlite")
    store = store_for(settings)
    try:
        state.recover()
        behind = [t for t in inputs if _unread(local / f"{t}.jsonl", state.position(t, local / f"{t}.jsonl"))]
        queued = {r["topic"]: int(r["position"]) for r in store.db.query("SELECT * FROM local_positions")}
        behind += [
            t
            for t in (topics.households, topics.alerts, topics.feed_runs)
            if _unread(local / f"{t}.jsonl", queued.get(t, 0))
        ]
        if behind:
            raise MoveError(
                f"本地数据尚未处理完（{', '.join(sorted(set(behind)))}）：先运行 dixian run，再迁移"
                " / the local topics hold records not processed yet: run `dixian run` first"
            )
        changelog = TopicSpec(topics.household_changelog, settings.partitions, compacted=True)
        await ensure_topics(settings.kafka, [*topics.all(), changelog], settings.replication_factor)
        outputs = [topics.households, *(topics.dept(d) for d in Dept), topics.conclusions, topics.alerts]
        outputs += [topics.dead_letter, topics.feed_runs, changelog.name]
        held = {tp.topic for tp, end in (await end_offsets(settings.kafka, outputs)).items() if end > 0}
        if held:
            raise MoveError(
                f"Kafka 中这些主题已有数据：{', '.join(sorted(held))}；迁移只做一次，且只能迁入空主题。"
                "若上次迁移中途失败，删除这些主题后重新迁移 / these topics already hold records: the move is"
                " done once, into empty topics; after a move that failed partway, delete them and move again"
            )
        report = MoveReport()
        sink = KafkaSink(settings.kafka)
        await sink.start()
        try:
            for topic in outputs[:-1]:
                say(f"→ {topic}")
                chunk: list[tuple[bytes, bytes]] = []
                for rec in read_local(local / f"{topic}.jsonl"):
                    chunk.append(rec)
                    if len(chunk) >= 5000:
                        await sink.send(topic, chunk)
                        report.records[topic] = report.records.get(topic, 0) + len(chunk)
                        chunk = []
                await sink.send(topic, chunk)
                report.records[topic] = report.records.get(topic, 0) + len(chunk)
            say(f"→ {changelog.name} (household state)")
            rows = state.db.execute("SELECT key, state FROM households ORDER BY key")
            while batch := rows.fetchmany(5000):
                await sink.send(changelog.name, [(bytes(k), bytes(v)) for k, v in batch])
                report.states += len(batch)
            await sink.flush()
        finally:
            await sink.stop()
        ends = await end_offsets(settings.kafka, [*inputs, topics.alerts, topics.feed_runs])
        tps: dict[str, dict[TopicPartition, int]] = {}
        for tp, end in ends.items():
            tps.setdefault(tp.topic, {})[tp] = end
        workers = {tp: end for t in inputs for tp, end in tps[t].items()}
        queued_topics = (topics.households, topics.alerts, topics.feed_runs)
        queue = {tp: end for t in queued_topics for tp, end in tps[t].items()}
        await commit_group_at(settings.kafka, settings.worker_id, workers)
        await commit_group_at(settings.kafka, sink_group(settings), queue)
        return report
    finally:
        state.close()
        store.db.close()
