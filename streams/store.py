"""The household table's store: Faust's in-memory store, recovered in bulk.

Faust recovers a table by passing every changelog record through its consumer path (~150 µs a
record here: 1M households took ~3 minutes). On a rebalance, before Faust's recovery asks how far
the store already is, this store reads its active changelog partitions itself with a plain consumer
(a few µs a record) and answers with the last offset it applied (``persisted_offset``); Faust's own
recovery then reads only what was written after that. The data ends as Faust would leave it: the
records applied in offset order, the last one per key winning.

Faust's memory store also keeps each key's partition in a second dict, to drop the keys of revoked
partitions. The household table uses the partitioner (a key's partition is its murmur2 partition,
and so is its changelog partition), so ``KeyPartitions`` computes it when asked instead of keeping
it: 528 → 442 MiB of worker RSS with a million households (bench/README.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.stores import STORES, memory
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from dixian.contract.partitioning import murmur2_partition

log = logging.getLogger("dixian.streams")
SCHEME = "dixian-memory"


class KeyPartitions(MutableMapping[bytes, int]):
    """The partition of each key of ``data``, computed from the key (murmur2, as the producers and
    the table's partitioner place it), not stored. Setting one only notes that the store holds keys
    of that partition; deleting one is left to ``data``."""

    def __init__(self, data: Mapping[bytes, bytes], partitions: Callable[[], int]) -> None:
        self._data = data
        self._count = partitions  # asked on first use: the store exists before its table is set
        self._partitions = 0
        self.held: set[int] = set()  # partitions the store has held keys of

    def __getitem__(self, key: bytes) -> int:
        if key not in self._data:
            raise KeyError(key)
        if not self._partitions:
            self._partitions = self._count()
        return murmur2_partition(key, self._partitions)

    def __setitem__(self, key: bytes, partition: int) -> None:
        self.held.add(partition)

    def __delitem__(self, key: bytes) -> None:
        if key not in self._data:
            raise KeyError(key)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class BulkRecoveredStore(memory.Store[bytes, bytes]):
    def __post_init__(self) -> None:
        super().__post_init__()
        self._applied: dict[TopicPartition, int] = {}  # last changelog offset applied, per partition
        self._key_partition = KeyPartitions(
            self.data, lambda: int(self.table.partitions or self.app.conf.topic_partitions)
        )

    async def on_recovery_completed(self, active_tps: Any, standby_tps: Any) -> None:
        """Drop the keys of partitions no longer held; computing every key's partition only when the
        store has held keys of a partition it no longer has."""
        partitions = {tp.partition for tp in active_tps}
        held: KeyPartitions = self._key_partition  # type: ignore[assignment]
        if held.held <= partitions:
            return
        stale = [k for k, p in held.items() if p not in partitions]
        for k in stale:
            self.data.pop(k, None)
        held.held &= partitions
        log.info("household table: %d households of revoked partitions dropped", len(stale))

    def persisted_offset(self, tp: Any) -> int | None:
        return self._applied.get(TopicPartition(tp.topic, tp.partition))

    def set_persisted_offset(self, tp: Any, offset: int) -> None:
        key = TopicPartition(tp.topic, tp.partition)
        if offset > self._applied.get(key, -1):
            self._applied[key] = offset

    async def on_rebalance(
        self, assigned: Any, revoked: Any, newly_assigned: Any, generation_id: int = 0
    ) -> None:
        """Called by Faust's table manager before its recovery reads ``persisted_offset``."""
        topic: str = self.table.changelog_topic_name  # type: ignore[attr-defined]
        actives = {
            TopicPartition(tp.topic, tp.partition)
            for tp in self.app.assignor.assigned_actives()
            if tp.topic == topic
        }
        for tp in list(self._applied):
            if tp not in actives:  # revoked: Faust drops its keys, and reads it again if it returns
                del self._applied[tp]
        if actives:
            await self._load(actives)

    async def _load(self, tps: set[TopicPartition]) -> None:
        started = time.perf_counter()
        # the servers, protocol and credentials of the app's own consumers
        client = {
            "bootstrap_servers": [f"{u.host}:{u.port or 9092}" for u in self.app.conf.broker],
            **credentials_to_aiokafka_auth(self.app.conf.broker_credentials),
        }
        starts = {tp: self._applied.get(tp, -1) + 1 for tp in tps}
        applied, last = await load_changelog(client, starts, self.data, self._key_partition)
        self._applied.update(last)
        if applied:
            log.info(
                "household table: %d changelog records of %d partitions loaded in %.1fs",
                applied,
                len(tps),
                time.perf_counter() - started,
            )


async def load_changelog(
    client: Mapping[str, Any],
    starts: dict[TopicPartition, int],
    data: MutableMapping[bytes, bytes],
    key_partition: MutableMapping[bytes, int],
) -> tuple[int, dict[TopicPartition, int]]:
    """Apply the changelog records of each partition from its start offset to the end offset it has
    now: the last one per key wins, a tombstone deletes. Returns how many records were applied and
    the last offset each partition is read to. ``client``: aiokafka's connection options.

    The consumer's reset policy is ``earliest``: with aiokafka's default (``latest``) the reset of a
    freshly assigned partition can land after ``seek_to_beginning`` and move it to the end, so the
    partition looks read while none of its records was returned (seen: 1,718 households of one
    partition missing after a takeover; a test keeps it)."""
    consumer = AIOKafkaConsumer(
        **client,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=2 * 1024 * 1024,
        fetch_max_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    applied = 0
    last: dict[TopicPartition, int] = {}
    try:
        consumer.assign(list(starts))
        ends = await consumer.end_offsets(list(starts))
        todo: dict[TopicPartition, int] = {}
        for tp, start in starts.items():
            if start < ends[tp]:
                consumer.seek(tp, start)  # a start below the log's first offset resets to it
                todo[tp] = ends[tp]
        while todo:
            batches = await consumer.getmany(*todo, timeout_ms=1000, max_records=None)
            for tp, records in batches.items():
                end = todo.get(tp)
                if end is None:
                    continue
                for r in records:
                    if r.offset >= end:
                        break
                    if r.value is None:
                        data.pop(r.key, None)
                        key_partition.pop(r.key, None)
                    else:
                        data[r.key] = r.value
                        key_partition[r.key] = tp.partition
                    last[tp] = r.offset
                    applied += 1
            for tp in list(todo):  # compaction can leave the last offsets empty
                if await consumer.position(tp) >= todo[tp]:
                    last[tp] = todo.pop(tp) - 1
    finally:
        await consumer.stop()
    return applied, last


def register() -> str:
    """Make the store known to Faust by URL; returns the URL to pass as a table's ``store``
    (with a path: Faust ignores a bare ``scheme://`` URL, which yarl treats as false)."""
    STORES[SCHEME] = f"{__name__}:BulkRecoveredStore"
    return f"{SCHEME}://household/"
