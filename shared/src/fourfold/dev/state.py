"""What a running `fourfold dev` keeps in the state dir, so other commands can find it.

    <state_dir>/dev/lock          held (flock) while a dev stack runs; the kernel lets go
                                  of it when the process ends, however it ends
    <state_dir>/dev/running.json  pid, start time and URLs of the running stack
    <state_dir>/dev/auth-secret   the stack's token secret (mode 0600), which
                                  `fourfold token issue` signs with while the stack runs
    <state_dir>/dev/simulation.json  the simulated run's first day and the simulated time it
                                  reached when the stack stopped (fourfold.dev.simulation)

A second `fourfold dev` on the same state dir finds the lock held, prints the record and
exits; it never touches the running stack.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO


def dev_dir(state_dir: Path) -> Path:
    return state_dir / "dev"


@dataclass(frozen=True)
class RunRecord:
    """Where a running dev stack is: its pid, its servers' pids and command lines as each
    starts, and its URLs once everything is up."""

    pid: int
    started_at: str
    urls: dict[str, str] = field(default_factory=dict)
    processes: dict[str, tuple[int, list[str]]] = field(default_factory=dict)

    def describe(self) -> str:
        urls = self.urls or {"": "(still starting)"}
        width = max(3, *(len(name) for name in urls))
        lines = [f"  {name:<{width}}  {url}" for name, url in urls.items()]
        return "\n".join([f"  {'pid':<{width}}  {self.pid} (since {self.started_at})", *lines])

    @classmethod
    def read(cls, state_dir: Path) -> RunRecord | None:
        try:
            data = json.loads((dev_dir(state_dir) / "running.json").read_text())
            processes = {k: (int(v[0]), list(v[1])) for k, v in data["processes"].items()}
            return cls(data["pid"], data["started_at"], data["urls"], processes)
        except (FileNotFoundError, ValueError, KeyError, TypeError, IndexError):
            return None


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.decode(errors="replace").split("\0")[:-1] or None


def leftovers(record: RunRecord) -> dict[str, int]:
    """The servers of a stack that ended without stopping them (killed hard) and are still
    running: same pid, same command line as recorded."""
    return {
        name: pid
        for name, (pid, argv) in record.processes.items()
        if pid != os.getpid() and _cmdline(pid) == argv
    }


class DevLock:
    """The one-stack-per-state-dir lock; `acquire` returns None when another stack holds it."""

    def __init__(self, state_dir: Path, handle: IO[str]) -> None:
        self._dir = dev_dir(state_dir)
        self._handle = handle
        self._record: RunRecord | None = None

    @classmethod
    def acquire(cls, state_dir: Path) -> DevLock | None:
        path = dev_dir(state_dir) / "lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        os.set_inheritable(handle.fileno(), False)
        return cls(state_dir, handle)

    def begin_record(self, started_at: str) -> None:
        self.write_record(RunRecord(pid=os.getpid(), started_at=started_at))

    def record_process(self, name: str, pid: int | None, argv: list[str]) -> None:
        """Note a server the moment it runs, so a later start can find it if we die hard."""
        if self._record is not None and pid is not None:
            self._record.processes[name] = (pid, argv)
            self.write_record(self._record)

    def record_urls(self, urls: dict[str, str]) -> None:
        if self._record is not None:
            self._record.urls.update(urls)
            self.write_record(self._record)

    def write_record(self, record: RunRecord) -> None:
        self._record = record
        path = self._dir / "running.json"
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(record), indent=2))
        partial.replace(path)

    def release(self) -> None:
        """The stack stopped: remove its record and let go of the lock."""
        with contextlib.suppress(FileNotFoundError):
            (self._dir / "running.json").unlink()
        self.close()

    def close(self) -> None:
        """Let go of the lock, leaving the files as they are."""
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def running_stack(state_dir: Path) -> RunRecord | None:
    """The record of the stack running on `state_dir`, or None when none runs.

    A stack that holds the lock but is still starting gives a record without URLs."""
    lock = DevLock.acquire(state_dir)
    if lock is not None:
        lock.close()  # nobody held it: no stack runs
        return None
    return RunRecord.read(state_dir) or RunRecord(pid=0, started_at="(just now)")


def secret_path(state_dir: Path) -> Path:
    return dev_dir(state_dir) / "auth-secret"


def load_or_create_secret(state_dir: Path, *, fresh: bool) -> str:
    """The stack's signing secret: a new random one unless `fresh` is false and one is kept."""
    path = secret_path(state_dir)
    if not fresh and path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret)
    return secret


def running_stack_secret(state_dir: Path) -> str | None:
    """The running stack's signing secret, or None when no stack runs on `state_dir`."""
    if running_stack(state_dir) is None:
        return None
    try:
        return secret_path(state_dir).read_text().strip() or None
    except FileNotFoundError:
        return None
