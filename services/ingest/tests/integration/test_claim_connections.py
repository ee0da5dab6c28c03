"""The group claims' own asyncpg connections: a connection the database closed while it sat
in the pool is replaced before anything is claimed, so the request still goes through; a
connection lost during the claim answers 503, remembers nothing, and the retry goes through."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from fourfold.events import USAGE_TOPIC
from fourfold.ingest.claims import APPLICATION_NAME
from fourfold.ingest.publishing import GROUPS_IN_FLIGHT
from fourfold.ingest.runtime import IngestRuntime
from fourfold.testing.kafka import read_topic
from fourfold.testing.samples import usage_reported

pytestmark = pytest.mark.integration

SINGLE = {"Content-Type": "application/cloudevents+json"}


async def test_claim_connections_the_database_closed_are_replaced_and_no_request_fails(
    client: httpx.AsyncClient, auth_header: Any, kafka_bootstrap: str, unique: str
) -> None:
    rt: IngestRuntime = client._transport.app.state.runtime  # type: ignore[attr-defined]
    async with AsyncExitStack() as held:  # open every connection of the pool at once
        connections = [
            await held.enter_async_context(rt.claims.transaction()) for _ in range(GROUPS_IN_FLIGHT)
        ]
        pids = [connection.get_server_pid() for connection in connections]
    async with rt.sessions() as session:
        names = await session.execute(
            text("SELECT application_name FROM pg_stat_activity WHERE pid = ANY(:pids)"),
            {"pids": pids},
        )
        assert {row.application_name for row in names} == {APPLICATION_NAME}
        await session.execute(
            text("SELECT pg_terminate_backend(pid, 5000) FROM unnest(CAST(:pids AS int[])) pid"),
            {"pids": pids},
        )
    events = [usage_reported(f"{unique}-{i}", f"{unique}-c") for i in range(2 * GROUPS_IN_FLIGHT)]

    one_by_one = [
        await client.post(
            "/v1/events", content=orjson.dumps(e), headers={**SINGLE, **auth_header()}
        )
        for e in events[:GROUPS_IN_FLIGHT]
    ]
    together = await asyncio.gather(
        *(
            client.post("/v1/events", content=orjson.dumps(e), headers={**SINGLE, **auth_header()})
            for e in events[GROUPS_IN_FLIGHT:]
        )
    )

    assert [r.status_code for r in one_by_one + together] == [202] * len(events)
    assert [r.json()["accepted"] for r in one_by_one + together] == [1] * len(events)
    records = await read_topic(
        kafka_bootstrap, USAGE_TOPIC, expect=len(events), keys={f"{unique}-c".encode()}
    )
    assert sorted(orjson.loads(r.value)["id"] for r in records if r.value) == sorted(
        e["id"] for e in events
    )
    again = await client.post(
        "/v1/events", content=orjson.dumps(events[0]), headers={**SINGLE, **auth_header()}
    )
    assert again.json()["results"][0]["status"] == "duplicate", "the claim was committed"


async def _claim_waiting_on_a_lock(rt: IngestRuntime) -> int:
    """The server pid of the claim connection blocked on a row lock, once it is."""
    async with rt.sessions() as session:
        for _ in range(400):
            await session.commit()  # pg_stat_activity is one snapshot per transaction
            pid = (
                await session.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity"
                        " WHERE application_name = :name AND wait_event_type = 'Lock'"
                    ),
                    {"name": APPLICATION_NAME},
                )
            ).scalar()
            if pid is not None:
                return int(pid)
            await asyncio.sleep(0.025)
    raise AssertionError("the claim never waited on the lock")


async def test_a_connection_lost_during_the_claim_answers_503_and_the_retry_goes_through(
    client: httpx.AsyncClient, auth_header: Any, kafka_bootstrap: str, unique: str
) -> None:
    rt: IngestRuntime = client._transport.app.state.runtime  # type: ignore[attr-defined]
    event = usage_reported(f"{unique}-1", f"{unique}-c")
    body = orjson.dumps(event)
    async with rt.sessions() as blocker, blocker.begin():  # holds the row the claim needs
        await blocker.execute(
            text(
                "INSERT INTO accepted_events (source, id, type, partition_key, accepted_at)"
                " VALUES (:source, :id, :type, 'blocker', now())"
            ),
            {"source": event["source"], "id": event["id"], "type": event["type"]},
        )
        post = asyncio.create_task(
            client.post("/v1/events", content=body, headers={**SINGLE, **auth_header()})
        )
        pid = await _claim_waiting_on_a_lock(rt)
        async with rt.sessions() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        failed = await post
        await blocker.rollback()  # the blocker's row never existed

    assert failed.status_code == 503
    assert failed.json()["error"] == "unavailable"
    assert "Retry-After" in failed.headers
    retry = await client.post("/v1/events", content=body, headers={**SINGLE, **auth_header()})
    assert retry.status_code == 202
    assert retry.json()["accepted"] == 1, "nothing of the failed request was remembered"
    records = await read_topic(
        kafka_bootstrap, USAGE_TOPIC, expect=1, keys={f"{unique}-c".encode()}
    )
    assert [orjson.loads(r.value)["id"] for r in records if r.value] == [event["id"]]
