"""The producer's partition for a key is the one aiokafka's own DefaultPartitioner picks."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given, settings
from hypothesis import strategies as st

from fourfold.kafka.producer import KeyPartitioner

partition_lists = st.integers(min_value=1, max_value=64).map(lambda n: list(set(range(n))))


@settings(max_examples=500)
@given(keys=st.lists(st.binary(max_size=64), min_size=1, max_size=20), partitions=partition_lists)
def test_every_key_goes_where_aiokafkas_default_partitioner_sends_it(
    keys: list[bytes], partitions: list[int]
) -> None:
    ours = KeyPartitioner()
    for key in keys + keys:  # the second time from the memo
        assert ours.partition(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_a_full_memo_starts_afresh_and_still_partitions_alike() -> None:
    ours = KeyPartitioner(max_keys=3)
    partitions = list(range(6))
    keys = [f"cust-{i}".encode() for i in range(20)] + [b"", b"\x00\xff"]
    for key in keys * 3:
        assert ours.partition(key, partitions) == DefaultPartitioner()(key, partitions, [])


def test_keys_land_where_javas_client_puts_them() -> None:
    # What Kafka's Java client gives these keys on 1,000 partitions (its murmur2, made
    # positive, modulo the count): the vectors other Kafka clients test their ports against.
    java = {b"": 681, b"a": 524, b"ab": 434, b"abc": 107, b"123456789": 566, b"\x00 ": 742}
    ours = KeyPartitioner()
    partitions = list(range(1000))
    assert {key: ours.partition(key, partitions) for key in java} == java
