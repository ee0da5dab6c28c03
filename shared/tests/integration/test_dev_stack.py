"""`fourfold dev` (make dev) as a user runs it: a real stack in a subprocess, on its own
state dir and ports.

One stack runs for the module: a second start is refused without harm, the CLI's tokens are
accepted, the banner's three commands show the simulated partner's book, ledger balance and
open nudges, scores move on the demo clock, and Ctrl-C stops everything cleanly (last test).
A start that fails stops what it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fourfold.dev.banner import BANNER_END, commands_in
from fourfold.dev.simulation import showcase_partner
from fourfold.dev.stack import GATEWAY_PORT, SERVICES, _available
from fourfold.infra.process import port_open
from fourfold.simulator.archetypes import Archetype
from fourfold.simulator.vendor import build_vendor

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

HOST = "127.0.0.1"
SIMULATION = ("--seed", "3", "--partners", "12", "--customers", "120", "--history-days", "35")
"""The module's stack: a smaller vendor than the default, on the default clock."""


@contextlib.contextmanager
def _outside_pytest_tmp() -> Iterator[Path]:
    """A state dir outside /tmp/pytest-of-<user>: another pytest session starting on this
    machine resets that folder to mode 0700, which would lock the embedded PostgreSQL's
    unprivileged user (when run as root) out of a data dir below it."""
    path = Path(tempfile.mkdtemp(prefix="fourfold-dev-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def state_dir() -> Iterator[Path]:
    with _outside_pytest_tmp() as path:
        yield path


def _free_offset() -> int:
    """A port offset where the gateway's and every service port (and spare ones) are free,
    below Linux's ephemeral range (32768 up): there an outgoing connection of any process
    may take a port between this check and the stack's bind."""
    for _ in range(50):
        offset = random.randrange(12_000, 24_000, 10)
        if not any(port_open(HOST, GATEWAY_PORT + offset + i) for i in range(7)):
            return offset
    raise RuntimeError("no free port range")


def _env(state_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOURFOLD_")}
    return {**env, "FOURFOLD_STATE_DIR": str(state_dir), **extra}


def _dev(state_dir: Path, offset: int, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fourfold.cli", "dev", "--port-offset", str(offset), *args],
        env=_env(state_dir, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job is
    )


def _processes_of(state_dir: Path) -> list[str]:
    """Every live process whose environment names `state_dir`: what a run left behind."""
    marker = f"FOURFOLD_STATE_DIR={state_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:120]!r}")
        except OSError:
            continue
    return found


def _infra_ports(state_dir: Path) -> list[int]:
    """The broker's and PostgreSQL's ports, from their logs."""
    logs = state_dir / "logs"
    ports = [int(p.stem.split("-")[1]) for p in logs.glob("tansu-*.log")]
    postgres = logs / "postgres.log"
    if postgres.exists():
        ports += [int(m) for m in re.findall(r"port (\d+)", postgres.read_text())]
    return ports


def _gone(state_dir: Path, ports: list[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left, listening = _processes_of(state_dir), [p for p in ports if port_open(HOST, p)]
        if not left and not listening:
            return
        time.sleep(0.2)
    raise AssertionError(f"left running: {left}; still listening: {listening}")


def test_a_database_that_cannot_start_stops_the_broker(state_dir: Path) -> None:
    """PostgreSQL fails after the broker is up (a kept, broken data dir): the broker is
    stopped too, and the run exits 1 saying why."""
    data = state_dir / "postgres" / "data"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("18\n")  # looks initialised, is not: postgres exits
    dev = _dev(state_dir, _free_offset(), "--keep-state", "--history-days", "0")
    output, _ = dev.communicate(timeout=300)
    assert dev.returncode == 1, output
    assert "start failed: postgres exited at start" in output
    ports = _infra_ports(state_dir)
    assert ports, output  # the broker had started
    _gone(state_dir, ports)


def test_a_failed_start_stops_what_it_started(state_dir: Path) -> None:
    """health-scoring cannot start (its scorecard file is missing) after the broker,
    PostgreSQL and ingest are up: the run says why, exits 1 and leaves nothing behind."""
    offset = _free_offset()
    dev = _dev(
        state_dir,
        offset,
        "--history-days",
        "0",
        FOURFOLD_HEALTH_SCORECARD_PATH=str(state_dir / "missing.yaml"),
    )
    output, _ = dev.communicate(timeout=300)
    assert dev.returncode == 1, output
    assert "start failed: health-scoring exited at start" in output
    assert "starting ingest" in output  # it got that far: broker, postgres, ingest were up
    ports = _infra_ports(state_dir)
    assert len(ports) >= 2, ports
    _gone(state_dir, [*ports, GATEWAY_PORT + offset, 8001 + offset, 8002 + offset])


def _until_banner(dev: subprocess.Popen[str], timeout: float = 400) -> str:
    """The output of `dev` up to the end of its banner."""
    assert dev.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = dev.stdout.readline()
        if not line:
            raise AssertionError("dev exited before its banner:\n" + "".join(lines))
        lines.append(line)
        if line.startswith(BANNER_END):
            return "".join(lines)
    raise AssertionError("no banner in time:\n" + "".join(lines))


def test_a_stack_whose_output_pipe_closed_still_stops_everything(state_dir: Path) -> None:
    """Whoever read `fourfold dev` went away (a closed pipe: its prints raise BrokenPipeError);
    Ctrl-C must still stop the services and the infrastructure."""
    offset = _free_offset()
    dev = _dev(state_dir, offset, "--history-days", "0")
    try:
        _until_banner(dev)
        ports = [*_infra_ports(state_dir), GATEWAY_PORT + offset, 8001 + offset]
        assert dev.stdout is not None
        dev.stdout.close()
        os.killpg(dev.pid, signal.SIGINT)
        dev.wait(timeout=90)
        _gone(state_dir, ports)
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_stack_killed_hard_is_cleaned_up_by_the_next_start(state_dir: Path) -> None:
    """SIGKILL gives `fourfold dev` no chance to stop its servers; the next start on the
    same state dir finds them by their recorded pid and command line and stops them."""
    offset = _free_offset()
    first = _dev(state_dir, offset, "--history-days", "0")
    _until_banner(first)
    record = json.loads((state_dir / "dev" / "running.json").read_text())
    pids = {name: pid for name, (pid, _) in record["processes"].items()}
    services = {spec.name for spec in SERVICES if _available(spec)}
    if set(pids) != {"tansu", "postgres", "gateway", *services}:
        os.killpg(first.pid, signal.SIGINT)  # stopped in order, not left behind as orphans
        first.communicate(timeout=90)
        raise AssertionError(f"recorded {sorted(pids)}, running {sorted(services)}")
    first.kill()
    first.communicate(timeout=30)
    assert all(_alive(pid) for pid in pids.values())  # orphans, as the bug left them
    second = _dev(state_dir, offset, "--history-days", "0")
    try:
        output = _until_banner(second)
        assert "was killed and left" in output
        assert [name for name, pid in pids.items() if _alive(pid)] == []
    finally:
        os.killpg(second.pid, signal.SIGINT)
        rest, _ = second.communicate(timeout=90)
    assert second.returncode == 0, rest
    _gone(state_dir, _infra_ports(state_dir))


def _stop(dev: subprocess.Popen[str]) -> str:
    os.killpg(dev.pid, signal.SIGINT)
    rest, _ = dev.communicate(timeout=90)
    assert dev.returncode == 0, rest
    return rest


def _post_once(ingest: str, token: str, event_id: str) -> str:
    """Post one event with a fixed id; its status (`accepted` or `duplicate`)."""
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": "https://billing.demo.fourfold.dev",
        "type": "invoice.payment_failed",
        "time": "2026-01-01T00:00:00Z",
        "data": {
            "invoice_id": "inv-restart",
            "subscription_id": "sub-cust-000",
            "customer_id": "cust-000",
            "amount": {"amount": "1.00", "currency": "EUR"},
            "attempt": 1,
        },
    }
    response = httpx.post(
        f"{ingest}/v1/events",
        json=event,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 202, response.text
    return str(response.json()["results"][0]["status"])


def test_a_restart_starts_fresh_unless_asked_to_keep_the_state(state_dir: Path) -> None:
    """The broker forgets everything on a stop; the database must too, or ingest answers
    `duplicate` for events no topic holds. `--keep-state` keeps database and secret."""
    offset = _free_offset()
    ingest = f"http://{HOST}:{8001 + offset}"
    runs = []
    for args in ((), (), ("--keep-state",)):
        dev = _dev(state_dir, offset, "--history-days", "0", *args)
        try:
            banner = _until_banner(dev)
            tokens = dict(re.findall(r"export (\w+)=(\S+)", banner))
            previous = runs[-1][1] if runs else None
            known = (
                None
                if previous is None
                else httpx.get(
                    f"http://{HOST}:{8002 + offset}/v1/admin/scorecard",
                    headers={"Authorization": f"Bearer {previous['ADMIN_TOKEN']}"},
                ).status_code
            )
            runs.append((_post_once(ingest, tokens["INGEST_TOKEN"], "restart-1"), tokens, known))
        finally:
            _stop(dev)
    statuses = [status for status, _, _ in runs]
    assert statuses == ["accepted", "accepted", "duplicate"]
    # a fresh start has a fresh secret (the last run's tokens are refused); a kept one not
    assert [known for _, _, known in runs] == [None, 401, 200]


@dataclass
class Stack:
    process: subprocess.Popen[str]
    state_dir: Path
    offset: int
    banner: str

    def url(self, service: str) -> str:
        spec = next(s for s in SERVICES if s.name == service)
        return f"http://{HOST}:{spec.port + self.offset}"

    @property
    def gateway(self) -> str:
        return f"http://{HOST}:{GATEWAY_PORT + self.offset}"

    def tokens(self) -> dict[str, str]:
        return dict(re.findall(r"export (\w+)=(\S+)", self.banner))


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with _outside_pytest_tmp() as state_dir:
        offset = _free_offset()
        dev = _dev(state_dir, offset, *SIMULATION)
        try:
            yield Stack(dev, state_dir, offset, _until_banner(dev))
        finally:
            if dev.poll() is None:
                os.killpg(dev.pid, signal.SIGINT)
                dev.communicate(timeout=90)
            if dev.stdout is not None:
                dev.stdout.close()


def _vendor() -> Any:
    """The vendor the module's stack simulates (same seed and size)."""
    return build_vendor(seed=3, partners=12, customers=120)


def _partner(stack: Stack) -> str:
    """The partner the banner shows: the simulation's own choice, derived here the same way."""
    partner = showcase_partner(_vendor(), days_in=35)
    assert f"as partner {partner}" in stack.banner
    return partner


def test_a_second_dev_says_where_the_first_runs_and_leaves_it_alone(stack: Stack) -> None:
    second = _dev(stack.state_dir, stack.offset)
    output, _ = second.communicate(timeout=60)
    assert second.returncode == 1
    assert "already running" in output
    assert stack.url("ingest") in output
    assert f"{stack.process.pid}" in output
    for service in ("ingest", "health-scoring"):
        assert httpx.get(f"{stack.url(service)}/readyz").status_code == 200
    assert stack.process.poll() is None


def test_the_banner_gives_the_gateway_its_docs_and_a_partner_and_an_admin_token(
    stack: Stack,
) -> None:
    tokens = stack.tokens()
    assert f"gateway         {stack.gateway}" in stack.banner
    assert f"{stack.gateway}/docs" in stack.banner
    assert httpx.get(f"{stack.gateway}/docs").status_code == 200
    partner = _partner(stack)
    book = httpx.get(
        f"{stack.gateway}/v1/partners/{partner}/customers",
        headers={"Authorization": f"Bearer {tokens['PARTNER_TOKEN']}"},
    )
    assert book.status_code == 200, book.text
    other = next(p.partner_id for p in _vendor().partners if p.partner_id != partner)
    foreign = httpx.get(
        f"{stack.gateway}/v1/partners/{other}/customers",
        headers={"Authorization": f"Bearer {tokens['PARTNER_TOKEN']}"},
    )
    assert foreign.status_code == 404  # a partner token sees its own partner only
    admin = httpx.get(
        f"{stack.gateway}/v1/partners/{other}/customers",
        headers={"Authorization": f"Bearer {tokens['ADMIN_TOKEN']}"},
    )
    assert admin.status_code == 200, admin.text


def test_cli_tokens_are_accepted_by_the_running_stack(stack: Stack) -> None:
    partner = _partner(stack)
    issued = subprocess.run(
        [
            *(sys.executable, "-m", "fourfold.cli", "token", "issue", "--role", "partner"),
            *("--partner-id", partner, "--subject", "me"),
        ],
        env=_env(stack.state_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    token = issued.stdout.strip()
    book = httpx.get(
        f"{stack.url('health-scoring')}/v1/partners/{partner}/customers",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert book.status_code == 200, book.text
    assert "dev stack" in issued.stderr


def _run(stack: Stack, command: str) -> Any:
    env = {**os.environ, **stack.tokens()}
    done = subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_the_three_commands_show_the_partners_book_balance_and_open_nudges(
    stack: Stack,
) -> None:
    """Run as printed: the book lists the partner's simulated customers, the ledger has
    accrued, and a customer the simulation stalls in Implement has an open nudge."""
    book_cmd, balance_cmd, nudges_cmd = commands_in(stack.banner)
    partner = _partner(stack)
    vendor = _vendor()
    customers = {c.customer_id: c for c in vendor.customers if c.partner_id == partner}
    book = _run(stack, book_cmd)["items"]
    assert book
    assert {item["customer_id"] for item in book} <= set(customers)
    balance = _run(stack, balance_cmd)["currencies"]
    assert [line["currency"] for line in balance] == [vendor_currency(vendor, partner)]
    assert float(balance[0]["total"]) > 0
    stalled = {cid for cid, c in customers.items() if c.archetype is Archetype.STALLS_IN_IMPLEMENT}

    def stalled_nudge() -> bool:
        nudges = _run(stack, nudges_cmd)["items"]
        return any(n["rule"] == "implement_stalled" and n["customer_id"] in stalled for n in nudges)

    _eventually(stalled_nudge, timeout=120, what="an open implement_stalled nudge of a staller")


def _eventually(condition: Any, *, timeout: float, what: str) -> None:
    """Poll `condition` (a state, never a duration) until it holds; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"no {what} within {timeout} s")


def vendor_currency(vendor: Any, partner: str) -> str:
    return str(next(p.currency for p in vendor.partners if p.partner_id == partner))


def test_scores_move_on_the_demo_clock(stack: Stack) -> None:
    """A simulated week passes in about 70 s: the book's 7-day trends appear."""
    book_cmd = commands_in(stack.banner)[0]

    def trended() -> bool:
        return any(item["trend_7d"] is not None for item in _run(stack, book_cmd)["items"])

    _eventually(trended, timeout=240, what="a 7-day trend in the partner's book")


def test_ctrl_c_stops_services_then_infrastructure_without_errors(stack: Stack) -> None:
    ports = [*_infra_ports(stack.state_dir), 8001 + stack.offset, 8002 + stack.offset]
    os.killpg(stack.process.pid, signal.SIGINT)  # what the terminal's Ctrl-C does
    rest, _ = stack.process.communicate(timeout=90)
    assert stack.process.returncode == 0, rest
    assert "everything stopped" in rest
    for service in ("ingest", "health-scoring"):
        log = (stack.state_dir / "logs" / f"{service}.log").read_text()
        assert "Application shutdown complete" in log
        bad = [line for line in log.splitlines() if "ERROR" in line or "Traceback" in line]
        assert bad == [], service
    _gone(stack.state_dir, ports)
