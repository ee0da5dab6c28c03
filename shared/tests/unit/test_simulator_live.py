"""The live mode on a clock the test moves, and the `fourfold simulate` command."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from fourfold.cli import main as fourfold
from fourfold.clock import ManualClock
from fourfold.simulator.command import SimulateOptions, simulate
from fourfold.simulator.live import run_live
from fourfold.simulator.settings import SimulatorSettings
from fourfold.simulator.timeline import Timeline
from fourfold.simulator.vendor import build_vendor

RUN_START = date(2026, 4, 1)
STEP = timedelta(hours=1)
"""Simulated time that passes during one poll of the live loop in these tests."""


class Recorder:
    """A sink that keeps each send with the clock's time at that moment."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sends: list[tuple[datetime, list[dict[str, Any]]]] = []

    async def send(self, events: Sequence[dict[str, Any]]) -> None:
        self.sends.append((self.clock.now(), list(events)))


def _timeline(customers: int = 10) -> Timeline:
    vendor = build_vendor(seed=9, partners=3, customers=customers, signup_days=3)
    return Timeline(vendor, start=RUN_START)


async def test_history_goes_at_once_then_each_event_when_the_clock_reaches_it() -> None:
    now = datetime(2026, 4, 3, 12, 0, tzinfo=UTC)  # two and a half days into the run
    clock = ManualClock(now)
    sink = Recorder(clock)
    polls: list[float] = []

    async def sleep(seconds: float) -> None:
        polls.append(seconds)
        clock.advance(STEP)

    timeline = _timeline()
    sent = await run_live(timeline, clock=clock, sink=sink, days=5, sleep=sleep, poll_s=0.1)

    planned = list(timeline.events(5))
    assert [e for _, batch in sink.sends for e in batch] == [p.event for p in planned]
    assert sent == len(planned)
    at = {p.event["id"]: p.at for p in planned}
    first_at, first = sink.sends[0]
    assert first_at == now, "the history before now did not wait for the clock"
    assert [e["id"] for e in first] == [p.event["id"] for p in planned if p.at <= now]
    for sent_at, batch in sink.sends[1:]:
        for event in batch:
            assert at[event["id"]] <= sent_at, "an event never goes before its time"
            assert sent_at - at[event["id"]] <= STEP, "nor later than one poll after it"
    assert polls
    assert set(polls) == {0.1}
    assert clock.now() < datetime(2026, 4, 6, 1, tzinfo=UTC), "it stopped after the last event"


def test_the_command_hands_every_out_option_to_simulate(tmp_path: Path) -> None:
    args = "--days 30 --start 2026-01-01 --seed 4 --partners 5 --customers 50 --signup-days 10"
    by_command = tmp_path / "command.ndjson"
    assert fourfold(["simulate", *args.split(), "--prefix", "b-", "--out", str(by_command)]) == 0
    options = SimulateOptions(
        days=30,
        start=date(2026, 1, 1),
        seed=4,
        partners=5,
        customers=50,
        signup_days=10,
        prefix="b-",
        out=tmp_path / "direct.ndjson",
    )
    assert simulate(options, _settings(), report=lambda _: None) == 0
    assert by_command.read_bytes() == (tmp_path / "direct.ndjson").read_bytes()


def _settings() -> SimulatorSettings:
    return SimulatorSettings(simulator_ingest_url=None, log_json=False)


def test_out_writes_the_days_before_today_and_the_same_run_twice_is_the_same_file(
    tmp_path: Path,
) -> None:
    clock = ManualClock(datetime(2026, 5, 20, 15, 30, tzinfo=UTC))
    options = SimulateOptions(days=20, customers=15, partners=4, signup_days=5)
    notes: list[str] = []
    paths = [tmp_path / "a.ndjson", tmp_path / "b.ndjson"]
    for path in paths:
        run = simulate(replace(options, out=path), _settings(), clock=clock, report=notes.append)
        assert run == 0
    first, second = (p.read_bytes() for p in paths)
    assert first == second
    times = [datetime.fromisoformat(orjson.loads(line)["time"]) for line in first.splitlines()]
    assert times[0].date() == date(2026, 4, 30)
    assert date(2026, 5, 18) <= times[-1].date() < date(2026, 5, 20), "it ends yesterday"
    assert f"wrote {len(times)} events, 2026-04-30 to 2026-05-19" in notes[0]


def test_out_dash_writes_to_stdout() -> None:
    stdout = io.BytesIO()
    options = SimulateOptions(days=3, customers=3, partners=2, start=RUN_START, out=Path("-"))
    assert simulate(options, _settings(), stdout=stdout, report=lambda _: None) == 0
    assert all(orjson.loads(line)["specversion"] == "1.0" for line in stdout.getvalue().split())


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (SimulateOptions(out=Path("x"), ingest_url="http://i"), "exclude each other"),
        (SimulateOptions(), "give --out FILE or --ingest-url URL"),
        (SimulateOptions(out=Path("x"), days=0), "--days must be at least 1"),
        (SimulateOptions(out=Path("x"), history_days=-1), "--history-days must be at least 0"),
        (SimulateOptions(out=Path("x"), batch_size=0), "--batch-size must be at least 1"),
        (SimulateOptions(out=Path("x"), partners=500), "partners must be within"),
        (SimulateOptions(out=Path("x"), start=date(1960, 1, 1)), "start must be within"),
    ],
)
def test_unusable_options_exit_2_saying_why(
    options: SimulateOptions, problem: str, tmp_path: Path
) -> None:
    notes: list[str] = []
    assert simulate(options, _settings(), report=notes.append) == 2
    assert problem in notes[0]
    assert not Path("x").exists()


def test_help_and_usage_errors_of_the_fourfold_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps help and errors to the terminal
    assert fourfold(["simulate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage: fourfold simulate" in out
    assert "--days" in out
    assert "YYYY-MM-DD" in out
    assert fourfold(["simulate", "--bogus", "1"]) == 2
    assert "No such option: --bogus" in capsys.readouterr().err
    assert fourfold(["simulate", "--out", "x", "--start", "1 April"]) == 2
    assert "'1 April' does not match the format" in capsys.readouterr().err
    assert not Path("x").exists()
