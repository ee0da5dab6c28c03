"""`fourfold simulate`: write a simulated vendor's history to NDJSON, or post it live to ingest.

`simulate(options)` is the whole command; `fourfold.cli` turns the command line into
`SimulateOptions` (same seed and options, same events, byte for byte).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

import httpx
from pydantic import SecretStr

from fourfold.auth import issue_token
from fourfold.clock import Clock, clock_from
from fourfold.logs import configure_logging
from fourfold.simulator.live import run_live
from fourfold.simulator.settings import SimulatorSettings
from fourfold.simulator.sink import IngestPoster, IngestRefused, StripePoster, write_ndjson
from fourfold.simulator.stripe import StripeTimeline
from fourfold.simulator.timeline import Timeline
from fourfold.simulator.vendor import build_vendor
from fourfold.simulator.wire import Planned

SHORT_USAGE = "usage: fourfold simulate [OPTIONS] (--help for the options)\n"
Track = Callable[[Iterable[Planned], date, int], Iterable[Planned]]
"""Wraps the events written with --out (starting on a date, over so many days): a progress bar."""


@dataclass(frozen=True)
class SimulateOptions:
    seed: int = 1
    partners: int = 36
    customers: int = 300
    signup_days: int = 90
    days: int | None = None
    start: date | None = None
    out: Path | None = None
    ingest_url: str | None = None
    history_days: int = 0
    batch_size: int = 500
    prefix: str = ""
    stripe: bool = False
    """Live: billing events as Stripe webhooks (`fourfold.simulator.stripe`)."""

    def problem(self) -> str | None:
        """What makes these options unusable, in words for the user; None if nothing."""
        if self.out is not None and self.ingest_url is not None:
            return "--out and --ingest-url exclude each other"
        if self.out is not None and self.stripe:
            return "--stripe is for the live mode (--ingest-url), not --out"
        minimums = {"days": 1, "partners": 1, "customers": 0, "signup_days": 1, "batch_size": 1}
        for name, low in [*minimums.items(), ("history_days", 0)]:
            value = getattr(self, name)
            if value is not None and value < low:
                return f"--{name.replace('_', '-')} must be at least {low}"
        return None


def simulate(
    options: SimulateOptions,
    settings: SimulatorSettings | None = None,
    *,
    clock: Clock | None = None,
    stdout: BinaryIO | None = None,
    report: Callable[[str], object] | None = None,
    track: Track | None = None,
) -> int:
    """Run the simulation the options describe; return the process exit code."""
    report = report or _to_stderr
    settings = settings or SimulatorSettings()
    clock = clock or clock_from(settings)
    problem = options.problem()
    if problem is None and options.out is None:
        options = dataclasses.replace(
            options, ingest_url=options.ingest_url or settings.simulator_ingest_url
        )
        if options.ingest_url is None:
            problem = "give --out FILE or --ingest-url URL (or FOURFOLD_SIMULATOR_INGEST_URL)"
        elif options.stripe and settings.simulator_stripe_secret is None:
            problem = "--stripe needs FOURFOLD_SIMULATOR_STRIPE_SECRET (ingest's Stripe secret)"
    if problem is not None:
        report(f"{SHORT_USAGE}fourfold simulate: error: {problem}\n")
        return 2
    days = options.days or 365
    try:
        timeline = _timeline(options, today=clock.now().date(), days=days)
    except ValueError as exc:
        report(f"fourfold simulate: error: {exc}\n")
        return 2
    if options.out is not None:
        return _write(timeline, days, options.out, stdout or sys.stdout.buffer, report, track)
    configure_logging(
        service=settings.service_name, level=settings.log_level, json=settings.log_json
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per POST
    assert options.ingest_url is not None
    live = post_live(
        timeline,
        ingest_url=options.ingest_url,
        settings=settings,
        clock=clock,
        days=options.days,
        batch_size=options.batch_size,
        stripe_secret=_secret(settings.simulator_stripe_secret) if options.stripe else None,
        report=report,
    )
    try:
        return asyncio.run(live)
    except KeyboardInterrupt:
        report("fourfold simulate: stopped\n")
        return 130


def _timeline(options: SimulateOptions, *, today: date, days: int) -> Timeline:
    """The run the options describe; ValueError names an impossible option."""
    vendor = build_vendor(
        seed=options.seed,
        partners=options.partners,
        customers=options.customers,
        signup_days=options.signup_days,
        prefix=options.prefix,
    )
    before = days if options.out is not None else options.history_days
    return Timeline(vendor, start=options.start or today - timedelta(days=before))


def _write(
    timeline: Timeline,
    days: int,
    out: Path,
    stdout: BinaryIO,
    report: Callable[[str], object],
    track: Track | None,
) -> int:
    events: Iterable[Planned] = timeline.events(days)
    if track is not None:
        events = track(events, timeline.start, days)
    if str(out) == "-":
        counts = write_ndjson(events, stdout)
    else:
        with out.open("wb") as file:
            counts = write_ndjson(events, file)
    end = timeline.start + timedelta(days=days - 1)
    summary = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
    report(f"wrote {counts.total()} events, {timeline.start} to {end}, to {out}: {summary}\n")
    return 0


async def post_live(
    timeline: Timeline,
    *,
    ingest_url: str,
    settings: SimulatorSettings,
    clock: Clock,
    days: int | None = None,
    batch_size: int = 500,
    transport: httpx.AsyncBaseTransport | None = None,
    stripe_secret: str | None = None,
    report: Callable[[str], object] | None = None,
) -> int:
    """Post the timeline to ingest as the clock reaches each event; return the exit code.

    With `stripe_secret`, subscription and invoice events go as Stripe webhooks signed with
    it (ingest's `FOURFOLD_INGEST_STRIPE_WEBHOOK_SECRET`), the rest as CloudEvents.
    """
    report = report or _to_stderr
    token = settings.simulator_token
    if token is not None:
        bearer = token.get_secret_value()
    else:
        bearer = issue_token(
            secret=settings.auth_secret.get_secret_value(),
            issuer=settings.auth_issuer,
            role="ingest",
            subject="simulator",
            now=clock.now(),
        )
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30, transport=transport) as http:
        poster = IngestPoster(http, token=bearer, batch_size=batch_size)
        source: Timeline | StripeTimeline = timeline
        sink: IngestPoster | StripePoster = poster
        if stripe_secret is not None:
            source = StripeTimeline(timeline)
            sink = StripePoster(poster, secret=stripe_secret, clock=clock)
        how = " (billing as Stripe webhooks)" if stripe_secret is not None else ""
        report(f"simulating from {timeline.start} on the clock, posting to {ingest_url}{how}\n")
        try:
            await run_live(source, clock=clock, sink=sink, days=days)
        except IngestRefused as exc:
            report(f"fourfold simulate: error: {exc}\n")
            return 1
    delivery = poster.delivery
    report(
        f"posted {delivery.sent} events: {delivery.accepted} accepted, "
        f"{delivery.duplicates} duplicates, {delivery.rejected} rejected"
        + (f", {delivery.ignored} ignored by the Stripe adapter" if delivery.ignored else "")
        + "\n"
    )
    return 1 if delivery.rejected else 0


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def _to_stderr(text: str) -> None:
    """Notes for the user go to the stderr of the moment (not the one at import)."""
    sys.stderr.write(text)
