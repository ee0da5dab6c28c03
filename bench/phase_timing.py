"""Time the phases of each poll of the health-scoring service during a benchmark.

An app factory for `BENCH_HEALTH_APP`: it wraps the consumer's and repository's phases
(parse, lock and load, fold, evaluate, each write, outbox staging, offset commit, relay)
with wall-clock timers and rewrites a report every two seconds, one per service process:

    PYTHONPATH=bench BENCH_HEALTH_APP=phase_timing:create_app .venv/bin/python bench/health_bench.py
    cat /tmp/fourfold-phases-*.txt    # or the folder in BENCH_PHASES_DIR

The bench starts the service twice ((b), then (c)): the older report is (b)'s. Wall time
includes waiting, so phases on the same event loop (the relay) overlap the consumer's.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from fourfold.health import app as health_app
from fourfold.health import consumer as health_consumer
from fourfold.health import repository, rescoring
from fourfold.kafka import consumer as batch_consumer
from fourfold.kafka import outbox

SECONDS: defaultdict[str, float] = defaultdict(float)
CALLS: Counter[str] = Counter()
REPORT = Path(os.environ.get("BENCH_PHASES_DIR", "/tmp")) / f"fourfold-phases-{os.getpid()}.txt"


def _timed(owner: Any, name: str) -> None:
    """Replace `owner.name` by a timed wrapper (coroutine functions are awaited)."""
    original: Callable[..., Any] = getattr(owner, name)

    def record(started: float) -> None:
        SECONDS[name] += time.perf_counter() - started
        CALLS[name] += 1

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def timed_coroutine(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                record(started)

        setattr(owner, name, timed_coroutine)
    else:

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                record(started)

        setattr(owner, name, timed)


# Names as the callers look them up: module globals where imported by name.
for phase in (
    "lock_customers",
    "load_overrides",
    "load_trend_history",
    "save_customers",
    "add_history",
):
    _timed(repository, phase)
_timed(rescoring, "evaluate")
_timed(health_consumer, "fold_events")
_timed(batch_consumer, "stage")
for phase in ("handle_poll", "_parse", "_apply_once", "_commit"):
    _timed(batch_consumer.BatchConsumer, phase)
_timed(outbox.OutboxRelay, "publish_once")
_timed(AIOKafkaConsumer, "getmany")


def _write_report() -> None:
    lines = [
        f"{name:22s} {seconds:8.3f} s  calls={CALLS[name]}"
        for name, seconds in sorted(SECONDS.items(), key=lambda item: -item[1])
    ]
    REPORT.write_text("\n".join(lines) + "\n")


def _report_every_two_seconds() -> None:
    while True:
        time.sleep(2)
        _write_report()


threading.Thread(target=_report_every_two_seconds, daemon=True).start()
create_app = health_app.create_app
