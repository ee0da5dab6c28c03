"""The demo clock: scaled time on a monotonic source, picked by the FOURFOLD_CLOCK_* settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from fourfold.clock import ManualClock, ScaledClock, SystemClock, clock_from
from fourfold.settings import FourfoldSettings

START = datetime(2026, 3, 1, tzinfo=UTC)


class Ticks:
    """A monotonic source the test moves by hand (and may move backwards, to prove a point)."""

    def __init__(self, value: float = 1000.0) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value


def test_one_simulated_day_per_ten_real_seconds() -> None:
    ticks = Ticks()
    clock = ScaledClock(start=START, speed=8640, monotonic=ticks)
    assert clock.now() == START
    ticks.value += 10
    assert clock.now() == START + timedelta(days=1)
    ticks.value += 2.5
    assert clock.now() == START + timedelta(days=1, hours=6)
    assert clock.real_seconds(timedelta(days=3)) == 30


def test_speed_one_runs_at_real_pace_from_the_start() -> None:
    ticks = Ticks()
    clock = ScaledClock(start=START, speed=1, monotonic=ticks)
    ticks.value += 90
    assert clock.now() == START + timedelta(seconds=90)


def test_a_source_stepping_back_never_moves_the_clock_backwards() -> None:
    ticks = Ticks()
    clock = ScaledClock(start=START, speed=100, monotonic=ticks)
    ticks.value += 5
    ahead = clock.now()
    ticks.value -= 3
    assert clock.now() == ahead
    ticks.value += 4
    assert clock.now() == START + timedelta(seconds=600)


@given(steps=st.lists(st.floats(min_value=-50, max_value=50, allow_nan=False), max_size=40))
def test_readings_never_decrease_whatever_the_source_does(steps: list[float]) -> None:
    ticks = Ticks()
    clock = ScaledClock(start=START, speed=8640, monotonic=ticks)
    readings = [clock.now()]
    for step in steps:
        ticks.value += step
        readings.append(clock.now())
    assert readings == sorted(readings)
    assert readings[0] == START


def test_elapsed_at_origin_puts_two_late_starters_on_the_same_time() -> None:
    ticks = Ticks()
    first = ScaledClock(start=START, speed=60, monotonic=ticks)
    ticks.value += 7  # the second process starts seven real seconds later
    second = ScaledClock(start=START, speed=60, elapsed_at_origin=7, monotonic=ticks)
    assert first.now() == second.now() == START + timedelta(minutes=7)


@pytest.mark.parametrize("speed", [0, -1, float("nan"), float("inf")])
def test_a_speed_that_is_not_positive_and_finite_is_refused(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        ScaledClock(start=START, speed=speed)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        ScaledClock(start=datetime(2026, 3, 1), speed=2)  # noqa: DTZ001 - the point of the test


def test_the_defaults_keep_the_system_clock() -> None:
    fields = FourfoldSettings.model_fields  # the declared defaults, whatever the shell exports
    assert fields["clock_start"].default is None
    assert fields["clock_speed"].default == 1.0
    assert fields["clock_anchor"].default is None
    assert isinstance(clock_from(FourfoldSettings(clock_start=None, clock_speed=1)), SystemClock)


def test_a_speed_alone_runs_fast_from_now() -> None:
    wall = ManualClock(START)
    clock = clock_from(FourfoldSettings(clock_speed=8640), wall=wall)
    assert isinstance(clock, ScaledClock)
    assert clock.speed == 8640
    assert START <= clock.now() < START + timedelta(days=1)


def test_a_start_alone_runs_at_real_pace_from_that_instant() -> None:
    wall = ManualClock(START)
    settings = FourfoldSettings(clock_start=datetime(2025, 1, 1, tzinfo=UTC))
    clock = clock_from(settings, wall=wall)
    assert isinstance(clock, ScaledClock)
    assert clock.speed == 1
    assert datetime(2025, 1, 1, tzinfo=UTC) <= clock.now() < datetime(2025, 1, 2, tzinfo=UTC)


def test_an_anchor_in_the_past_counts_the_real_time_since_it() -> None:
    """Started ten real seconds after the shared anchor at 8640x: a simulated day has passed."""
    wall = ManualClock(START + timedelta(seconds=10))
    settings = FourfoldSettings(
        clock_start=datetime(2025, 1, 1, tzinfo=UTC), clock_speed=8640, clock_anchor=START
    )
    clock = clock_from(settings, wall=wall)
    assert datetime(2025, 1, 2, tzinfo=UTC) <= clock.now() < datetime(2025, 1, 3, tzinfo=UTC)


def test_the_start_is_read_from_the_environment_as_an_instant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FOURFOLD_CLOCK_START", "2026-06-01T00:00:00+02:00")
    monkeypatch.setenv("FOURFOLD_CLOCK_SPEED", "8640")
    settings = FourfoldSettings()
    assert settings.clock_start == datetime(2026, 5, 31, 22, tzinfo=UTC)
    assert settings.clock_speed == 8640


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("clock_speed", 0),
        ("clock_speed", -2),
        ("clock_speed", 1e9),
        ("clock_speed", float("inf")),
        ("clock_start", "2026-06-01T00:00:00"),
        ("clock_anchor", "yesterday"),
    ],
)
def test_a_bad_clock_setting_is_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        FourfoldSettings(**{field: value})
    assert caught.value.errors()[0]["loc"] == (field,)
