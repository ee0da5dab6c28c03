"""The `fourfold` command: one typer app whose commands call plain functions.

Each command here only turns its options into keyword arguments of a function in the module
that does the work (`fourfold.dev.stack.dev`, `fourfold.simulator.command.simulate`,
`fourfold.auth.cli.issue`, `fourfold.service.migrate.migrate`,
`fourfold.events.schemas.write_schemas`, `fourfold.backfill.cli.backfill`) and exits with
the code that function returns; the modules are imported when their command runs, so
`fourfold --help` stays quick. docs/cli.md lists every command, option and exit code.

Exit codes shared by every command: 0 done, 1 failed, 2 usage error (typer's own for an
unknown option or a bad value, and each command's own checks), 130 interrupted (Ctrl-C);
`backfill` adds 3 (ingest unavailable: run it again later to resume).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fourfold.simulator.wire import Planned

EXIT_OK, EXIT_FAILED = 0, 1


class RoleName(StrEnum):
    """`fourfold.auth.principal.ROLES` as choices (and completions); a test keeps them equal."""

    ingest = "ingest"
    partner = "partner"
    admin = "admin"


class ServiceName(StrEnum):
    """`fourfold.service.migrate.SERVICES` as choices; a test keeps them equal."""

    ingest = "ingest"
    health_scoring = "health-scoring"
    incentives = "incentives"
    notifications = "notifications"


app = typer.Typer(
    name="fourfold",
    help="Fourfold: run the system locally, simulate a vendor, issue tokens, migrate, "
    "backfill. Exit codes: 0 ok, 1 failed, 2 usage error, 130 interrupted (docs/cli.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,  # a traceback must not print a token or a secret
)
token_app = typer.Typer(
    help="Bearer tokens signed with FOURFOLD_AUTH_SECRET.", no_args_is_help=True
)
app.add_typer(token_app, name="token")


def _exit(code: int) -> None:
    if code != EXIT_OK:
        raise typer.Exit(code)


@app.command(short_help="Run the whole system locally until Ctrl-C.")
def dev(
    keep_state: Annotated[
        bool,
        typer.Option(
            "--keep-state",
            help="Keep the database, token secret and simulated time of the last run "
            "(default: start fresh; the broker is memory-only, so its topics always start "
            "empty).",
        ),
    ] = False,
    port_offset: Annotated[
        int,
        typer.Option(
            help="Add this to every port (gateway 8000, services 8001-8004), e.g. to run a "
            "second stack on another FOURFOLD_STATE_DIR.",
        ),
    ] = 0,
    history_days: Annotated[
        int,
        typer.Option(min=0, help="Simulated days before the clock's start, sent at once."),
    ] = 30,
    seconds_per_day: Annotated[
        float,
        typer.Option(help="Real seconds per simulated day (86400: real time)."),
    ] = 10.0,
    seed: Annotated[int, typer.Option(help="The simulation's seed.")] = 1,
    partners: Annotated[int, typer.Option(help="Simulated partners.")] = 36,
    customers: Annotated[int, typer.Option(help="Simulated customers.")] = 300,
    stripe: Annotated[
        bool,
        typer.Option(
            "--stripe", help="The simulator sends billing events as signed Stripe webhooks."
        ),
    ] = False,
) -> None:
    """Run every service and the gateway on an embedded broker and PostgreSQL, with a
    simulated vendor on a fast clock, until Ctrl-C. Exit 1: a stack already runs on the
    state dir, a port is taken, or a piece did not start; 2: unusable options."""
    from fourfold.dev.stack import dev as run

    _exit(
        run(
            keep_state=keep_state,
            port_offset=port_offset,
            history_days=history_days,
            seconds_per_day=seconds_per_day,
            seed=seed,
            partners=partners,
            customers=customers,
            stripe=stripe,
        )
    )


@app.command(short_help="A simulated vendor's events, to NDJSON or live to ingest.")
def simulate(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write the history as NDJSON (one CloudEvent a line; - for stdout) and exit; "
            "no service needs to run.",
            dir_okay=False,
        ),
    ] = None,
    ingest_url: Annotated[
        str | None,
        typer.Option(
            help="Post live to this ingest (or gateway) base URL on the clock (FOURFOLD_CLOCK_*); "
            "default FOURFOLD_SIMULATOR_INGEST_URL.",
        ),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(help="Simulated days (default: 365 with --out, forever when live)."),
    ] = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            metavar="YYYY-MM-DD",
            help="First simulated day (default: --days before today with --out, "
            "--history-days before the clock's today when live).",
        ),
    ] = None,
    history_days: Annotated[
        int, typer.Option(help="Live: days before now posted at once when starting.")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    partners: Annotated[int, typer.Option(help="Partners of the vendor.")] = 36,
    customers: Annotated[int, typer.Option(help="Customers of the vendor.")] = 300,
    signup_days: Annotated[int, typer.Option(help="Customers sign up over the first N days.")] = 90,
    prefix: Annotated[
        str,
        typer.Option(
            help="Put this before every partner and customer id (two simulated vendors in one "
            "Fourfold)."
        ),
    ] = "",
    batch_size: Annotated[int, typer.Option(help="Live: events per POST.")] = 500,
    stripe: Annotated[
        bool,
        typer.Option(
            "--stripe",
            help="Live: post subscription and invoice events as signed Stripe webhooks to "
            "/v1/webhooks/stripe (secret FOURFOLD_SIMULATOR_STRIPE_SECRET), the rest to "
            "/v1/events.",
        ),
    ] = False,
    progress: Annotated[
        bool, typer.Option(help="A progress bar on stderr while --out writes.")
    ] = True,
) -> None:
    """A simulated vendor whose partners' customers onboard, stall, expand, renew, churn and
    pay late: to NDJSON (--out) or live to ingest. Same seed and options, same events, byte
    for byte. Live, it authenticates with FOURFOLD_SIMULATOR_TOKEN or issues itself an
    ingest token with FOURFOLD_AUTH_SECRET. Exit 1: ingest refused a request or rejected
    events; 2: unusable options; 130: stopped."""
    from fourfold.simulator.command import SimulateOptions
    from fourfold.simulator.command import simulate as run

    options = SimulateOptions(
        seed=seed,
        partners=partners,
        customers=customers,
        signup_days=signup_days,
        days=days,
        start=start.date() if start is not None else None,
        out=out,
        ingest_url=ingest_url,
        history_days=history_days,
        batch_size=batch_size,
        prefix=prefix,
        stripe=stripe,
    )
    _exit(run(options, track=_days_bar if progress and str(out) != "-" else None))


def _days_bar(events: Iterable[Planned], first: date, days: int) -> Iterator[Planned]:
    """`events` as they are written, with a bar of simulated days done (on stderr)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[bold]simulate"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days  {task.fields[events]} events"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task("simulate", total=days, events=0)
        written = 0
        for planned in events:
            written += 1
            if written % 1000 == 0:
                bar.update(task, completed=(planned.at.date() - first).days, events=written)
            yield planned
        bar.update(task, completed=days, events=written)


@token_app.command("issue", short_help="Print a signed bearer token.")
def token_issue(
    role: Annotated[RoleName, typer.Option(help="What the token may do.")],
    subject: Annotated[str, typer.Option(help="Free-text name of who holds the token.")],
    partner_id: Annotated[
        str | None, typer.Option(help="The partner the token is scoped to (--role partner).")
    ] = None,
    ttl_days: Annotated[
        float | None, typer.Option(help="Lifetime in days; omitted, the token never expires.")
    ] = None,
) -> None:
    """Print a bearer token signed with FOURFOLD_AUTH_SECRET (unset: with the secret of the
    `make dev` stack running on FOURFOLD_STATE_DIR). Exit 1: it cannot be issued."""
    if role is RoleName.partner and not partner_id:
        raise typer.BadParameter("required for --role partner", param_hint="'--partner-id'")
    if role is not RoleName.partner and partner_id:
        raise typer.BadParameter("only allowed with --role partner", param_hint="'--partner-id'")
    if ttl_days is not None and ttl_days <= 0:
        raise typer.BadParameter("must be positive", param_hint="'--ttl-days'")
    from fourfold.auth.cli import issue

    _exit(issue(role=role.value, subject=subject, partner_id=partner_id, ttl_days=ttl_days))


@app.command(short_help="Apply a service's migrations.")
def migrate(
    service: Annotated[ServiceName, typer.Argument(metavar="SERVICE", help="Whose schema.")],
) -> None:
    """Apply a service's migrations to the database its settings name
    (FOURFOLD_DATABASE_URL), without starting it. Exit 2: no database URL."""
    from fourfold.service.migrate import migrate as upgrade

    _exit(upgrade(service.value))


@app.command(short_help="Write the event JSON Schemas (default docs/events).")
def schemas(
    target: Annotated[
        Path, typer.Argument(metavar="DIR", file_okay=False, help="Where to write them.")
    ] = Path("docs/events"),
) -> None:
    """Write the JSON Schema of every event type (one file each, under v1/); prints each
    path written."""
    from fourfold.events.schemas import write_schemas

    for path in write_schemas(target):
        print(path)


@app.command(short_help="Send an NDJSON event history to ingest, resumably.")
def backfill(
    file: Annotated[
        str,
        typer.Argument(metavar="FILE", help="The NDJSON file (.gz read as gzip), or - for stdin."),
    ],
    url: Annotated[
        str | None, typer.Option(help="Ingest's base URL (default FOURFOLD_BACKFILL_URL).")
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1, max=1000, help="Events per request (default FOURFOLD_BACKFILL_BATCH_SIZE)."
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Requests in flight (default FOURFOLD_BACKFILL_CONCURRENCY)."),
    ] = None,
    rate: Annotated[float | None, typer.Option(help="At most this many events a second.")] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Default: FILE.checkpoint.")
    ] = None,
    rejects: Annotated[
        Path | None, typer.Option(dir_okay=False, help="Default: FILE.rejects.ndjson.")
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore and replace a checkpoint.")
    ] = False,
    max_retry_s: Annotated[
        float,
        typer.Option(help="Give up (exit 3) when ingest stays unavailable this long."),
    ] = 300.0,
    progress: Annotated[bool, typer.Option(help="A progress bar on stderr.")] = True,
) -> None:
    """Send a vendor's event history (NDJSON, one CloudEvent a line, as POST /v1/events takes
    it) to ingest with FOURFOLD_BACKFILL_TOKEN. A checkpoint after each acknowledged batch:
    run the same command again to resume. Rejected lines go to FILE.rejects.ndjson. Exit 1:
    some lines rejected; 2: usage or credential problem; 3: ingest unavailable for
    --max-retry-s (resume later); 130: interrupted (docs/backfill.md)."""
    from fourfold.backfill.cli import backfill as run

    _exit(
        run(
            file=file,
            url=url,
            batch_size=batch_size,
            concurrency=concurrency,
            rate=rate,
            checkpoint=checkpoint,
            rejects=rejects,
            restart=restart,
            max_retry_s=max_retry_s,
            progress=progress,
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (default: the process's) and return its exit code."""
    command = typer.main.get_command(app)
    try:
        command.main(args=sys.argv[1:] if argv is None else argv, prog_name="fourfold")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
