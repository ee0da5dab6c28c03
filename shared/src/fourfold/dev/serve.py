"""Run one service for `make dev`: its app factory under uvicorn.

    python -m fourfold.dev.serve fourfold.health.app --port 8002

Every service module has `create_app(settings=None, clock=None)`; this calls it with
neither, so the service builds its settings from the environment and its clock with
`fourfold.clock.clock_from(settings)`: the dev stack's demo clock (`FOURFOLD_CLOCK_*`, see
fourfold.dev.clock) is the same mechanism as production's system clock. It runs under
uvicorn exactly as `uvicorn MODULE:create_app --factory` would (same logging set-up, same
signals).
"""

from __future__ import annotations

import argparse
import importlib

import uvicorn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fourfold.dev.serve")
    parser.add_argument("module", help="the service's app module, e.g. fourfold.ingest.app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    create_app = importlib.import_module(args.module).create_app
    uvicorn.run(create_app, factory=True, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
