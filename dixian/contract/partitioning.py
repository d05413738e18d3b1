"""Which partition a household's records go to: the Java Kafka client's default partitioner
(murmur2 of the key, made positive, modulo the partition count). Every producer of a household-keyed
topic must agree with it, since the workers' state tables are partitioned the same way; librdkafka
clients (kcat, confluent-kafka) default to another hash and must be told ``partitioner=murmur2_random``
— or the workers forward their records to the right partition.

Written from the algorithm's definition (Austin Appleby's MurmurHash2 as Kafka's ``Utils.murmur2``
uses it: seed 0x9747b28c); a unit test holds it against aiokafka's implementation.
"""

from __future__ import annotations

import struct
from functools import lru_cache

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


_WORDS = [struct.Struct(f"<{n}I") for n in range(64)]  # little-endian 32-bit words, by count


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit murmur2 of ``data`` (unsigned)."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    words = length // 4
    unpack = _WORDS[words].unpack_from if words < 64 else struct.Struct(f"<{words}I").unpack_from
    for word in unpack(data):
        k = (word * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = data[words * 4 :]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The partition of a keyed record on a topic of ``partitions`` partitions (not cached: for a
    pass over many keys, such as a whole table, which would only churn ``partition_of``'s cache)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@lru_cache(maxsize=1 << 16)  # a batch's households, and every village and department
def partition_of(key: bytes, partitions: int) -> int:
    """The partition of a keyed record on a topic of ``partitions`` partitions."""
    return murmur2_partition(key, partitions)
