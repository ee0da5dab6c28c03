"""`make bench`: backfill and the Stripe webhook, each against a baseline from the same run.

(b)  ingest over HTTP, batches of 500 (as in ingest_bench): the ceiling for backfill
(bf) `fourfold backfill` of an NDJSON file, a process of its own, spawn to exit
(c1) single-event CloudEvents POSTs, load from wrk in its own process
(s)  signed Stripe `customer.subscription.created` deliveries, the same wrk load

Every request of (c1) and (s) is a distinct event, so each one is validated, claimed and
published (no duplicate fast path). Figures go to docs/benchmarks-adapters-latest.md.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from harness import SECRET, bearer, serve, write_latest
from ingest_bench import (
    BATCH_CONCURRENCY,
    BATCH_SIZE,
    Result,
    events,
    http_load,
    median_table,
    wait_http,
)

from fourfold.events.registry import INPUT_TOPICS
from fourfold.infra.broker import EmbeddedBroker
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.infra.process import free_port
from fourfold.ingest.adapters.stripe_signature import header_for
from fourfold.kafka.topics import ensure_topics, with_dead_letters
from fourfold.testing.billing_samples import StripeLine, stripe_event, stripe_subscription
from fourfold.testing.samples import subscription_created

STRIPE_SECRET = "whsec_bench_0123456789abcdef0123456789"
BATCH_REQUESTS = 100
BACKFILL_EVENTS = 200_000
WRK_SECONDS = 10
WRK_CONNECTIONS = 32
WRK_THREADS = 2
WRK_REQUESTS = 40_000  # distinct requests prepared per wrk run (more than it can send)
ROUNDS = 3

# wrk's Lua: each thread walks its own share of the prepared requests, so no request is sent
# twice. A line is "<Stripe-Signature or ->\t<body>".
WRK_SCRIPT = r"""
local requests, threads, counter = {}, {}, 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local n = 0
  for line in io.lines(args[1]) do
    if n % tonumber(args[2]) == id then
      local signature, body = line:match("^([^\t]*)\t(.*)$")
      local headers = {["Content-Type"] = args[3], ["Authorization"] = args[4]}
      if signature ~= "-" then headers["Stripe-Signature"] = signature end
      table.insert(requests, wrk.format("POST", nil, headers, body))
    end
    n = n + 1
  end
  index = 0
end
function request()
  index = index % #requests + 1
  return requests[index]
end
"""


def stripe_lines(tag: str, n: int) -> list[str]:
    """Signed deliveries (signed now: valid for the tolerance), one per line."""
    now = int(time.time())
    out = []
    line = StripeLine("si_1", "price_pro_m", "prod_pro", 4900, 25)
    for i in range(n):
        sub = stripe_subscription(
            f"sub_{tag}_{i}",
            f"cus_{tag}_{i % 1000}",
            [line],
            metadata={"fourfold_partner_id": "p-1"},
        )
        body = orjson.dumps(stripe_event(f"evt_{tag}_{i}", "customer.subscription.created", sub))
        out.append(f"{header_for(body, secrets=[STRIPE_SECRET], timestamp=now)}\t{body.decode()}")
    return out


def cloudevent_lines(tag: str, n: int) -> list[str]:
    return [
        f"-\t{orjson.dumps(subscription_created(f'ce_{tag}_{i}', f'c_{tag}_{i % 1000}')).decode()}"
        for i in range(n)
    ]


def wrk(name: str, url: str, lines: list[str], content_type: str, state: Path) -> Result:
    script, data = state / "wrk.lua", state / f"wrk-{uuid.uuid4().hex[:6]}.tsv"
    script.write_text(WRK_SCRIPT)
    data.write_text("\n".join(lines) + "\n")
    auth = bearer("ingest")["Authorization"]
    output = subprocess.run(
        [
            "wrk",
            f"-t{WRK_THREADS}",
            f"-c{WRK_CONNECTIONS}",
            f"-d{WRK_SECONDS}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(data),
            str(WRK_THREADS),
            content_type,
            auth,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data.unlink()
    if "Non-2xx" in output:
        raise RuntimeError(f"{name}: some requests failed\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _latency(output, "50%")
    p99 = _latency(output, "99%")
    return WrkResult(name, int(rate * WRK_SECONDS), WRK_SECONDS, [p50, p99])


class WrkResult(Result):
    """wrk reports its own percentiles: latencies_ms holds [p50, p99]."""

    def pct(self, q: float) -> float:
        return self.latencies_ms[0] if q <= 0.5 else self.latencies_ms[1]


def _latency(output: str, label: str) -> float:
    found = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", output)
    if found is None:
        return float("nan")
    value, unit = float(found.group(1)), found.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def backfill(url: str, tag: str, state: Path) -> Result:
    path = state / f"history-{tag}.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events(f"bf{tag}", BACKFILL_EVENTS)))
    env = {
        "FOURFOLD_BACKFILL_URL": url,
        "FOURFOLD_BACKFILL_TOKEN": bearer("ingest")["Authorization"][7:],
    }
    started = time.perf_counter()
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "fourfold.cli",
            "backfill",
            str(path),
            "--no-progress",
            "--batch-size",
            str(BATCH_SIZE),
            "--concurrency",
            str(BATCH_CONCURRENCY),
        ],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if finished.returncode != 0 or f"{BACKFILL_EVENTS} accepted" not in finished.stderr:
        raise RuntimeError(f"backfill failed ({finished.returncode}): {finished.stderr}")
    path.unlink()
    return Result("(bf) fourfold backfill, NDJSON to acknowledged", BACKFILL_EVENTS, elapsed, [])


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("FOURFOLD_")}


async def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the webhook benchmark: apt-get install wrk")
    state = Path(tempfile.mkdtemp(prefix="fourfold-bench-adapters-"))
    broker = EmbeddedBroker(state).start()
    postgres = EmbeddedPostgres(state).start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await ensure_topics(broker.bootstrap_servers, with_dead_letters(INPUT_TOPICS), partitions=6)
        port = free_port()
        env = {
            "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "FOURFOLD_DATABASE_URL": postgres.url(),
            "FOURFOLD_AUTH_SECRET": SECRET,
            "FOURFOLD_LOG_LEVEL": "WARNING",
            "FOURFOLD_INGEST_STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
        }
        processes.append(serve("fourfold.ingest.app:create_app", port, env, state / "ingest.log"))
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/readyz")
        batch_headers = {**bearer("ingest"), "Content-Type": "application/cloudevents-batch+json"}
        run = uuid.uuid4().hex[:6]
        await http_load(
            "warm",
            f"{base}/v1/events",
            [orjson.dumps(events(f"w{run}", 50))] * 4,
            headers=batch_headers,
            concurrency=2,
            events_per_request=50,
        )
        wrk(
            "warm",
            f"{base}/v1/webhooks/stripe",
            stripe_lines(f"w{run}", 500),
            "application/json",
            state,
        )

        rounds: list[list[Result]] = []
        for round_no in range(ROUNDS):
            tag = f"{run}r{round_no}"
            all_batch = events(f"b{tag}", BATCH_SIZE * BATCH_REQUESTS)
            batches = [
                orjson.dumps(all_batch[i : i + BATCH_SIZE])
                for i in range(0, len(all_batch), BATCH_SIZE)
            ]
            batch = await http_load(
                "(b) ingest, batches of 500",
                f"{base}/v1/events",
                batches,
                headers=batch_headers,
                concurrency=BATCH_CONCURRENCY,
                events_per_request=BATCH_SIZE,
            )
            filled = backfill(base, tag, state)
            single = wrk(
                "(c1) single-event CloudEvents POSTs (wrk)",
                f"{base}/v1/events",
                cloudevent_lines(tag, WRK_REQUESTS),
                "application/cloudevents+json",
                state,
            )
            stripe = wrk(
                "(s) signed Stripe deliveries (wrk)",
                f"{base}/v1/webhooks/stripe",
                stripe_lines(tag, WRK_REQUESTS),
                "application/json",
                state,
            )
            rounds.append([batch, filled, single, stripe])
            print(
                f"round {round_no + 1}: (bf)/(b) {filled.rate / batch.rate:.0%}, "
                f"(s)/(c1) {stripe.rate / single.rate:.0%}",
                flush=True,
            )
        write_report(rounds)
    finally:
        for process in processes:
            process.terminate()
            process.wait(15)
        postgres.stop()
        broker.stop()


def write_report(rounds: list[list[Result]]) -> None:
    lines = median_table(rounds)
    backfill_ratios = [r[1].rate / r[0].rate for r in rounds]
    stripe_ratios = [r[3].rate / r[2].rate for r in rounds]
    lines += [
        "",
        f"- (bf)/(b) backfill vs ingest's batch rate: **{statistics.median(backfill_ratios):.0%}**"
        f" (rounds: {', '.join(f'{x:.0%}' for x in backfill_ratios)}; target ≥ 80%)",
        f"- (s)/(c1) Stripe webhook vs single CloudEvents POSTs: "
        f"**{statistics.median(stripe_ratios):.0%}**"
        f" (rounds: {', '.join(f'{x:.0%}' for x in stripe_ratios)}; target ≥ 70%)",
    ]
    table = "\n".join(lines)
    print(table)
    write_latest("benchmarks-adapters-latest.md", "Latest `make bench` (adapters)", table)


if __name__ == "__main__":
    asyncio.run(main())
