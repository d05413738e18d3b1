"""Where ingested records go: Kafka topics, or local JSON Lines files for the embedded default.

Both take keyed records per topic and guarantee that after ``flush()`` returns every record
sent so far is durable (acknowledged by all in-sync replicas, or fsynced to the file).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import IO, Protocol

import orjson

from connectors.kafka import idempotent_producer

Record = tuple[bytes, bytes]  # (key, value)


class Sink(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(self, topic: str, records: list[Record]) -> None: ...
    async def flush(self) -> None: ...


class KafkaSink:
    """Idempotent producer; records keyed by household id land on that household's partition."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = idempotent_producer(bootstrap)
        self._pending: list[asyncio.Future[object]] = []

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, topic: str, records: list[Record]) -> None:
        send = self._producer.send
        for key, value in records:
            self._pending.append(await send(topic, value, key=key))

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)


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

    async def send(self, topic: str, records: list[Record]) -> None:
        fh = self._files.get(topic)
        if fh is None:
            fh = self._files[topic] = self.path(topic).open("ab")
        fh.write(
            b"".join(
                orjson.dumps({"key": k.decode(), "value": orjson.Fragment(v)}) + b"\n" for k, v in records
            )
        )

    async def flush(self) -> None:
        for fh in self._files.values():
            fh.flush()
            os.fsync(fh.fileno())
