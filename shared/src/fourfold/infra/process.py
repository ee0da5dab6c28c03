"""A child server process with its log kept on disk, readiness polling and a clean stop.

Each server runs in its own process group, so the terminal's Ctrl-C (SIGINT to the
foreground group) reaches only the process that started it; that process stops its servers
in its own order (services first, then the database and the broker), and nothing sees
its connections cut while it is still shutting down.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class ServerProcess:
    """Runs one server binary in the foreground of a child process."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.on_spawn: Callable[[ServerProcess], None] | None = None
        """Called right after the child is spawned, before it is ready."""
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.user = user
        self.stop_signal = stop_signal
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, ready: Callable[[], bool], timeout: float = 30.0) -> None:
        """Start and wait until `ready()` says yes; raise with the log tail if it never does."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(self.env or {})},
            user=self.user,
            process_group=0,  # shielded from the terminal's SIGINT: we stop it ourselves
        )
        log.close()
        if self.on_spawn is not None:
            self.on_spawn(self)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self.running():
                    raise RuntimeError(f"{self.name} exited at start; log:\n{self.log_tail()}")
                if ready():
                    return
                time.sleep(0.05)
            raise TimeoutError(f"{self.name} not ready after {timeout}s; log:\n{self.log_tail()}")
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the server to stop; kill it if it does not within `timeout`."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(self.stop_signal)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
