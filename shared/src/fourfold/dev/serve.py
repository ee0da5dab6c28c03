"""Run one service for `make dev`: its app factory, on the dev stack's shared clock.

    python -m fourfold.dev.serve fourfold.health.app --port 8002

Every service module has `create_app(settings=None, clock=None)`; this calls it with a
`DevClock` on the state dir from settings, under uvicorn exactly as
`uvicorn MODULE:create_app --factory` would (same logging set-up, same signals).
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

import uvicorn

from fourfold.dev.clock import DevClock
from fourfold.settings import FourfoldSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fourfold.dev.serve")
    parser.add_argument("module", help="the service's app module, e.g. fourfold.ingest.app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    create_app = importlib.import_module(args.module).create_app
    clock = DevClock(FourfoldSettings().state_dir)

    def factory() -> Any:
        return create_app(clock=clock)

    uvicorn.run(factory, factory=True, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
