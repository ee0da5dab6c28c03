"""How long the broker may still hand out a record after it was written: the replay window.

A consumer's inbox row must outlive it, or a replay (a lost group offset, a new group, a
reset to `earliest`) applies an event twice. Kafka deletes whole segments, and only once a
segment's newest record is older than `retention.ms`, so a record stays readable for up to
`retention.ms + segment.ms` (plus the broker's retention check interval). A topic that is
compacted or has `retention.ms = -1` keeps records forever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

log = logging.getLogger(__name__)

KAFKA_DEFAULT_SEGMENT_MS = 7 * 24 * 3600 * 1000
FOREVER_AFTER = timedelta(days=365 * 1000)
"""Windows beyond this count as forever: operators write Long.MAX for "keep", and such a
window is not a retention a date can be subtracted from (in Python or PostgreSQL)."""


@dataclass(frozen=True)
class ReplayWindow:
    topic: str
    keeps_for: timedelta | None
    """None: the topic keeps its records forever."""


def window_from_config(topic: str, config: Mapping[str, str]) -> ReplayWindow | None:
    """The topic's window from its described configuration; None when the broker did not
    say (the embedded Tansu broker describes no configuration)."""
    policies = {p.strip() for p in config.get("cleanup.policy", "delete").split(",")}
    if "delete" not in policies:
        return ReplayWindow(topic, None)
    retention = config.get("retention.ms")
    if retention is None:
        return None
    retention_ms = int(retention)
    if retention_ms < 0:
        return ReplayWindow(topic, None)
    segment_ms = int(config.get("segment.ms", KAFKA_DEFAULT_SEGMENT_MS))
    if segment_ms <= 0:  # not a value Kafka accepts: assume its default
        segment_ms = KAFKA_DEFAULT_SEGMENT_MS
    window_ms = retention_ms + segment_ms
    if window_ms > FOREVER_AFTER / timedelta(milliseconds=1):
        return ReplayWindow(topic, None)
    return ReplayWindow(topic, timedelta(milliseconds=window_ms))


async def describe_replay_windows(
    bootstrap_servers: str, topics: Iterable[str]
) -> list[ReplayWindow]:
    """The replay window of each of `topics` the broker describes a retention for."""
    names = list(dict.fromkeys(topics))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    windows: list[ReplayWindow] = []
    for response in responses:
        for error_code, _message, _type, name, entries in response.resources:
            if error_code:
                log.warning("topic configuration not described", extra={"topic": name})
                continue
            config = {entry[0]: entry[1] for entry in entries if entry[1] is not None}
            window = window_from_config(name, config)
            if window is not None:
                windows.append(window)
    return windows
