"""What every benchmark shares: serve an ASGI app with uvicorn in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fourfold.auth import Role, issue_token

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
SECRET = "bench-secret-bench-secret-bench-secret-00"  # handed to the served apps


def bearer(role: Role) -> dict[str, str]:
    """An Authorization header for `role`, signed with the bench's secret, valid an hour."""
    token = issue_token(
        secret=SECRET,
        issuer="fourfold",
        role=role,
        subject="bench",
        ttl=timedelta(hours=1),
        now=datetime.now(UTC),
    )
    return {"Authorization": f"Bearer {token}"}


def write_latest(filename: str, title: str, table: str) -> Path:
    """Record a run's table in docs/`filename` with a timestamp, and say where."""
    out = ROOT / "docs" / filename
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out.write_text(f"# {title}, {stamp}\n\n{table}\n")
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return out


def serve(target: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Run `module:attr` (a factory when it ends in `create_app`) on 127.0.0.1:`port`."""
    factory = ["--factory"] if target.endswith("create_app") else []
    with log.open("ab") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                target,
                *factory,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=BENCH_DIR,  # so bench-local apps (bare_app) import
        )
