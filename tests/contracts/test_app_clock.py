"""Every service's clock: the one handed to `create_app` (tests), else what the
FOURFOLD_CLOCK_* settings ask for (`clock_from`), so a demo clock moves them all alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from fourfold.clock import ManualClock, ScaledClock, SystemClock
from fourfold.health.app import create_app as health_app
from fourfold.health.settings import HealthSettings
from fourfold.incentives.app import create_app as incentives_app
from fourfold.incentives.settings import IncentivesSettings
from fourfold.ingest.app import create_app as ingest_app
from fourfold.ingest.settings import IngestSettings
from fourfold.settings import FourfoldSettings

SECRET = SecretStr("app-clock-test-secret-app-clock-test-secret")
SERVICES: dict[str, tuple[Callable[..., Any], type[FourfoldSettings]]] = {
    "ingest": (ingest_app, IngestSettings),
    "health-scoring": (health_app, HealthSettings),
    "incentives": (incentives_app, IncentivesSettings),
}


def _app(service: str, clock: ManualClock | None = None, **settings: object) -> Any:
    create_app, settings_class = SERVICES[service]
    unset = {"clock_start": None, "clock_speed": 1.0, "clock_anchor": None}  # whatever is exported
    return create_app(
        settings_class(auth_secret=SECRET, log_json=False, **(unset | settings)), clock=clock
    )


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_handed_in_clock_wins(service: str) -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    assert _app(service, clock, clock_speed=8640).state.clock is clock


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_without_one_the_settings_pick_it(service: str) -> None:
    assert isinstance(_app(service).state.clock, SystemClock)
    demo = _app(service, clock_start="2026-01-01T00:00:00Z", clock_speed=8640)
    assert isinstance(demo.state.clock, ScaledClock)
    assert demo.state.clock.speed == 8640
    assert demo.state.clock.now() >= datetime(2026, 1, 1, tzinfo=UTC)
