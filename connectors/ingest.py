"""Lossless, idempotent ingestion of department feeds and the household roster.

Every record read ends as exactly one of: accepted (published to ``dept.<dept>``), rejected
(published to the dead-letter topic with file, line, field and reason), or duplicate (published
earlier by another delivery, or twice in this one). ``IngestSummary.reconciles`` checks that, always.

Each run is a delivery with an id derived from its content (``dixian.contract.feedruns``): its facts
go to the feed-runs topic when it starts, whenever the broker acknowledged its records, and at its
end. A run killed partway stays ``running`` there; running it again is the same delivery (the rows
it published before are its own, not duplicates), and a file whose delivery completed is not read
again.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from connectors.mapping import ROSTER_REQUIRED, ColumnMapping, MappingError, load_mapping
from connectors.readers import FileFormatError, SourceRow, open_source
from connectors.sinks import Record, Sink
from connectors.stores import QualityCounters, SeenEvents, SnapshotStore
from dixian.config import Settings
from dixian.contract import ContractError, Dept, Household, Member, Problem, parse_event
from dixian.contract.deadletter import DeadLetter
from dixian.contract.events import CHINA_TZ, identity_from_json, now_china
from dixian.contract.feedruns import FeedRun, delivery_id
from dixian.contract.validate import problems_from
from dixian.topics import Topics

Source = Literal["file", "http", "snapshot"]
Progress = Callable[[int], None]
PENDING_ID = "pending-event-id"
MAX_PROBLEMS_KEPT = 1000
_RISK_SPLIT = re.compile(r"[;；,，、|/]")
_HOUSEHOLD_FIELDS = frozenset(Household.model_fields) - {"members"}
_MEMBER_FIELDS = frozenset(Member.model_fields)


@dataclass
class IngestSummary:
    dept: str
    source: str
    file: str | None
    month: str
    encoding: str = ""
    rows_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    late: int = 0
    ownership_conflicts: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    # accepted events per event type: what each rule could have fired on (the report's denominators)
    by_type: Counter[str] = field(default_factory=Counter)
    ignored_headers: list[str] = field(default_factory=list)
    # The first problems, for synchronous callers (HTTP); every problem is on the dead-letter topic.
    problems: list[dict[str, Any]] = field(default_factory=list)
    run_id: str = ""
    started_at: datetime = field(default_factory=now_china)
    # the delivery had been ingested completely before: nothing was read or published this time
    already_ingested: bool = False
    # a snapshot's removal events: published under the snapshot's delivery, not a delivery of their own
    derived: bool = False

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.accepted + self.rejected_total + self.duplicates + self.unchanged

    def run_row(self, status: str = "complete") -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dept": self.dept,
            "month": self.month,
            "source": self.source,
            "file": self.file,
            "encoding": self.encoding,
            "status": status,
            "started_at": self.started_at.isoformat(),
            "finished_at": now_china().isoformat(),
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            # rows unchanged since the previous snapshot are duplicates of what was published then
            "duplicates": self.duplicates + self.unchanged,
            "rejected": self.rejected_total,
            "late": self.late,
            "ownership_conflicts": self.ownership_conflicts,
        }

    def fact(self, status: Literal["running", "complete"]) -> FeedRun:
        row = self.run_row(status)
        return FeedRun(
            run_id=self.run_id,
            dept=self.dept,
            month=self.month,
            source=row["source"],
            file=self.file,
            encoding=self.encoding,
            status=status,
            started_at=self.started_at,
            updated_at=now_china(),
            rows_read=self.rows_read,
            accepted=self.accepted,
            duplicates=row["duplicates"],
            rejected=self.rejected_total,
            late=self.late,
            ownership_conflicts=self.ownership_conflicts,
            rejections=dict(self.rejected),
            event_types={t: n for t, n in self.by_type.items() if t},
        )

    @classmethod
    def recorded(
        cls, row: dict[str, Any], rejections: dict[str, int], by_type: dict[str, int]
    ) -> IngestSummary:
        """A completed delivery as it was recorded (its duplicates include a snapshot's unchanged rows)."""
        s = cls(row["dept"], row["source"], row["file"], row["month"], encoding=row["encoding"] or "")
        s.run_id = row["run_id"]
        if row.get("started_at"):
            s.started_at = datetime.fromisoformat(row["started_at"])
        s.rows_read, s.accepted, s.duplicates = row["rows_read"], row["accepted"], row["duplicates"]
        s.late, s.ownership_conflicts = row["late"], row["ownership_conflicts"]
        s.rejected.update(rejections)
        s.by_type.update(by_type)
        s.already_ingested = True
        return s


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def records_digest(records: list[Any]) -> str:
    """The content of a push, whatever the order of each object's keys (a retry that serialised
    them otherwise is the same delivery)."""
    try:
        canonical = orjson.dumps(records, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        canonical = json.dumps(records, ensure_ascii=False, sort_keys=True, default=repr).encode()
    return hashlib.sha256(canonical).hexdigest()


def tune_gc_for_bulk_work() -> None:
    """Ingestion allocates millions of short-lived, acyclic objects; the default generation-0
    threshold (700) spends ~15% of the time in the cycle collector for nothing."""
    gc.set_threshold(50_000, 20, 100)


def raw_text(record: Any) -> str:
    """The record as JSON text for a dead letter, whatever it holds (huge ints, odd types)."""
    try:
        return orjson.dumps(record).decode()
    except TypeError:
        return json.dumps(record, ensure_ascii=False, default=repr)


def current_month() -> str:
    return now_china().strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class Accepted:
    """A validated event ready to publish: its id, partition key, JSON body and lateness."""

    event_id: str
    key: bytes
    body: bytes
    occurred_at: date
    reported_at: datetime
    event_type: str = ""


def _in_future(reported_at: datetime) -> Problem:
    when = reported_at.strftime("%Y-%m-%d %H:%M")
    return Problem(
        "reported_at",
        "reported_in_future",
        f"报送时间 {when} 晚于当前时间，请核对日期后重新报送",
        f"reported at {when}, which is in the future: check the date and send it again",
    )


def build_event(mapping: ColumnMapping, dept: Dept, values: Mapping[str, Any]) -> Accepted:
    """Map, validate and identify one row. Raises ContractError naming every problem.

    The event is serialized once; its id is derived from that JSON and spliced in (a hot path:
    every row of every feed passes here)."""
    fields = mapping.to_fields(values)
    given_id = fields.get("event_id")
    if not given_id:
        fields["event_id"] = PENDING_ID
    event = parse_event(fields, dept=dept)
    body = event.model_dump_json()
    event_id = event.event_id
    if not given_id:
        event_id = identity_from_json(dept.value, body)
        body = body.replace(f'"event_id":"{PENDING_ID}"', f'"event_id":"{event_id}"', 1)
    return Accepted(
        event_id,
        event.household_id.encode(),
        body.encode(),
        event.occurred_at,
        event.reported_at,
        str(event.event_type),
    )


async def ingest_files(
    settings: Settings, sink: Sink, files: Iterable[tuple[str, Path]], *, month: str | None = None
) -> list[IngestSummary]:
    """Ingest ``(dept or "roster", path)`` files in order through one sink, started and stopped here."""
    await sink.start()
    ingester = Ingester(settings, sink)
    try:
        return [await ingester.ingest_file(dept, path, month=month) for dept, path in files]
    finally:
        ingester.close()
        await sink.stop()


class Ingester:
    """Publishes validated records through a ``Sink``; keeps the dedup index and quality counters."""

    def __init__(
        self,
        settings: Settings,
        sink: Sink,
        *,
        late_after_days: int = 45,
        batch_size: int = 5000,
    ) -> None:
        self.topics = Topics(settings)
        self.now = settings.now  # the deployment's clock (the demo's or a test's date when set)
        self.sink = sink
        self.late_after_days = late_after_days
        self.batch_size = batch_size
        # Batches stay in flight up to this many events before we wait for acknowledgements.
        self.flush_every = max(batch_size, 50_000)
        self._unacked: list[tuple[str, str]] = []  # (event id, run id) sent, not yet acknowledged
        state = settings.ingest_dir
        self.seen = SeenEvents(state / "seen.sqlite")
        self.quality = QualityCounters(state / "quality.sqlite")
        self.snapshots = SnapshotStore(state / "snapshots.sqlite")

    def close(self) -> None:
        self.seen.close()
        self.quality.close()
        self.snapshots.close()

    # ---- a delivery's facts --------------------------------------------------------------------------
    def _begin(self, summary: IngestSummary, digest: str) -> IngestSummary | None:
        """Give the run its delivery id; a delivery recorded as complete is answered from the record."""
        summary.run_id = delivery_id(summary.dept, summary.month, summary.source, digest)
        if self.quality.status(summary.run_id) == "complete":
            got = self.quality.run(summary.run_id)
            if got is not None:
                return IngestSummary.recorded(*got)
        return None

    async def _report(self, summary: IngestSummary, status: Literal["running", "complete"]) -> None:
        """Publish the run's facts as they stand (and keep them locally, for the push server's
        metrics); at the end, wait until the broker has them."""
        self.quality.record(summary.run_row(status), dict(summary.rejected), dict(summary.by_type))
        fact = summary.fact(status)
        await self.sink.send(self.topics.feed_runs, [(fact.key, fact.model_dump_json().encode())])
        if status == "complete":
            await self.sink.flush()

    async def _resend(self, summary: IngestSummary) -> IngestSummary:
        """A completed delivery run again: its facts are published again (the topic keeps one per
        run), nothing else."""
        fact = summary.fact("complete")
        await self.sink.send(self.topics.feed_runs, [(fact.key, fact.model_dump_json().encode())])
        await self.sink.flush()
        return summary

    # ---- department feeds ------------------------------------------------------------------------
    async def ingest_file(
        self,
        dept: str,
        path: Path,
        *,
        month: str | None = None,
        encoding: str | None = None,
        snapshot: bool = False,
        progress: Progress | None = None,
    ) -> IngestSummary:
        """Ingest one department file. Raises FileFormatError / MappingError, publishing nothing,
        when the file cannot be read or lacks required columns."""
        if dept == "roster":
            return await self.ingest_roster(path, month=month, encoding=encoding, progress=progress)
        mapping = load_mapping(dept)
        src = open_source(path, encoding=encoding)
        missing = mapping.check_headers(src.headers)
        # JSON Lines have no header row: an empty file is a valid delivery of "no changes this month"
        if missing and not (src.format == "jsonl" and not src.headers):
            cols = ", ".join(f"{mapping.header_for(f)}({f})" for f in missing)
            raise MappingError(
                f"{path.name}: 缺少必需的列 {cols} / missing required columns: {', '.join(missing)}"
            )
        src.check_structure()
        summary = IngestSummary(
            dept,
            "snapshot" if snapshot else "file",
            path.name,
            month or current_month(),
            encoding=src.encoding,
        )
        summary.ignored_headers = [h for h in src.headers if mapping.field_of(h) is None]
        # the same bytes read the same way: a forced encoding or a changed mapping is another delivery
        done = self._begin(summary, f"{file_digest(path)}|{src.encoding}|{mapping.fingerprint}")
        if done is not None:
            return await self._resend(done)
        await self._report(summary, "running")
        if snapshot:
            await self._ingest_snapshot(mapping, Dept(dept), src.rows(), summary, progress)
        else:
            await self._ingest_rows(mapping, Dept(dept), src.rows(), summary, "file", progress)
        await self._report(summary, "complete")
        return summary

    async def ingest_records(
        self, dept: Dept, records: list[Any], *, month: str | None = None
    ) -> IngestSummary:
        """Records pushed over HTTP (a JSON array of objects); line = position in the array, from 1."""
        mapping = load_mapping(dept.value)
        rows = (
            SourceRow(i, r, raw_text(r))
            if isinstance(r, dict)
            else SourceRow(
                i,
                None,
                raw_text(r),
                Problem("(row)", "not_object", "该条记录不是JSON对象", "record is not a JSON object"),
            )
            for i, r in enumerate(records, start=1)
        )
        summary = IngestSummary(dept.value, "http", None, month or current_month(), encoding="json")
        # A push sent again (a retry) is the same delivery; it is read again, so the sender gets its
        # problems again, and its events, already published by it, count as accepted, not duplicates.
        summary.run_id = delivery_id(summary.dept, summary.month, "http", records_digest(records))
        await self._report(summary, "running")
        await self._ingest_rows(mapping, dept, rows, summary, "http", None)
        await self._report(summary, "complete")
        return summary

    async def record_refusal(
        self, dept: Dept, records: list[Any], letters: list[Record], *, conflicts: int
    ) -> None:
        """A request refused as a whole (一数一源 conflict): every record goes to the dead-letter topic
        and counts as rejected, so the month's counts still reconcile."""
        summary = IngestSummary(dept.value, "http", None, current_month(), encoding="json")
        summary.run_id = delivery_id(summary.dept, summary.month, "http", records_digest(records))
        summary.rows_read = len(letters)
        summary.ownership_conflicts = conflicts
        summary.rejected["ownership_conflict"] = conflicts
        if len(letters) > conflicts:
            summary.rejected["request_refused"] = len(letters) - conflicts
        await self.sink.send(self.topics.dead_letter, letters)
        await self._report(summary, "complete")

    def _letter(
        self, summary: IngestSummary, row: SourceRow, problems: list[Problem], source: Source
    ) -> Record:
        code = problems[0].code
        summary.rejected[code] += 1
        if len(summary.problems) < MAX_PROBLEMS_KEPT:
            summary.problems.extend(
                {"row": row.line, "field": p.field, "code": p.code, "zh": p.zh, "en": p.en} for p in problems
            )
        if code == "ownership_conflict":
            summary.ownership_conflicts += 1
        letter = DeadLetter.from_problems(
            problems,
            source=source,
            dept=summary.dept,
            raw=row.raw,
            at=now_china(),
            file=summary.file,
            row=row.line,
        )
        return summary.dept.encode(), letter.model_dump_json().encode()

    def _is_late(self, event: Accepted) -> bool:
        return (event.reported_at.astimezone(CHINA_TZ).date() - event.occurred_at).days > self.late_after_days

    async def _ingest_rows(
        self,
        mapping: ColumnMapping,
        dept: Dept,
        rows: Iterable[SourceRow],
        summary: IngestSummary,
        source: Source,
        progress: Progress | None,
    ) -> None:
        ids_in_file: set[str] = set()
        pending: list[Accepted] = []
        letters: list[Record] = []
        latest = self.now() + timedelta(days=1)  # a day's grace for clocks; later is a typo (2099)
        for row in rows:
            summary.rows_read += 1
            if row.problem is not None or row.values is None:
                letters.append(self._letter(summary, row, [row.problem] if row.problem else [], source))
            else:
                try:
                    event = build_event(mapping, dept, row.values)
                    if event.reported_at > latest:
                        raise ContractError([_in_future(event.reported_at)])
                except ContractError as exc:
                    letters.append(self._letter(summary, row, exc.problems, source))
                else:
                    if event.event_id in ids_in_file:
                        summary.duplicates += 1
                    else:
                        ids_in_file.add(event.event_id)
                        pending.append(event)
            if len(pending) + len(letters) >= self.batch_size:
                await self._publish(dept, pending, letters, summary)
                pending, letters = [], []
                if progress:
                    progress(summary.rows_read)
        await self._publish(dept, pending, letters, summary)
        await self.commit(summary)
        if progress:
            progress(summary.rows_read)

    async def _publish(
        self, dept: Dept, events: list[Accepted], letters: list[Record], summary: IngestSummary
    ) -> None:
        known = self.seen.known([e.event_id for e in events]) if events else {}
        # published before by this same delivery (a run of it that was stopped): its own rows
        own = [e for e in events if e.event_id in known and known[e.event_id] == summary.run_id]
        fresh = [e for e in events if e.event_id not in known]
        summary.duplicates += len(events) - len(fresh) - len(own)
        if fresh:
            await self.sink.send_events(self.topics.dept(dept), [(e.key, e.body) for e in fresh])
        if letters:
            await self.sink.send(self.topics.dead_letter, letters)
        self._unacked.extend((e.event_id, summary.run_id) for e in fresh)
        counted = fresh + own
        summary.accepted += len(counted)
        summary.by_type.update(e.event_type for e in counted)
        summary.late += sum(1 for e in counted if self._is_late(e))
        if len(self._unacked) >= self.flush_every:
            await self.commit(summary)

    async def commit(self, summary: IngestSummary | None = None) -> None:
        """Wait for the broker's acknowledgements, then remember the events as published (and, for a
        delivery's own rows, publish its facts so far: what a killed run leaves).

        Only after the acknowledgement: a crash before it re-publishes on the next run, which the
        stream processor absorbs by event id (at-least-once with idempotent consumers)."""
        await self.sink.flush()
        by_run: dict[str, list[str]] = {}
        for event_id, run_id in self._unacked:
            by_run.setdefault(run_id, []).append(event_id)
        for run_id, ids in by_run.items():
            self.seen.add(ids, run_id)
        self._unacked = []
        if summary is not None and not summary.derived:
            await self._report(summary, "running")

    # ---- snapshot mode -----------------------------------------------------------------------------
    async def _ingest_snapshot(
        self,
        mapping: ColumnMapping,
        dept: Dept,
        rows: Iterable[SourceRow],
        summary: IngestSummary,
        progress: Progress | None,
    ) -> None:
        """A full monthly extract: publish only rows that are new or changed since the previous
        extract; rows that disappeared become the mapping's removal event (if it defines one)."""
        key_fields = mapping.snapshot_key or ("household_id", "member_id", "event_type")
        previous = self.snapshots.previous(dept.value)
        current: dict[str, tuple[str, str]] = {}
        changed: list[SourceRow] = []
        letters: list[Record] = []
        for row in rows:
            if row.problem is not None or row.values is None:
                summary.rows_read += 1
                letters.append(self._letter(summary, row, [row.problem] if row.problem else [], "snapshot"))
                continue
            fields = mapping.to_fields(row.values)
            key = "|".join(str(fields.get(k, "")) for k in key_fields)
            content = {k: v for k, v in fields.items() if k not in ("reported_at", "event_id")}
            digest = hashlib.blake2b(
                orjson.dumps(content, option=orjson.OPT_SORT_KEYS), digest_size=16
            ).hexdigest()
            if previous.get(key, ("",))[0] == digest:
                summary.rows_read += 1
                summary.unchanged += 1
                current[key] = previous[key]
                continue
            try:
                build_event(mapping, dept, row.values)
            except ContractError as exc:
                # Rejected: the last good version (if any) stays the baseline for the next extract.
                summary.rows_read += 1
                letters.append(self._letter(summary, row, exc.problems, "snapshot"))
                if key in previous:
                    current[key] = previous[key]
                continue
            current[key] = (digest, orjson.dumps(fields).decode())
            changed.append(row)
        if letters:
            await self.sink.send(self.topics.dead_letter, letters)
        await self._ingest_rows(mapping, dept, changed, summary, "snapshot", progress)
        removed_rows: list[SourceRow] = []
        for key, (_, fields_json) in previous.items():
            if key in current:
                continue
            summary.removed += 1
            if mapping.snapshot_removed_event_type:
                fields = orjson.loads(fields_json)
                today = now_china()
                fields.update(
                    event_type=mapping.snapshot_removed_event_type,
                    reported_at=today.strftime("%Y-%m-%d %H:%M:%S"),
                    occurred_at=today.date().isoformat(),
                )
                fields.pop("source_ref", None)
                fields.pop("amount", None)
                removed_rows.append(SourceRow(0, fields, fields_json))
        if removed_rows:
            # Removal events are derived, not read: they are published but not counted as rows read.
            derived = IngestSummary(dept.value, "snapshot", summary.file, summary.month, derived=True)
            derived.run_id = summary.run_id
            await self._ingest_rows(mapping, dept, removed_rows, derived, "snapshot", None)
        self.snapshots.replace(dept.value, current)

    # ---- household roster ---------------------------------------------------------------------------
    async def ingest_roster(
        self,
        path: Path,
        *,
        month: str | None = None,
        encoding: str | None = None,
        progress: Progress | None = None,
    ) -> IngestSummary:
        """The national system's export, one row per member, onto the compacted households topic."""
        mapping = load_mapping("roster")
        src = open_source(path, encoding=encoding)
        missing = mapping.check_headers(src.headers, ROSTER_REQUIRED)
        if missing:
            cols = ", ".join(f"{mapping.header_for(f)}({f})" for f in missing)
            raise MappingError(
                f"{path.name}: 缺少必需的列 {cols} / missing required columns: {', '.join(missing)}"
            )
        src.check_structure()
        summary = IngestSummary("roster", "file", path.name, month or current_month(), encoding=src.encoding)
        # The compacted topic keeps one record per household: a roster delivered again is published
        # again whole (nothing to count twice), under the same delivery id.
        summary.run_id = delivery_id(
            "roster", summary.month, "file", f"{file_digest(path)}|{src.encoding}|{mapping.fingerprint}"
        )
        await self._report(summary, "running")
        letters: list[Record] = []
        households: dict[str, tuple[dict[str, Any], list[tuple[SourceRow, Member]]]] = {}
        for row in src.rows():
            summary.rows_read += 1
            if row.problem is not None or row.values is None:
                letters.append(self._letter(summary, row, [row.problem] if row.problem else [], "file"))
                continue
            fields = mapping.to_fields(row.values)
            if isinstance(fields.get("risk_types"), str):
                fields["risk_types"] = [r for r in _RISK_SPLIT.split(fields["risk_types"]) if r.strip()]
            try:
                member = Member.model_validate({k: v for k, v in fields.items() if k in _MEMBER_FIELDS})
            except ValidationError as exc:
                letters.append(self._letter(summary, row, problems_from(exc), "file"))
                continue
            hh_fields = {k: v for k, v in fields.items() if k in _HOUSEHOLD_FIELDS}
            hid = str(hh_fields.get("household_id", ""))
            entry = households.setdefault(hid, (hh_fields, []))
            if entry[0] != hh_fields:
                letters.append(
                    self._letter(
                        summary,
                        row,
                        [
                            Problem(
                                "(row)",
                                "household_inconsistent",
                                "同一户的户级字段与该户第一行不一致",
                                "household-level columns differ from this household's first row",
                            )
                        ],
                        "file",
                    )
                )
                continue
            if any(m.member_id == member.member_id for _, m in entry[1]):
                summary.duplicates += 1
                continue
            entry[1].append((row, member))
            if progress and summary.rows_read % 5000 == 0:
                progress(summary.rows_read)
        records: list[Record] = []
        for hh_fields, members in households.values():
            if not members:
                continue
            try:
                hh = Household.model_validate({**hh_fields, "members": [m for _, m in members]})
            except ValidationError as exc:
                problems = problems_from(exc)
                letters.extend(self._letter(summary, row, problems, "file") for row, _ in members)
                continue
            heads = sum(1 for m in hh.members if m.relation == "户主")
            if heads != 1:
                problem = Problem(
                    "relation",
                    "head_count",
                    f"该户有{heads}个户主(应为1个)",
                    f"household has {heads} heads, needs exactly one",
                )
                letters.extend(self._letter(summary, row, [problem], "file") for row, _ in members)
                continue
            records.append((hh.household_id.encode(), hh.model_dump_json().encode()))
            summary.accepted += len(members)
        for i in range(0, len(records), self.batch_size):
            await self.sink.send(self.topics.households, records[i : i + self.batch_size])
        if letters:
            await self.sink.send(self.topics.dead_letter, letters)
        await self.sink.flush()
        if progress:
            progress(summary.rows_read)
        await self._report(summary, "complete")
        return summary


__all__ = [
    "FileFormatError",
    "IngestSummary",
    "Ingester",
    "MappingError",
    "build_event",
    "current_month",
    "tune_gc_for_bulk_work",
]
