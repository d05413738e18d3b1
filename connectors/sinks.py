"""Where ingested records go: Kafka topics, or local JSON Lines files for the embedded default.

Both take keyed records per topic and guarantee that after ``flush()`` returns every record
sent so far is durable (acknowledged by all in-sync replicas, or fsynced to the file).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

import orjson
from aiokafka import AIOKafkaProducer

from connectors.kafka import idempotent_producer
from dixian.contract.deadletter import DeadLetter
from dixian.contract.partitioning import partition_of
from dixian.contract.wire import batch_value
from dixian.kafka_access import KafkaTarget

Record = tuple[bytes, bytes]  # (key, value)


class Sink(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(self, topic: str, records: list[Record]) -> None: ...
    async def send_events(self, topic: str, records: list[Record]) -> None:
        """Department events (household key, event JSON) for a ``dept.*`` topic: a sink may pack
        the events of one partition into batch records (see ``batch_records``)."""

    async def flush(self) -> None: ...


# A batch record of a dept.* topic holds at most this many events and bytes: Faust's per-record cost
# is paid once per batch, and a record stays far below the broker's 1 MiB message limit.
BATCH_EVENTS = 500
BATCH_BYTES = 256 * 1024


def batch_records(
    records: list[Record], partitions: int, *, max_events: int = BATCH_EVENTS, max_bytes: int = BATCH_BYTES
) -> dict[int, list[Record]]:
    """Department events packed into batch records, per partition: each record's value is a JSON
    array of events whose households all belong to that partition, and its key is the first event's
    household id (so any partitioner that honours keys puts it where its events belong)."""
    by_partition: dict[int, list[Record]] = {}
    for key, value in records:
        by_partition.setdefault(partition_of(key, partitions), []).append((key, value))
    out: dict[int, list[Record]] = {}
    for p, items in by_partition.items():
        packed: list[Record] = []
        first, size = b"", 2
        values: list[bytes] = []
        for key, value in items:
            if values and (len(values) == max_events or size + len(value) + 1 > max_bytes):
                packed.append((first, batch_value(values)))
                values, size = [], 2
            if not values:
                first = key
            values.append(value)
            size += len(value) + 1
        if values:
            packed.append((first, batch_value(values)))
        out[p] = packed
    return out


class KafkaSink:
    """Idempotent producer; records keyed by household id land on that household's partition.

    Records are grouped per partition into producer batches (``create_batch``/``send_batch``), which
    costs a fraction of one ``send()`` per record. Partitions are chosen by the same murmur2 hash as
    the Java client, so departments producing with their own Kafka clients agree with us.
    """

    PARTITION_CACHE_LIMIT = 1_000_000

    def __init__(self, kafka: KafkaTarget) -> None:
        self._kafka = kafka
        self._producer_or_none: AIOKafkaProducer | None = None  # made in start(): it needs the loop
        self._pending: list[asyncio.Future[object]] = []
        self._partition_of: dict[tuple[bytes, int], int] = {}

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._producer_or_none is None:
            raise RuntimeError("KafkaSink.start() was not awaited")
        return self._producer_or_none

    async def start(self) -> None:
        producer = idempotent_producer(self._kafka)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # a producer that never connected still holds a client
            raise
        self._producer_or_none = producer

    async def stop(self) -> None:
        if self._producer_or_none is not None:
            await self._producer_or_none.stop()
            self._producer_or_none = None

    def _partition(self, key: bytes, partitions: list[int]) -> int:
        cache_key = (key, len(partitions))
        p = self._partition_of.get(cache_key)
        if p is None:
            if len(self._partition_of) >= self.PARTITION_CACHE_LIMIT:
                self._partition_of.clear()
            p = self._partition_of[cache_key] = partition_of(key, len(partitions))
        return p

    async def send(self, topic: str, records: list[Record]) -> None:
        partitions = sorted(await self._producer.partitions_for(topic))
        by_partition: dict[int, list[Record]] = {}
        for record in records:
            by_partition.setdefault(self._partition(record[0], partitions), []).append(record)
        await self._send_batches(topic, by_partition)

    async def send_events(self, topic: str, records: list[Record]) -> None:
        partitions = await self._producer.partitions_for(topic)
        await self._send_batches(topic, batch_records(records, len(partitions)))

    async def _send_batches(self, topic: str, by_partition: dict[int, list[Record]]) -> None:
        producer = self._producer
        for partition, items in by_partition.items():
            batch = producer.create_batch()
            for key, value in items:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    self._pending.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        raise ValueError(f"record of {len(value)} bytes exceeds the producer's batch size")
            self._pending.append(await producer.send_batch(batch, topic, partition=partition))

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)


def read_local(path: Path) -> Iterator[Record]:
    """The (key, value JSON) records of a local topic file written by ``LocalSink``; none if absent."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        for line in fh:
            rec = orjson.loads(line)
            yield rec["key"].encode(), orjson.dumps(rec["value"])


def read_local_from(path: Path, start: int, end: int | None = None) -> Iterator[tuple[int, bytes, bytes]]:
    """The records of a local topic file from byte ``start`` (a position an earlier read returned) to
    ``end`` (default: the file's size now, so lines appended meanwhile wait for the next read), each
    with the position after it. A partly written last line is left for the next read."""
    if not path.exists():
        return
    end = path.stat().st_size if end is None else end
    with path.open("rb") as fh:
        fh.seek(start)
        pos = start
        while pos < end:
            line = fh.readline()
            if not line.endswith(b"\n"):
                return
            pos += len(line)
            rec = orjson.loads(line)
            yield pos, rec["key"].encode(), orjson.dumps(rec["value"])


def local_line(key: bytes | str, value: bytes) -> bytes:
    """One record of a local topic file: ``{"key": ..., "value": ...}`` and a newline."""
    k = key.decode() if isinstance(key, bytes) else key
    return orjson.dumps({"key": k, "value": orjson.Fragment(value)}) + b"\n"


def resume_at(path: Path, position: int | None, head: str | None) -> int:
    """Where a reader that stopped at ``position`` of a file whose first line had fingerprint
    ``head`` goes on: there, or from the start when it never read the file or the file was rewritten
    (another first line, or shorter than the position)."""
    size = path.stat().st_size if path.exists() else 0
    if position is None or head != local_head(path) or position > size:
        return 0
    return position


def local_head(path: Path) -> str:
    """A fingerprint of the file's first line: a file rewritten from scratch (not appended to) gets a
    new one, so a reader that kept a position in it starts again."""
    if not path.exists():
        return ""
    with path.open("rb") as fh:
        return hashlib.blake2b(fh.readline(), digest_size=8).hexdigest()


def open_for_append(path: Path) -> IO[bytes]:
    """Open a local topic file to append to, first cutting a partly written last line (a writer
    killed mid-line) so that the next record starts a line of its own."""
    if path.exists() and (size := path.stat().st_size):
        with path.open("r+b") as fh:
            fh.seek(size - 1)
            if fh.read(1) != b"\n":
                keep = size
                while keep > 0:
                    step = min(65536, keep)
                    fh.seek(keep - step)
                    cut = fh.read(step).rfind(b"\n")
                    if cut >= 0:
                        keep = keep - step + cut + 1
                        break
                    keep -= step
                fh.truncate(keep)
    return path.open("ab")


class LocalSink:
    """Appends ``{"key": ..., "value": ...}`` lines to ``<dir>/<topic>.jsonl`` (embedded default)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, IO[bytes]] = {}

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        await self.flush()
        for fh in self._files.values():
            fh.close()
        self._files.clear()

    def path(self, topic: str) -> Path:
        return self.directory / f"{topic}.jsonl"

    async def send_events(self, topic: str, records: list[Record]) -> None:
        await self.send(topic, records)  # one event per line: the files stay readable

    async def send(self, topic: str, records: list[Record]) -> None:
        fh = self._files.get(topic)
        if fh is None:
            fh = self._files[topic] = open_for_append(self.path(topic))
        fh.write(b"".join(local_line(k, v) for k, v in records))

    async def flush(self) -> None:
        for fh in self._files.values():
            fh.flush()
            os.fsync(fh.fileno())


def append_local_letters(directory: Path, topic: str, letters: list[DeadLetter]) -> None:
    """Embedded default: add a stage's new dead letters to the local dead-letter topic file."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f"{topic}.jsonl").open("ab") as fh:
        fh.write(b"".join(local_line(d.dept, d.model_dump_json().encode()) for d in letters))


def replace_local_letters(directory: Path, topic: str, letters: list[DeadLetter], channels: set[str]) -> None:
    """Embedded default: put a stage's dead letters in the local dead-letter topic file, replacing
    those an earlier run of the same stage wrote (source "stream" on one of ``channels``). A stage
    that reprocesses its inputs from scratch then never reports a refusal twice; the letters of other
    stages (file / HTTP ingestion) stay as they are."""
    path = directory / f"{topic}.jsonl"
    kept: list[bytes] = []
    if path.exists():
        for line in path.read_bytes().splitlines():
            value = orjson.loads(line)["value"]
            if not (value.get("source") == "stream" and value.get("dept") in channels):
                kept.append(line)
    fresh = [
        orjson.dumps({"key": d.dept, "value": orjson.Fragment(d.model_dump_json().encode())}) for d in letters
    ]
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_bytes(b"".join(line + b"\n" for line in (*kept, *fresh)))
    tmp.replace(path)
