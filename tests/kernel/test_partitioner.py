"""``services.kernel.partitioner`` gives every key the partition aiokafka's (Java's) default partitioner gives."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference
from hypothesis import given
from hypothesis import strategies as st

from services.kernel.partitioner import murmur2, partition_for, partitioner


@given(st.binary(max_size=300))
def test_murmur2_is_kafkas(key: bytes) -> None:
    """Any length (empty, 1 to 3 bytes of tail, longer than the prepared unpackers), cached or not."""
    assert murmur2.__wrapped__(key) == reference(key)
    assert murmur2(key) == reference(key)


@given(st.binary(max_size=80), st.integers(min_value=1, max_value=64))
def test_partition_is_the_default_partitioners(key: bytes, count: int) -> None:
    partitions = list(range(count))
    expected = DefaultPartitioner()(key, partitions, partitions)
    assert partition_for(key, count) == expected
    assert partitioner(key, partitions, partitions[:1]) == expected  # availability does not move a keyed record


def test_known_hashes_do_not_move() -> None:
    """Pinned against the Java client (org.apache.kafka.common.utils.Utils.murmur2 test vectors)."""
    assert murmur2(b"21") == -973932308 & 0xFFFFFFFF
    assert murmur2(b"foobar") == -790332482 & 0xFFFFFFFF
    assert murmur2(b"a-little-bit-long-string") == -985981536 & 0xFFFFFFFF
    assert murmur2(b"") == 275646681


def test_no_key_goes_to_an_available_partition() -> None:
    assert all(partitioner(None, [0, 1, 2, 3], [2]) == 2 for _ in range(20))
    assert partitioner(None, [0, 1, 2], []) in {0, 1, 2}
