"""Health-scoring's own pure work per event, without broker or database: the records of
`health_bench` (10,000 customers, 70,000 events) in polls of 500, grouped per customer,
each known customer's state read back from the JSON its previous save wrote, folded,
`evaluate`d, and its rows turned into the upsert's and history insert's parameters (what
the consumer's handler does between its statements). Then per-call figures for one typical
bench customer (a subscription and six usage readings).

    .venv/bin/python bench/health_pure.py            # this tree
    /work/main/.venv/bin/python bench/health_pure.py # another tree's venv runs its code

Alternate the two to compare. Prints process CPU µs per event (best of `BENCH_PASSES`
passes, default 5) and per call (best of 200 × 50 calls). Not run by `make bench`.
"""

from __future__ import annotations

import gc
import os
import time
import timeit
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import health_bench
import orjson

from fourfold.events import Envelope, parse_event
from fourfold.health import evaluation as evaluation_module
from fourfold.health import repository, snapshot
from fourfold.health import state as state_module
from fourfold.health.domain.scorecard import default_scorecard
from fourfold.health.evaluation import Previous, evaluate
from fourfold.health.folding import customer_of, fold_events
from fourfold.health.state import CustomerState, state_from_json
from fourfold.service.tuning import tune_gc

POLL = 500
SCORECARD = default_scorecard()


def records() -> list[Envelope]:
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
    raw = [health_bench.subscription_created("r", i, now.date()) for i in range(10_000)]
    for i in range(10_000):
        raw += health_bench.usage_for("r", i, midnight)
    return [parse_event(orjson.dumps(r)) for r in raw]


def document_bytes(value: Any) -> bytes:
    """A saved JSON document as the database hands its text back, whichever form the row
    holds it in (a dict, or already encoded)."""
    return value if isinstance(value, bytes) else orjson.dumps(value)


def replay(events: list[Envelope]) -> tuple[int, float]:
    """(evaluations, CPU seconds) of one pass over every poll."""
    saved: dict[str, tuple[bytes, Previous]] = {}
    evaluations = 0
    upsert, insert = repository._UPSERT_CUSTOMERS, repository._INSERT_HISTORY
    started = time.process_time()
    for first in range(0, len(events), POLL):
        now = datetime.now(UTC)
        by_customer: dict[str, list[Envelope]] = defaultdict(list)
        for event in events[first : first + POLL]:
            customer = customer_of(event)
            if customer is not None:
                by_customer[customer].append(event)
        rows, points = [], []
        for customer, own in by_customer.items():
            known = saved.get(customer)
            if known is None:
                state, previous = CustomerState.new(customer), None
            else:
                state, previous = state_from_json(orjson.loads(known[0])), known[1]
            after = fold_events(state, own)
            if previous is not None and after == state:
                continue
            done = evaluate(after, previous=previous, scorecard=SCORECARD, now=now, cause="event")
            evaluations += 1
            rows.append(done.row)
            if done.history:
                points.append(done.history)
            row = done.row
            saved[customer] = (
                document_bytes(row["signals"]),
                Previous(
                    row["score"],
                    row["computed_score"],
                    row["band"],
                    row["step"],
                    row["history_at"],
                    row["version"],
                    row["partner_id"],
                ),
            )
        upsert.parameters(rows)
        if points:
            insert.parameters(points)
    return evaluations, time.process_time() - started


def per_call(name: str, call: Callable[[], object], per: int = 1, number: int = 50) -> None:
    best = min(timeit.repeat(call, number=number, repeat=200)) / number / per
    print(f"  {name}: {best * 1e6:.2f} µs")


def main() -> None:
    events = records()
    tune_gc()
    passes = int(os.environ.get("BENCH_PASSES", "5"))
    results = [replay(events) for _ in range(passes)]
    count, best = min(results, key=lambda r: r[1])
    print(
        f"pure path: {count} evaluations of {len(events)} events; best of {passes}:"
        f" {best / len(events) * 1e6:.1f} CPU µs/event"
        f" ({', '.join(f'{r[1] / len(events) * 1e6:.1f}' for r in results)})"
    )
    own = [e for e in events if customer_of(e) == health_bench.customer_id(4321)]
    state = fold_events(CustomerState.new(health_bench.customer_id(4321)), own)
    now = datetime.now(UTC)
    done = evaluate(state, previous=None, scorecard=SCORECARD, now=now, cause="event")
    result = done.result
    print("per call, one bench customer:")
    per_call(
        "evaluate",
        lambda: evaluate(state, previous=None, scorecard=SCORECARD, now=now, cause="event"),
    )
    per_call("score", lambda: evaluation_module.score(state.signals, SCORECARD, now))
    per_call(
        "_changed_event",
        lambda: evaluation_module._changed_event(state, result, None, SCORECARD, 1),
    )
    if hasattr(state_module, "state_document"):
        per_call("state document (bytes)", lambda: state_module.state_document(state))
    per_call(
        "state_to_json + orjson.dumps",
        lambda: orjson.dumps(state_module.state_to_json(state)),
    )
    if hasattr(snapshot, "explanation_document"):
        per_call("explanation document (bytes)", lambda: snapshot.explanation_document(result))
    per_call(
        "explanation_json + orjson.dumps",
        lambda: orjson.dumps(snapshot.explanation_json(result)),
    )
    rows = [done.row] * POLL
    per_call(
        "upsert parameters, per row of 500",
        lambda: repository._UPSERT_CUSTOMERS.parameters(rows),
        per=POLL,
        number=1,
    )
    gc.collect()


if __name__ == "__main__":
    main()
