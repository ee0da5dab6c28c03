"""The `fourfold` command: dev, simulate, token issue, migrate, schemas."""

from __future__ import annotations

import sys

USAGE = """usage: fourfold COMMAND

commands:
  dev [--keep-state]  run the whole system on embedded parts with a demo feed
                      (fourfold dev --help)
  token issue ...     issue a bearer token (fourfold token issue --help)
  simulate ...        a simulated vendor's events, to NDJSON or live to ingest (--help)
  schemas [DIR]       write the event JSON Schemas (default docs/events)
  backfill FILE ...   send an NDJSON event history to ingest (fourfold backfill --help)
  migrate SERVICE     apply a service's migrations (ingest | health-scoring) to the
                      database its settings name (FOURFOLD_DATABASE_URL)
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    match args:
        case ["dev", *rest]:
            from fourfold.dev.stack import main as dev

            return dev(rest)
        case ["simulate", *rest]:
            from fourfold.simulator.command import main as simulate

            return simulate(rest)
        case ["token", "issue", *rest]:
            from fourfold.auth.cli import main_issue_token

            return main_issue_token(rest)
        case ["migrate", service]:
            from fourfold.service.migrate import migrate

            return migrate(service)
        case ["backfill", *rest]:
            from fourfold.backfill.cli import main as backfill

            return backfill(rest)
        case ["schemas", *rest]:
            from fourfold.events.schemas import main as schemas

            return schemas(rest)
        case _:
            print(USAGE, file=sys.stderr)
            return 2


if __name__ == "__main__":
    raise SystemExit(main())
