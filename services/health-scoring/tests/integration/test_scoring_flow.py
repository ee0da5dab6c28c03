"""Events on the input topics become scores in the API and `health.changed` on the topic;
duplicates and replays change nothing; late usage lands at its event time; time decays."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

from fourfold.testing.kafka import produce_raw, read_topic

if TYPE_CHECKING:
    from conftest import Make, Service, running_service

pytestmark = pytest.mark.integration


def component(health: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in health["components"] if c["name"] == name)


async def stored(service: Service, customer: str) -> tuple[Any, ...]:
    """Everything an event's effect could touch: the customer row, history and outbox."""
    row = (
        await service.rows(
            "SELECT signals, score, band, step, version, explanation, scored_at, "
            "next_recompute_at, history_at FROM customers WHERE customer_id = :c",
            c=customer,
        )
    )[0]
    history = await service.scalar("SELECT count(*) FROM score_history")
    return (*row, history)


async def test_events_become_a_score_in_the_api_and_on_the_topic(
    service: Service, make: Make, unique: str
) -> None:
    customer, partner = f"c-{unique}", f"p-{unique}"
    events = [*make.healthy(customer, partner), make.nps(customer, 9, service.clock.now())]
    await service.produce(events)
    await service.settled(len(events))

    health = await service.get(f"/v1/customers/{customer}/health")
    assert health["partner_id"] == partner
    assert health["step"] == "improve"
    assert health["band"] == "green"
    assert 70 <= health["score"] <= 100
    assert health["scorecard_version"] == "default-2025.1"
    adoption = component(health, "adoption")
    assert adoption["inputs"] == {"seats_in_use": 8, "seats_bought": 10, "utilisation": 0.8}
    assert adoption["score"] == 1.0
    assert sum(c["effective_weight"] for c in health["components"]) == pytest.approx(1, abs=1e-3)
    assert health["signals"]["seats"] == 10
    assert health["signals"]["arr"] == {"amount": "1200.00", "currency": "EUR"}
    assert health["signals"]["last_nps"] == 9

    version = await service.scalar(
        "SELECT version FROM customers WHERE customer_id = :c", c=customer
    )
    published = await service.health_events(customer, expect=version)
    assert {e.id for e in published} == {f"health-{customer}-{v}" for v in range(1, version + 1)}
    latest = max(published, key=lambda e: int(e.id.rsplit("-", 1)[1]))
    assert latest.data.score == health["score"]
    assert latest.data.band.value == health["band"]
    assert latest.data.step.value == health["step"]
    assert latest.data.partner_id == partner
    assert latest.data.signals.features_used == 6
    assert latest.data.signals.seats_in_use == 8


async def test_duplicates_change_nothing(service: Service, make: Make, unique: str) -> None:
    customer = f"c-{unique}"
    events = make.healthy(customer, f"p-{unique}")
    await service.produce(events)
    await service.settled(len(events))
    before = await stored(service, customer)
    # later, so a duplicate that reached the handler would rescore at a new time and show
    # (scored_at, next_recompute_at, history); not so late that the customer is due
    service.clock.advance(timedelta(hours=1))
    scored_at, next_recompute_at = before[6], before[7]
    assert scored_at < service.clock.now() < next_recompute_at

    await service.produce(events + events[:10])  # every event again, some a third time
    await service.wait_committed(2 * len(events) + 10)

    assert await stored(service, customer) == before
    # offsets mode: every record's offset stored, no inbox row; the folds made them harmless
    assert await service.stored_offsets() == 2 * len(events) + 10
    assert await service.scalar("SELECT count(*) FROM inbox") == 0
    assert await service.outbox_drained()


async def test_a_rewound_consumer_group_replays_without_effect(
    start: Callable[[], running_service], make: Make, unique: str
) -> None:
    customer = f"c-{unique}"
    events = make.healthy(customer, f"p-{unique}")
    async with start() as service:
        await service.produce(events)
        await service.settled(len(events))
        await service.wait_committed(len(events))
        before = await stored(service, customer)
    await service.rewind()
    assert await service.committed() == 0, "the group starts over"
    async with start() as service:
        await service.wait_committed(len(events))
        assert await stored(service, customer) == before


async def test_bad_records_go_to_the_dlq_and_the_rest_is_scored(
    service: Service, make: Make, unique: str
) -> None:
    customer = f"c-{unique}"
    topic = service.topic("product.usage")
    bootstrap = service.settings.kafka_bootstrap_servers or ""
    good = make.daily_users(customer, 4, range(1, 3))
    records = [
        (customer.encode(), b"{not json"),
        *[(customer.encode(), e.to_json_bytes()) for e in good],
    ]
    await produce_raw(bootstrap, topic, records)
    await service.settled(len(good))

    dead = await read_topic(bootstrap, f"{topic}.dlq", expect=1)
    assert [r.value for r in dead] == [b"{not json"]
    health = await service.get(f"/v1/customers/{customer}/health")
    assert health["step"] == "involve"
    assert (await service.client.get("/readyz")).json() == {"status": "ready"}
    metrics = (await service.client.get("/metrics")).text
    assert 'fourfold_health_scores_total{band="' in metrics


async def test_readiness_fails_when_a_background_loop_has_stopped(service: Service) -> None:
    assert (await service.client.get("/readyz")).status_code == 200
    scheduler = service.app.state.tasks["scheduler"]
    scheduler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await scheduler

    not_ready = await service.client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["detail"] == ["background task stopped: scheduler"]


async def test_the_service_prunes_inbox_rows_left_from_inbox_mode_past_the_retention(
    service: Service, make: Make, unique: str
) -> None:
    """The consumer stores offsets now (migration 0004); the rows the inbox holds from before
    are still deleted once past the retention."""
    events = make.healthy(f"c-{unique}", f"p-{unique}")
    await service.produce(events)
    await service.settled(len(events))
    assert "inbox pruning" in service.app.state.tasks
    assert await service.scalar("SELECT count(*) FROM inbox") == 0, "offsets mode"
    aged, recent = events[: len(events) // 2], events[len(events) // 2 :]
    days = service.settings.inbox_retention_days + 1
    async with service.engine.begin() as connection:
        for rows, age in ((aged, days), (recent, 0)):
            await connection.execute(
                text(
                    "INSERT INTO inbox (consumer, event_source, event_id, processed_at) "
                    "SELECT :group, :source, i, now() - make_interval(days => :days) "
                    "FROM unnest(CAST(:ids AS text[])) AS i"
                ),
                {
                    "group": service.group,
                    "source": "test/health",
                    "days": age,
                    "ids": [e.id for e in rows],
                },
            )

    assert await service.app.state.pruner.prune() == len(aged)
    assert await service.scalar("SELECT count(*) FROM inbox") == len(recent)


async def test_when_a_topic_keeps_records_forever_the_inbox_is_not_pruned_and_all_is_ready(
    start: Callable[[], running_service], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded broker describes no retention, so the start-up decision's answer for a
    topic kept forever (None) is given here; `retention_for` itself is tested in shared."""

    async def kept_forever(*_: object) -> None:
        return None

    monkeypatch.setattr("fourfold.service.consuming.retention_for", kept_forever)
    async with start() as service:
        assert service.app.state.pruner is None
        assert "inbox pruning" not in service.app.state.tasks
        assert (await service.client.get("/readyz")).json() == {"status": "ready"}
