"""`FOURFOLD_ROLE`: the same app as an `api` process (routes, no consumer, relay or writers)
and a `worker` process (consumer, relay, writers; no routes) on one schema and group. A write
through the api is published by the worker's relay, which polls the outbox."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from fourfold.clock import ManualClock
from fourfold.health.settings import HealthSettings
from fourfold.testing.wait import wait_until

if TYPE_CHECKING:
    from conftest import Make

pytestmark = pytest.mark.integration


async def test_an_api_write_is_published_by_the_worker_process(
    health_settings: HealthSettings, clock: ManualClock, start_on: Any, make: Make, unique: str
) -> None:
    api_settings = health_settings.model_copy(update={"role": "api"})
    worker_settings = health_settings.model_copy(update={"role": "worker"})
    customer, partner = f"c-{unique}", f"p-{unique}"
    async with start_on(worker_settings, clock) as worker, start_on(api_settings, clock) as api:
        assert api.app.state.consumer is None
        assert api.app.state.relay is None
        assert api.app.state.tasks == {}
        assert set(worker.app.state.tasks) >= {"consumer", "scheduler", "outbox relay"}

        events = make.healthy(customer, partner)
        await worker.produce(events)
        await worker.settled(len(events))
        computed = await api.get(f"/v1/customers/{customer}/health")  # the api reads it

        expires = (clock.now() + timedelta(days=7)).isoformat()
        body = {"score": 12, "reason": "churn call", "expires_at": expires}
        put = await api.client.put(
            f"/v1/admin/health/{customer}/override", json=body, headers=api.auth()
        )
        assert put.status_code == 200, put.text
        assert put.json()["computed_score"] == computed["score"]

        await wait_until(worker.outbox_drained, what="the worker's relay drained the outbox")
        version = await worker.scalar(
            "SELECT version FROM customers WHERE customer_id = :c", c=customer
        )
        published = await worker.health_events(customer, expect=version)
        assert [e.data.score for e in published][-1] == 12
        assert len({e.id for e in published}) == len(published) == version


async def test_a_worker_serves_only_the_ops_routes_and_an_api_is_ready_without_a_group(
    health_settings: HealthSettings, clock: ManualClock, start_on: Any, unique: str
) -> None:
    api_settings = health_settings.model_copy(update={"role": "api"})
    worker_settings = health_settings.model_copy(update={"role": "worker"})
    async with start_on(api_settings, clock) as api:
        # No worker runs yet, so no consumer of the group exists: the api is ready anyway.
        ready = await api.client.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        assert (
            await api.client.get(f"/v1/customers/c-{unique}/health", headers=api.auth())
        ).status_code == 404
        async with start_on(worker_settings, clock) as worker:
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await worker.client.get(path)).status_code == 200, path
            refused = await worker.client.get(
                f"/v1/customers/c-{unique}/health", headers=worker.auth()
            )
            assert refused.status_code == 404
            assert refused.json()["detail"] != "customer not found"  # no such route at all
            assert not any(
                getattr(route, "path", "").startswith("/v1/") for route in worker.app.routes
            )
