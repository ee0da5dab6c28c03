"""`fourfold backfill FILE.ndjson|FILE.ndjson.gz|-`: the command, its progress and summary."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from fourfold.backfill.checkpoint import Checkpoint
from fourfold.backfill.checkpoint import Progress as Counts
from fourfold.backfill.sender import BackfillAborted, Options, run
from fourfold.backfill.settings import BackfillSettings
from fourfold.backfill.source import source_of

EPILOG = """
Each line is one CloudEvent as POST /v1/events takes it (docs/backfill.md). The token comes
from FOURFOLD_BACKFILL_TOKEN, the URL from --url or FOURFOLD_BACKFILL_URL. A checkpoint
(FILE.checkpoint) is written after each acknowledged batch: run the same command again to
resume; it is removed when the run completes. Rejected lines go to FILE.rejects.ndjson with
their reason. Exit status: 0 all sent, 1 some lines rejected, 2 usage or credential
problem, 3 ingest unavailable for --max-retry-s (resume later).
"""


def parser(settings: BackfillSettings) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fourfold backfill",
        description="Send a vendor's event history (NDJSON, one CloudEvent a line) to ingest.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="the NDJSON file (.gz read as gzip), or - for stdin")
    p.add_argument("--url", default=settings.backfill_url, help="ingest's base URL")
    p.add_argument("--batch-size", type=int, default=settings.backfill_batch_size)
    p.add_argument("--concurrency", type=int, default=settings.backfill_concurrency)
    p.add_argument("--rate", type=float, default=None, help="at most this many events a second")
    p.add_argument("--checkpoint", type=Path, default=None, help="default: FILE.checkpoint")
    p.add_argument("--rejects", type=Path, default=None, help="default: FILE.rejects.ndjson")
    p.add_argument("--restart", action="store_true", help="ignore and replace a checkpoint")
    p.add_argument("--max-retry-s", type=float, default=300.0)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str]) -> int:
    settings = BackfillSettings()
    args = parser(settings).parse_args(argv)
    console = Console(stderr=True)
    if settings.backfill_token is None:
        console.print(
            "[red]FOURFOLD_BACKFILL_TOKEN is not set[/] (fourfold token issue --role ingest)"
        )
        return 2
    if not 1 <= args.batch_size <= 1000 or args.concurrency < 1 or (args.rate or 1) <= 0:
        console.print("[red]--batch-size is 1-1000, --concurrency and --rate above 0[/]")
        return 2
    try:
        source = source_of(args.file)
    except OSError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    base = Path(args.file) if source.path is not None else Path("backfill")
    checkpoint_path = args.checkpoint or (
        base.with_name(base.name + ".checkpoint") if source.path else None
    )
    rejects_path = args.rejects or base.with_name(base.name + ".rejects.ndjson")
    if args.restart and checkpoint_path is not None:
        checkpoint_path.unlink(missing_ok=True)
    try:
        checkpoint = Checkpoint.load_or_new(checkpoint_path, source.identity())
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    resumed = checkpoint.progress.lines
    options = Options(
        url=args.url,
        token=settings.backfill_token.get_secret_value(),
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        rate=args.rate,
        max_retry_s=args.max_retry_s,
    )
    if resumed:
        console.print(f"resuming {source.name} after line {resumed} ({checkpoint_path})")
    started = time.monotonic()
    total = source.count()
    bar = Progress(
        TextColumn("[bold]backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("lines  sent {task.fields[sent]}  [green]accepted {task.fields[accepted]}"),
        TextColumn(
            "[yellow]duplicate {task.fields[duplicate]}  [red]rejected {task.fields[rejected]}"
        ),
        TextColumn("{task.fields[rate]} ev/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=args.no_progress,
    )
    done = checkpoint.progress
    with bar:
        task = bar.add_task(
            "backfill",
            total=total,
            completed=resumed,
            sent=done.sent,
            accepted=done.accepted,
            duplicate=done.duplicate,
            rejected=done.rejected,
            rate="-",
        )
        sent = [done.sent]
        first = done.sent

        def on_sent(n: int) -> None:
            sent[0] += n
            bar.update(task, sent=sent[0])

        def on_commit(counts: Counts) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(
                task,
                completed=counts.lines,
                accepted=counts.accepted,
                duplicate=counts.duplicate,
                rejected=counts.rejected,
                rate=f"{(counts.sent - first) / elapsed:,.0f}",
            )

        try:
            counts = asyncio.run(
                run(source, checkpoint, rejects_path, options, on_sent=on_sent, on_commit=on_commit)
            )
        except BackfillAborted as exc:
            bar.stop()
            console.print(f"[red]stopped:[/] {exc}")
            _summary(console, checkpoint.progress, rejects_path, time.monotonic() - started, first)
            return exc.exit_code
        except KeyboardInterrupt:
            bar.stop()
            console.print("[yellow]interrupted[/]: run the same command again to resume")
            return 130
    checkpoint.remove()
    _summary(console, counts, rejects_path, time.monotonic() - started, first)
    return 1 if counts.rejected else 0


def _summary(console: Console, counts: Counts, rejects: Path, elapsed: float, first: int) -> None:
    rate = (counts.sent - first) / max(elapsed, 1e-6)
    console.print(
        f"sent {counts.sent} events from {counts.lines} lines: "
        f"{counts.accepted} accepted, {counts.duplicate} duplicate, {counts.rejected} rejected "
        f"({rate:,.0f} events/s)"
    )
    if counts.rejected:
        console.print(f"[red]{counts.rejected} lines rejected[/]: reasons in {rejects}")
