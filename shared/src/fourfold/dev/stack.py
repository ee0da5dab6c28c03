"""`make dev`: embedded broker and PostgreSQL, every service, and the demo feed.

Ctrl-C (or SIGTERM) stops the feed, the services, then the database and the broker, and
leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from pydantic import SecretStr

from fourfold.auth import Role, issue_token
from fourfold.clock import SystemClock
from fourfold.dev.demo_feed import run_demo_feed
from fourfold.infra.broker import EmbeddedBroker
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.logs import configure_logging
from fourfold.settings import DEV_AUTH_SECRET, FourfoldSettings

log = logging.getLogger("fourfold.dev")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port: int


SERVICES = [
    ServiceSpec("ingest", "fourfold.ingest.app", 8001),
    ServiceSpec("health-scoring", "fourfold.health.app", 8002),
]


def _available(spec: ServiceSpec) -> bool:
    with contextlib.suppress(ModuleNotFoundError):
        return importlib.util.find_spec(spec.module) is not None
    return False


def _start_service(
    spec: ServiceSpec, env: dict[str, str], settings: FourfoldSettings
) -> subprocess.Popen[bytes]:
    log_path = settings.state_dir / "logs" / f"{spec.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"{spec.module}:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(spec.port),
            ],
            env={**os.environ, **env, "FOURFOLD_SERVICE_NAME": spec.name},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(spec: ServiceSpec, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{spec.name} exited; see .state/logs/{spec.name}.log")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{spec.port}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise TimeoutError(f"{spec.name} not ready after {timeout}s")


def main() -> int:
    settings = FourfoldSettings()
    if settings.auth_secret.get_secret_value() == DEV_AUTH_SECRET:
        # The services get URLs, so they refuse the public default: a fresh one per run.
        settings.auth_secret = SecretStr(secrets.token_urlsafe(32))
    configure_logging(service="dev", level="INFO", json=False)
    clock = SystemClock()
    broker = EmbeddedBroker(settings.state_dir).start()
    postgres = EmbeddedPostgres(settings.state_dir).start()
    env = {
        "FOURFOLD_AUTH_SECRET": settings.auth_secret.get_secret_value(),
        "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "FOURFOLD_DATABASE_URL": postgres.url(),
        "FOURFOLD_STATE_DIR": str(settings.state_dir),
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for spec in filter(_available, SERVICES):
            process = _start_service(spec, env, settings)
            processes.append(process)
            _wait_ready(spec, process)
        now = clock.now()
        ingest_token = _demo_token(settings, now, "ingest", "demo-vendor")
        partner_token = _demo_token(settings, now, "partner", "demo-partner", "northwind-msp")
        admin_token = _demo_token(settings, now, "admin", "demo-admin")
        _print_banner(broker, postgres, ingest_token, partner_token, admin_token)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_feed_until_signal("http://127.0.0.1:8001", ingest_token, clock))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        postgres.stop()
        broker.stop()
        print("\nfourfold dev: everything stopped.")
    return 0


def _demo_token(
    settings: FourfoldSettings,
    now: datetime,
    role: Role,
    subject: str,
    partner_id: str | None = None,
) -> str:
    """A week-long token for the banner, signed with this run's secret."""
    return issue_token(
        secret=settings.auth_secret.get_secret_value(),
        issuer=settings.auth_issuer,
        role=role,
        subject=subject,
        partner_id=partner_id,
        ttl=timedelta(days=7),
        now=now,
    )


async def _feed_until_signal(ingest_url: str, token: str, clock: SystemClock) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    feed = asyncio.create_task(run_demo_feed(ingest_url=ingest_url, token=token, clock=clock))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({feed, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for task in (feed, stopper):
        task.cancel()
    if feed.done() and not feed.cancelled() and feed.exception():
        raise feed.exception()  # type: ignore[misc]


def _print_banner(
    broker: EmbeddedBroker,
    postgres: EmbeddedPostgres,
    ingest_token: str,
    partner_token: str,
    admin_token: str,
) -> None:
    services = "\n".join(
        f"  {spec.name:<15} http://127.0.0.1:{spec.port}  (docs: /docs, metrics: /metrics)"
        for spec in SERVICES
        if _available(spec)
    )
    print(
        f"""
Fourfold is running (Ctrl-C stops everything).

{services}
  broker          {broker.bootstrap_servers}   (embedded Tansu, memory-only)
  postgres        {postgres.url()}
  logs            .state/logs/

Ingest token (role ingest):
  {ingest_token}
Partner token (partner northwind-msp):
  {partner_token}
Admin token:
  {admin_token}

Post an event:
  curl -sS -X POST http://127.0.0.1:8001/v1/events \\
    -H "Authorization: Bearer {ingest_token}" \\
    -H "Content-Type: application/cloudevents+json" \\
    -d '{{"specversion":"1.0","id":"demo-1","source":"curl","type":"usage.reported",
         "time":"2026-01-01T00:00:00Z","data":{{"customer_id":"cust-001",
         "metric":"active_users","value":7,"period_start":"2025-12-31T00:00:00Z",
         "period_end":"2026-01-01T00:00:00Z"}}}}'

A demo feed is posting subscriptions, usage and milestones for 12 customers of 3 partners.
""",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
