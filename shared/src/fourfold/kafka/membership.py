"""A replica's place in its consumer group: its instance name, and its killed predecessor.

A consumer killed without leaving (SIGKILL, an out-of-memory kill, a lost node) stays a
member of its group until its session times out; a member that joins meanwhile waits for it
(the embedded broker re-forms the group only once the dead member's session expired, in
3-second steps; Apache Kafka waits up to the rebalance timeout). When the same replica
restarts at once, that wait is the whole recovery time.

So each replica's consumer carries a stable instance name as its Kafka client id (the broker
names a member `<client id>-<uuid>`, Apache Kafka and Tansu alike), and before it joins, the
restarted replica asks the group's coordinator for the members and removes those that carry
its own name (`LeaveGroup` on their behalf). The group re-forms at once. A live member of the
same name (a misconfiguration: two replicas sharing one name) is removed too and simply
rejoins; nothing is lost either way, the partitions are handed over as in any rebalance.

Static membership (`group.instance.id`) was the other way and is not used: aiokafka does not
leave the group on close when it is set, so a stopped replica that does not come back (the
pod a rolling update replaced) holds its partitions for the whole session timeout, and the
embedded broker holds every static join and sync for 3 s.
"""

from __future__ import annotations

import logging
import socket
import uuid

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.group import LeaveGroupRequest

log = logging.getLogger(__name__)


def instance_name(configured: str | None, service: str) -> str:
    """The configured name, or `<service>-<host name>` (a pod's name on Kubernetes)."""
    return configured or f"{service}-{socket.gethostname()}"


def carries_name(member_id: str, name: str) -> bool:
    """Whether the broker named `member_id` after a client called `name` (`<name>-<uuid>`)."""
    if not member_id.startswith(name + "-"):
        return False
    rest = member_id[len(name) + 1 :]
    try:
        return len(rest) == 36 and str(uuid.UUID(rest)) == rest
    except ValueError:
        return False


async def remove_predecessors(bootstrap_servers: str, group_id: str, name: str) -> list[str]:
    """Remove the group's members that carry `name`; return their member ids.

    Best effort: a broker that cannot be asked leaves the group as it is (the dead member's
    session expires as before), and the failure is logged.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    removed: list[str] = []
    try:
        await admin.start()
        coordinator = await admin.find_coordinator(group_id)
        described = await admin.describe_consumer_groups([group_id], coordinator)
        for response in described:
            for group in response.to_object()["groups"]:
                for member in group["members"]:
                    member_id = member["member_id"]
                    if member.get("client_id") == name or carries_name(member_id, name):
                        leave = LeaveGroupRequest(group_id, member_id)
                        await admin._client.send(coordinator, leave)
                        removed.append(member_id)
    except Exception as exc:
        log.warning(
            "could not look for this replica's predecessor in its group",
            extra={"group": group_id, "error": repr(exc)},
        )
    finally:
        await admin.close()
    if removed:
        log.info(
            "removed this replica's predecessor from its group",
            extra={"group": group_id, "members": removed},
        )
    return removed
