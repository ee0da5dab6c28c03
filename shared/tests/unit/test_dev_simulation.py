"""The pieces of `make dev` that need no server: the demo clock it hands every process, the
simulation it plans (fresh or resumed), the partner it shows, and the printed commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fourfold.clock import ScaledClock, clock_from
from fourfold.dev.banner import Banner, commands_in
from fourfold.dev.clock import DemoClock
from fourfold.dev.simulation import DevOptions, plan_simulation, showcase_partner
from fourfold.settings import FourfoldSettings
from fourfold.simulator.archetypes import Archetype
from fourfold.simulator.vendor import build_vendor

NOW = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)


def test_the_demo_clock_is_what_clock_from_builds_from_its_settings() -> None:
    demo = DemoClock.starting(NOW, seconds_per_day=10)
    assert demo.speed == 8640
    env = demo.env()
    settings = FourfoldSettings(
        clock_start=env["FOURFOLD_CLOCK_START"],
        clock_speed=float(env["FOURFOLD_CLOCK_SPEED"]),
        clock_anchor=env["FOURFOLD_CLOCK_ANCHOR"],
    )
    clock = clock_from(settings, wall=FixedClock(NOW + timedelta(seconds=10)))
    assert isinstance(clock, ScaledClock)
    assert clock.speed == demo.speed
    assert clock.now() >= NOW + timedelta(days=1)  # ten real seconds after the anchor
    assert DemoClock.starting(NOW, seconds_per_day=86_400 * 10).speed == 1  # never slower


def test_on_a_fast_clock_the_schedules_run_hours_apart_and_stripe_allows_real_minutes() -> None:
    fast = DemoClock.starting(NOW, seconds_per_day=10).intervals_env()
    assert float(fast["FOURFOLD_NOTIFICATIONS_EVALUATE_INTERVAL_S"]) * 8640 <= 6 * 3600
    assert float(fast["FOURFOLD_HEALTH_RECOMPUTE_INTERVAL_S"]) * 8640 <= 6 * 3600
    assert int(fast["FOURFOLD_INGEST_STRIPE_TOLERANCE_S"]) == 300 * 8640
    real = DemoClock.starting(NOW, seconds_per_day=86_400).intervals_env()
    assert float(real["FOURFOLD_NOTIFICATIONS_EVALUATE_INTERVAL_S"]) == 60.0  # at most that
    assert real["FOURFOLD_INGEST_STRIPE_TOLERANCE_S"] == "300"


def test_a_fresh_run_begins_its_history_before_the_clocks_start(tmp_path: Path) -> None:
    options = DevOptions(history_days=30, seed=2, partners=8, customers=60)
    simulation = plan_simulation(tmp_path, options, now=NOW)
    assert simulation.clock.start == NOW
    assert simulation.timeline.start == NOW.date() - timedelta(days=30)
    assert simulation.partner in {p.partner_id for p in simulation.vendor.partners}
    assert simulation.stripe_secret.startswith("whsec_")


def test_a_kept_run_goes_on_from_the_simulated_time_it_reached(tmp_path: Path) -> None:
    options = DevOptions(history_days=30, seed=2, partners=8, customers=60)
    first = plan_simulation(tmp_path, options, now=NOW)
    reached = FixedClock(NOW + timedelta(days=12))
    first.save(tmp_path, reached)
    later = NOW + timedelta(hours=3)
    kept = plan_simulation(tmp_path, DevOptions(**{**vars(options), "keep_state": True}), now=later)
    assert kept.timeline.start == first.timeline.start  # the same run: the same event ids
    assert (kept.clock.start, kept.clock.anchor) == (reached.now(), later)
    fresh = plan_simulation(tmp_path, options, now=later)
    assert fresh.timeline.start == later.date() - timedelta(days=30)
    other = plan_simulation(
        tmp_path, DevOptions(**{**vars(options), "keep_state": True, "seed": 3}), now=later
    )
    assert other.clock.start == later  # another simulation: nothing to resume


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_the_partner_shown_has_an_old_enough_staller_and_the_most_customers() -> None:
    vendor = build_vendor(seed=1, partners=36, customers=300)
    partner = showcase_partner(vendor, days_in=30)
    mine = [c for c in vendor.customers if c.partner_id == partner]
    assert any(
        c.archetype is Archetype.STALLS_IN_IMPLEMENT and c.signup_day <= 30 - 22 for c in mine
    )
    signed = sum(1 for c in mine if c.signup_day < 30)
    for other in vendor.partners:
        theirs = [c for c in vendor.customers if c.partner_id == other.partner_id]
        has_staller = any(
            c.archetype is Archetype.STALLS_IN_IMPLEMENT and c.signup_day <= 8 for c in theirs
        )
        if has_staller:
            assert sum(1 for c in theirs if c.signup_day < 30) <= signed


def test_the_banner_prints_three_commands_for_the_partner_through_the_gateway() -> None:
    banner = Banner(
        gateway="http://127.0.0.1:8000",
        services={"ingest": "http://127.0.0.1:8001"},
        infrastructure={"logs": ".state/logs/"},
        tokens={"PARTNER_TOKEN": "p", "ADMIN_TOKEN": "a"},
        partner="coho-msp",
        seconds_per_day=10,
        simulated="36 partners",
        kept=False,
        token_days=7,
    )
    text = banner.text()
    assert "http://127.0.0.1:8000/docs" in text
    assert "export PARTNER_TOKEN=p" in text
    assert "export ADMIN_TOKEN=a" in text
    assert commands_in(text) == [command for _, command in banner.commands()]
    book, balance, nudges = commands_in(text)
    assert "/v1/partners/coho-msp/customers" in book
    assert "/v1/incentives/partners/coho-msp/balance" in balance
    assert "/v1/nudges?status=open" in nudges
    assert all(c.startswith('curl -sS "http://127.0.0.1:8000/v1/') for c in commands_in(text))


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (DevOptions(seconds_per_day=0), "--seconds-per-day must be positive"),
        (DevOptions(history_days=-1), "--history-days must be at least 0"),
        (DevOptions(partners=0), "--partners must be within"),
        (DevOptions(customers=-1), "--customers must be at least 0"),
    ],
)
def test_unusable_options_are_named(options: DevOptions, problem: str) -> None:
    assert (options.problem() or "").startswith(problem)


def test_every_setting_the_stack_hands_a_service_is_one_a_service_reads() -> None:
    """A misspelt variable would be ignored silently by pydantic-settings."""
    from fourfold.dev.stack import EMBEDDED_BROKER_SESSIONS
    from fourfold.health.settings import HealthSettings
    from fourfold.incentives.settings import IncentivesSettings
    from fourfold.ingest.settings import IngestSettings
    from fourfold.notifications.settings import NotificationsSettings

    read = {
        f"FOURFOLD_{name.upper()}"
        for settings in (HealthSettings, IncentivesSettings, IngestSettings, NotificationsSettings)
        for name in settings.model_fields
    }
    handed = {
        *DemoClock.starting(NOW, seconds_per_day=10).intervals_env(),
        *DemoClock.starting(NOW, seconds_per_day=10).env(),
        *EMBEDDED_BROKER_SESSIONS,
    }
    assert handed <= read
