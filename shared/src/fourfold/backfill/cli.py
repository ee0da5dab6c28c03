"""`fourfold backfill FILE.ndjson|FILE.ndjson.gz|-`: the command, its progress and summary."""

from __future__ import annotations

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

EXIT_CODES = {
    0: "all lines sent",
    1: "some lines rejected (reasons in FILE.rejects.ndjson)",
    2: "usage or credential problem",
    3: "ingest unavailable for --max-retry-s (run again later to resume)",
    130: "interrupted (run again to resume)",
}


def backfill(
    *,
    file: str,
    url: str | None = None,
    batch_size: int | None = None,
    concurrency: int | None = None,
    rate: float | None = None,
    checkpoint: Path | None = None,
    rejects: Path | None = None,
    restart: bool = False,
    max_retry_s: float = 300.0,
    progress: bool = True,
    settings: BackfillSettings | None = None,
) -> int:
    """Send `file` (NDJSON, .gz, or - for stdin) to ingest with a checkpoint to resume from;
    unset options come from settings (FOURFOLD_BACKFILL_*). Returns an `EXIT_CODES` key."""
    settings = settings or BackfillSettings()
    url = url or settings.backfill_url
    batch_size = batch_size if batch_size is not None else settings.backfill_batch_size
    concurrency = concurrency if concurrency is not None else settings.backfill_concurrency
    console = Console(stderr=True)
    if settings.backfill_token is None:
        console.print(
            "[red]FOURFOLD_BACKFILL_TOKEN is not set[/] (fourfold token issue --role ingest)"
        )
        return 2
    if not 1 <= batch_size <= 1000 or concurrency < 1 or (rate or 1) <= 0:
        console.print("[red]--batch-size is 1-1000, --concurrency and --rate above 0[/]")
        return 2
    try:
        source = source_of(file)
    except OSError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    base = Path(file) if source.path is not None else Path("backfill")
    checkpoint_path = checkpoint or (
        base.with_name(base.name + ".checkpoint") if source.path else None
    )
    rejects_path = rejects or base.with_name(base.name + ".rejects.ndjson")
    if restart and checkpoint_path is not None:
        checkpoint_path.unlink(missing_ok=True)
    try:
        saved = Checkpoint.load_or_new(checkpoint_path, source.identity())
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    resumed = saved.progress.lines
    options = Options(
        url=url,
        token=settings.backfill_token.get_secret_value(),
        batch_size=batch_size,
        concurrency=concurrency,
        rate=rate,
        max_retry_s=max_retry_s,
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
        disable=not progress,
    )
    done = saved.progress
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
                run(source, saved, rejects_path, options, on_sent=on_sent, on_commit=on_commit)
            )
        except BackfillAborted as exc:
            bar.stop()
            console.print(f"[red]stopped:[/] {exc}")
            _summary(console, saved.progress, rejects_path, time.monotonic() - started, first)
            return exc.exit_code
        except KeyboardInterrupt:
            bar.stop()
            console.print("[yellow]interrupted[/]: run the same command again to resume")
            return 130
    saved.remove()
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
