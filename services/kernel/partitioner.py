"""Kafka's default partitioner for keyed records, faster than aiokafka's pure-Python one and byte-identical.

Every crx record is keyed, so the partitioner runs once per produced record. ``murmur2`` is the Java client's
``Utils.murmur2`` (as ``aiokafka.partitioner.murmur2``), reading the key's 4-byte words in one ``struct`` call
and masking only where the 32-bit arithmetic needs it; a small cache serves the keys a batch repeats (a
record's outputs to several recipients, its audit events). ``partition_for`` and ``partitioner`` give the same
partition as Java's default partitioner for every key, so records keep the partitions they always had.
"""

from __future__ import annotations

import functools
import random
import struct
from collections.abc import Sequence

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_SEED = 0x9747B28C
_WORDS = [struct.Struct(f"<{n}I") for n in range(64)]  # unpackers for keys up to 255 bytes, made once


@functools.lru_cache(maxsize=8192)
def murmur2(data: bytes) -> int:
    """The 32-bit MurmurHash2 of ``data`` as Kafka computes it (seed 0x9747b28c), unsigned; equal to
    ``aiokafka.partitioner.murmur2(data)`` for all bytes. Raises TypeError for anything but bytes."""
    length = len(data)
    count = length >> 2
    unpack = _WORDS[count] if count < len(_WORDS) else struct.Struct(f"<{count}I")
    h = _SEED ^ length
    for k in unpack.unpack_from(data):
        k = (k * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail:
        end = length & ~3
        if tail == 3:
            h ^= data[end + 2] << 16
        if tail >= 2:
            h ^= data[end + 1] << 8
        h = ((h ^ data[end]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_for(key: bytes, partitions: int) -> int:
    """The partition index (0 to ``partitions`` - 1) Kafka's default partitioner gives ``key``. Raises
    ZeroDivisionError for no partitions."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def partitioner(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """An ``AIOKafkaProducer(partitioner=...)``: ``all_partitions[partition_for(key)]`` for a key (as
    ``aiokafka.partitioner.DefaultPartitioner``), a random available partition (any, if none is) for none."""
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 - spreading load, not a secret
    return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]
