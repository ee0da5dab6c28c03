"""Create topics idempotently at start (the embedded broker forgets them on restart)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from fourfold.events.registry import dlq_topic

log = logging.getLogger(__name__)


def with_dead_letters(topics: Iterable[str]) -> list[str]:
    """Each topic and its `<topic>.dlq`."""
    names: list[str] = []
    for topic in topics:
        names += [topic, dlq_topic(topic)]
    return names


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication_factor: int = 1,
) -> None:
    """Create the missing topics; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(topics) if name not in existing]
        if not missing:
            return
        # A peer may create one between our list and our create: that is fine.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(
                [NewTopic(name, partitions, replication_factor) for name in missing]
            )
        log.info("created topics", extra={"topics": missing})
    finally:
        await admin.close()
