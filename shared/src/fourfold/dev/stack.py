"""`make dev`: embedded broker and PostgreSQL, every service, the gateway and the simulator.

One stack per state dir: a lock in `<state_dir>/dev/` (fourfold.dev.state) makes a second
`make dev` say where the running one is and exit 1 without touching it. Every piece is
registered for stopping the moment it has started, so a start that fails part-way stops
what it started. The servers run in their own process groups: Ctrl-C (or SIGTERM) reaches
this process only, which stops the simulator, then the services, then PostgreSQL and the
broker, so no service sees its infrastructure vanish while it is still shutting down.

The state is fresh on every start (the database, the logs, the token secret) because the
broker is memory-only: a kept database with an empty broker is a system that remembers
events no topic holds. `--keep-state` (`make dev KEEP_STATE=1`) keeps the database and
the secret on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx
from pydantic import SecretStr

from fourfold.auth import Role, issue_token
from fourfold.clock import Clock, SystemClock
from fourfold.dev.banner import Banner
from fourfold.dev.clock import DEFAULT_SECONDS_PER_DAY
from fourfold.dev.openapi import combined_openapi
from fourfold.dev.simulation import DEFAULT_HISTORY_DAYS, DevOptions, Simulation, plan_simulation
from fourfold.dev.state import (
    DevLock,
    RunRecord,
    leftovers,
    load_or_create_secret,
    running_stack,
)
from fourfold.gateway import Gateway, write_public_docs
from fourfold.infra.broker import EmbeddedBroker
from fourfold.infra.postgres import EmbeddedPostgres
from fourfold.infra.process import ServerProcess, port_open
from fourfold.logs import configure_logging
from fourfold.settings import DEV_AUTH_SECRET, FourfoldSettings
from fourfold.simulator.command import post_live
from fourfold.simulator.settings import SimulatorSettings

log = logging.getLogger("fourfold.dev")

HOST = "127.0.0.1"
TOKEN_TTL = timedelta(days=7)
"""Real time a printed token lasts (more simulated time on the fast clock)."""
MAX_TOKEN_TTL = timedelta(days=365 * 100)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    """The service's app module: it has `create_app(settings=None, clock=None)`."""
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


SERVICES = [
    ServiceSpec("ingest", "fourfold.ingest.app", 8001),
    ServiceSpec("health-scoring", "fourfold.health.app", 8002),
    ServiceSpec("incentives", "fourfold.incentives.app", 8003),
    ServiceSpec("notifications", "fourfold.notifications.app", 8004),
]
"""Every service `make dev` runs, in start order (a service whose module is not installed
is skipped): one line per service."""
GATEWAY_PORT = 8000
"""The gateway (Caddy, `fourfold.gateway`): the one URL for every public route."""


class StartFailed(Exception):
    """A piece of the stack did not come up; everything started before it is stopped."""


def _available(spec: ServiceSpec) -> bool:
    with contextlib.suppress(ModuleNotFoundError):
        return importlib.util.find_spec(spec.module) is not None
    return False


EMBEDDED_BROKER_SESSIONS = {
    f"FOURFOLD_{service}_CONSUMER_SESSION_TIMEOUT_MS": "2000"
    for service in ("HEALTH", "INCENTIVES", "NOTIFICATIONS")
}
"""The embedded broker holds every join for half the session timeout (docs/runtime.md,
"Group membership"): a 2 s session makes a restarted service consume again within ~1 s."""


def dev(
    *,
    keep_state: bool = False,
    port_offset: int = 0,
    history_days: int = DEFAULT_HISTORY_DAYS,
    seconds_per_day: float = DEFAULT_SECONDS_PER_DAY,
    seed: int = 1,
    partners: int = 36,
    customers: int = 300,
    stripe: bool = False,
) -> int:
    """Run the whole system on this machine until Ctrl-C; return the exit code."""
    options = DevOptions(
        keep_state=keep_state,
        port_offset=port_offset,
        history_days=history_days,
        seconds_per_day=seconds_per_day,
        seed=seed,
        partners=partners,
        customers=customers,
        stripe=stripe,
    )
    problem = options.problem()
    if problem is not None:
        print(f"fourfold dev: {problem}", file=sys.stderr)
        return 2
    settings = FourfoldSettings()
    configure_logging(service="dev", level="INFO", json=False)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per simulator request
    lock = DevLock.acquire(settings.state_dir)
    if lock is None:
        _say_already_running(settings.state_dir)
        return 1
    try:
        return _run(settings, options, lock)
    finally:
        lock.release()


def _say_already_running(state_dir: Path) -> None:
    record = running_stack(state_dir)
    where = record.describe() if record is not None else "  (it stopped just now)"
    print(
        f"fourfold dev: a dev stack is already running on {state_dir}/:\n{where}\n"
        "Use it, or stop it (Ctrl-C in its terminal) first. To run a second one, give it "
        "another FOURFOLD_STATE_DIR and --port-offset.",
        file=sys.stderr,
    )


def _run(settings: FourfoldSettings, options: DevOptions, lock: DevLock) -> int:
    state_dir = settings.state_dir.resolve()
    _stop_leftovers(state_dir)
    specs = [replace(s, port=s.port + options.port_offset) for s in SERVICES if _available(s)]
    gateway_port = GATEWAY_PORT + options.port_offset
    ports = [("gateway", gateway_port), *((s.name, s.port) for s in specs)]
    busy = [f"{name} ({port})" for name, port in ports if port_open(HOST, port)]
    if busy:
        print(
            f"fourfold dev: ports in use, nothing started: {', '.join(busy)}. Another "
            "program (or a dev stack on another state dir) listens there; stop it or pass "
            "--port-offset.",
            file=sys.stderr,
        )
        return 1
    _prepare_state(state_dir, keep=options.keep_state)
    if "auth_secret" not in settings.model_fields_set or (
        settings.auth_secret.get_secret_value() == DEV_AUTH_SECRET
    ):
        # The services get URLs, so they refuse the public default: the stack's own secret,
        # kept in the state dir for `fourfold token issue`, never printed.
        secret = load_or_create_secret(state_dir, fresh=not options.keep_state)
        settings.auth_secret = SecretStr(secret)
    simulation = plan_simulation(state_dir, options, now=SystemClock().now())
    lock.begin_record(SystemClock().now().isoformat())
    previous_sigint = signal.getsignal(signal.SIGINT)
    previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
    stack = contextlib.ExitStack()
    clock = simulation.clock.clock()
    stack.callback(simulation.save, state_dir, clock)
    code = 0
    try:
        infra = _start_infrastructure(stack, state_dir, lock)
        env = {
            "FOURFOLD_AUTH_SECRET": settings.auth_secret.get_secret_value(),
            "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": infra.broker.bootstrap_servers,
            "FOURFOLD_DATABASE_URL": infra.postgres.url(),
            "FOURFOLD_STATE_DIR": str(state_dir),
            **simulation.clock.env(),
            **simulation.clock.intervals_env(),
            **EMBEDDED_BROKER_SESSIONS,
        }
        if options.stripe:
            env["FOURFOLD_INGEST_STRIPE_WEBHOOK_SECRET"] = simulation.stripe_secret
        for spec in specs:
            _step(f"starting {spec.name} on {spec.url}")
            service = _service_process(spec, env, state_dir)
            service.on_spawn = _recorded(lock)
            stack.callback(_stopping, service, spec.name)
            service.start(ready=functools.partial(_ready, spec), timeout=90)
        gateway = _start_gateway(
            stack, state_dir, lock, specs, gateway_port, settings.max_body_bytes
        )
        run = _Run(settings, options, simulation, clock, specs, infra, lock, gateway.url)
        asyncio.run(run.serve())
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        _tell(f"\nfourfold dev: start failed: {exc}", stream=sys.stderr)
        code = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        _step("stopping: the gateway and the services first, then postgres and the broker")
        stack.close()
        signal.signal(signal.SIGINT, previous_sigint)
        signal.signal(signal.SIGTERM, previous_sigterm)
        _tell("fourfold dev: everything stopped.")
    return code


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _step(message: str) -> None:
    _tell(f"fourfold dev: {message}")


def _tell(text: str, *, stream: TextIO | None = None) -> None:
    """Print, but never let a closed terminal or pipe (BrokenPipeError) cut the stop short:
    the servers must be stopped whether or not anyone still reads us."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=stream or sys.stdout, flush=True)


@dataclass(frozen=True)
class _Infrastructure:
    broker: EmbeddedBroker
    postgres: EmbeddedPostgres


def _start_infrastructure(
    stack: contextlib.ExitStack, state_dir: Path, lock: DevLock
) -> _Infrastructure:
    """Broker, then PostgreSQL; each registered for stopping as soon as it exists (a start
    that fails stops its own half-started server) and recorded as soon as it runs."""
    _step("starting the embedded broker (Tansu)")
    broker = EmbeddedBroker(state_dir)
    broker.process.on_spawn = _recorded(lock)
    stack.callback(_stopping, broker, "broker")
    broker.start()
    _step("starting the embedded PostgreSQL")
    postgres = EmbeddedPostgres(state_dir)
    postgres.process.on_spawn = _recorded(lock)
    stack.callback(_stopping, postgres, "postgres")
    postgres.start()
    return _Infrastructure(broker, postgres)


def _start_gateway(
    stack: contextlib.ExitStack,
    state_dir: Path,
    lock: DevLock,
    specs: list[ServiceSpec],
    port: int,
    max_body_bytes: int,
) -> Gateway:
    """Caddy in front of the services that run (the routes of a skipped one answer 404),
    serving the combined OpenAPI document of what they serve; stopped first, before the
    services behind it."""
    served = {spec.name: httpx.get(f"{spec.url}/openapi.json", timeout=10).json() for spec in specs}
    docs = write_public_docs(state_dir / "gateway" / "public", combined_openapi(served))
    gateway = Gateway(
        state_dir,
        {spec.name: spec.url for spec in specs},
        port=port,
        host=HOST,
        max_body_bytes=max_body_bytes,
        docs=docs,
    )
    _step(f"starting the gateway (Caddy) on {gateway.url}")
    gateway.process.on_spawn = _recorded(lock)
    stack.callback(_stopping, gateway, "gateway")
    gateway.start()
    return gateway


def _recorded(lock: DevLock) -> Callable[[ServerProcess], None]:
    def record(server: ServerProcess) -> None:
        lock.record_process(server.name, server.pid, server.argv)

    return record


def _stop_leftovers(state_dir: Path) -> None:
    """Servers of a stack that was killed hard (no chance to stop them) still run: say so
    and stop them, so this start gets its ports and a database nobody else writes."""
    record = RunRecord.read(state_dir)
    left = {} if record is None else leftovers(record)
    if not left:
        return
    listed = ", ".join(f"{name} (pid {pid})" for name, pid in left.items())
    _step(
        f"the last dev stack here (pid {record.pid if record else '?'}) was killed and left "
        f"{listed} running: stopping them"
    )
    for name, pid in left.items():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT if name == "postgres" else signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in left.values()):
        time.sleep(0.1)
    for pid in left.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _stopping(server: Any, name: str) -> None:
    try:
        server.stop()
    except Exception as exc:  # keep stopping the others
        _tell(f"fourfold dev: stopping {name} failed: {exc}", stream=sys.stderr)


def _prepare_state(state_dir: Path, *, keep: bool) -> None:
    """Fresh logs every start (the last run's move to logs.previous/); a fresh database
    unless `keep`."""
    logs = state_dir / "logs"
    if logs.exists():
        previous = state_dir / "logs.previous"
        shutil.rmtree(previous, ignore_errors=True)
        logs.rename(previous)
    if not keep:
        shutil.rmtree(state_dir / "postgres", ignore_errors=True)


def _service_process(spec: ServiceSpec, env: dict[str, str], state_dir: Path) -> ServerProcess:
    return ServerProcess(
        spec.name,
        [sys.executable, "-m", "fourfold.dev.serve", spec.module, "--port", str(spec.port)],
        log_path=state_dir / "logs" / f"{spec.name}.log",
        env={**env, "FOURFOLD_SERVICE_NAME": spec.name},
    )


def _ready(spec: ServiceSpec) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{spec.url}/readyz", timeout=2).status_code == 200
    return False


class _Run:
    """The running stack: start the simulator, wait until the showcased partner has data,
    print the banner, simulate until stopped."""

    def __init__(
        self,
        settings: FourfoldSettings,
        options: DevOptions,
        simulation: Simulation,
        clock: Clock,
        specs: list[ServiceSpec],
        infra: _Infrastructure,
        lock: DevLock,
        gateway: str,
    ) -> None:
        self.gateway = gateway
        self.settings = settings
        self.options = options
        self.simulation = simulation
        self.clock = clock
        self.urls = {spec.name: spec.url for spec in specs}
        self.infra = infra
        self.lock = lock

    async def serve(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        work = asyncio.create_task(self._demo())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (work, stopper):
            task.cancel()
        await asyncio.gather(work, stopper, return_exceptions=True)
        if not work.cancelled() and work.exception() is not None:
            raise work.exception()  # type: ignore[misc]

    def token(self, role: Role, subject: str, partner_id: str | None = None) -> str:
        """A token valid `TOKEN_TTL` of real time, however fast the services' clock runs."""
        ttl = min(MAX_TOKEN_TTL, TOKEN_TTL * self.simulation.clock.speed)
        return issue_token(
            secret=self.settings.auth_secret.get_secret_value(),
            issuer=self.settings.auth_issuer,
            role=role,
            subject=subject,
            partner_id=partner_id,
            ttl=ttl,
            now=self.clock.now(),
        )

    async def _demo(self) -> None:
        if "ingest" not in self.urls:
            self._banner()
            await asyncio.Event().wait()
            return
        simulator = asyncio.create_task(self._simulate())
        shown = asyncio.create_task(self._until_partner_has_data())
        await asyncio.wait({simulator, shown}, return_when=asyncio.FIRST_COMPLETED)
        if simulator.done():  # it failed (a refused token, ...) before there was data
            shown.cancel()
            raise RuntimeError(f"the simulator stopped with exit code {simulator.result()}")
        self._banner()
        code = await simulator
        _step(f"the simulation ended (exit code {code}); the services keep running")
        await asyncio.Event().wait()

    async def _simulate(self) -> int:
        """`fourfold simulate` through the gateway, on the stack's clock."""
        simulation = self.simulation
        settings = SimulatorSettings(
            auth_secret=self.settings.auth_secret,
            simulator_token=SecretStr(self.token("ingest", "simulator")),
            log_json=False,
            **simulation.clock.settings(),  # type: ignore[arg-type]
        )
        stripe = simulation.stripe_secret if self.options.stripe else None
        return await post_live(
            simulation.timeline,
            ingest_url=self.gateway,
            settings=settings,
            clock=self.clock,
            stripe_secret=stripe,
            report=lambda text: _step(text.strip().removeprefix("fourfold simulate: ")),
        )

    async def _until_partner_has_data(self, timeout_s: float = 180.0) -> None:
        """Until the showcased partner's book lists customers (or `timeout_s` passed)."""
        partner = self.simulation.partner
        if "health-scoring" not in self.urls:
            return
        headers = {"Authorization": f"Bearer {self.token('admin', 'dev-stack')}"}
        url = f"{self.urls['health-scoring']}/v1/partners/{partner}/customers"
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(headers=headers, timeout=10) as http:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    book = await http.get(url)
                    if book.status_code == 200 and book.json()["items"]:
                        return
                await asyncio.sleep(0.5)
        _step(f"{partner} has no scored customers yet; printing the banner anyway")

    def _banner(self) -> None:
        infra = self.infra
        state = self.settings.state_dir
        partner = self.simulation.partner
        infrastructure = {
            "broker": f"{infra.broker.bootstrap_servers} (embedded Tansu, memory-only)",
            "postgres": infra.postgres.url(),
            "logs": f"{state}/logs/",
        }
        self.lock.record_urls({"gateway": self.gateway, **self.urls, **infrastructure})
        vendor = self.simulation.vendor
        how = "billing as Stripe webhooks" if self.options.stripe else "all through /v1/events"
        tokens = {
            "PARTNER_TOKEN": self.token("partner", f"demo-{partner}", partner),
            "ADMIN_TOKEN": self.token("admin", "demo-admin"),
            "INGEST_TOKEN": self.token("ingest", "demo-vendor"),
        }
        banner = Banner(
            gateway=self.gateway,
            services=self.urls,
            infrastructure=infrastructure,
            tokens=tokens,
            partner=partner,
            seconds_per_day=self.simulation.clock.seconds_per_day,
            simulated=f"{len(vendor.partners)} partners, {len(vendor.customers)} customers, "
            f"seed {vendor.seed}, {how}",
            kept=self.options.keep_state,
            token_days=TOKEN_TTL.days,
        )
        _tell(banner.text())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (our child no more, reaped by nobody yet) counts as gone
    with contextlib.suppress(OSError):
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    return True


if __name__ == "__main__":
    from fourfold.cli import main

    raise SystemExit(main(["dev", *sys.argv[1:]]))
