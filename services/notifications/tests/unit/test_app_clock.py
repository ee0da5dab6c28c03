"""The app's clock: the one handed in (tests), else what the FOURFOLD_CLOCK_* settings ask for."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr

from fourfold.clock import ManualClock, ScaledClock, SystemClock
from fourfold.notifications.app import create_app
from fourfold.notifications.settings import NotificationsSettings

SECRET = SecretStr("app-clock-test-secret-app-clock-test-secret")


def _settings(**clock: object) -> NotificationsSettings:
    unset = {"clock_start": None, "clock_speed": 1.0, "clock_anchor": None}  # whatever is exported
    return NotificationsSettings(auth_secret=SECRET, log_json=False, **(unset | clock))  # type: ignore[arg-type]


def test_a_handed_in_clock_wins() -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    assert create_app(_settings(clock_speed=8640), clock=clock).state.clock is clock


def test_without_one_the_settings_pick_it() -> None:
    assert isinstance(create_app(_settings()).state.clock, SystemClock)
    demo = create_app(_settings(clock_start="2026-01-01T00:00:00Z", clock_speed=8640))
    assert isinstance(demo.state.clock, ScaledClock)
    assert demo.state.clock.speed == 8640
    assert demo.state.clock.now() >= datetime(2026, 1, 1, tzinfo=UTC)
