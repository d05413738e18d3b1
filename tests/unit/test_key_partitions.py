"""The household table's store computes each key's partition instead of keeping it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from faust.types import TP

from dixian.config import Settings
from dixian.contract.partitioning import partition_of
from streams.app import faust_app
from streams.store import KeyPartitions, register

KEYS = [f"4503210010010{i:03d}".encode() for i in range(200)]


def test_partitions_are_computed_from_the_key() -> None:
    data = dict.fromkeys(KEYS, b"v")
    parts = KeyPartitions(data, lambda: 4)
    for k in KEYS:
        parts[k] = partition_of(k, 4)
    assert dict(parts.items()) == {k: partition_of(k, 4) for k in KEYS}
    assert len(parts) == len(KEYS)
    assert parts.held == {partition_of(k, 4) for k in KEYS}
    assert parts.pop(b"unknown", None) is None
    assert b"unknown" not in parts


def test_recovery_drops_only_the_keys_of_partitions_no_longer_held(tmp_path: Path) -> None:
    app = faust_app(Settings(data_dir=tmp_path, partitions=4))
    table = app.Table("t", default=None, partitions=4, key_type=bytes, value_type=bytes, store=register())
    store = table.data
    for k in KEYS:
        store.data[k] = b"v"
        store._key_partition[k] = partition_of(k, 4)
    topic = table.changelog_topic_name
    everything = {TP(topic, p) for p in range(4)}
    asyncio.run(store.on_recovery_completed(everything, set()))
    assert len(store.data) == len(KEYS)  # all partitions still held: nothing scanned or dropped
    asyncio.run(store.on_recovery_completed({TP(topic, 0), TP(topic, 2)}, set()))
    assert set(store.data) == {k for k in KEYS if partition_of(k, 4) in (0, 2)}
    assert store._key_partition.held == {0, 2}
