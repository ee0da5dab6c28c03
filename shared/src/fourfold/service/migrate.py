"""`fourfold migrate SERVICE`: apply a service's migrations without starting it.

Services also migrate at start (under an advisory lock); this is for deploy pipelines that
want the schema ready first.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path

# service name → (settings class, migrations package)
SERVICES = {
    "ingest": ("fourfold.ingest.settings:IngestSettings", "fourfold.ingest"),
    "health-scoring": ("fourfold.health.settings:HealthSettings", "fourfold.health"),
    "incentives": ("fourfold.incentives.settings:IncentivesSettings", "fourfold.incentives"),
    "notifications": (
        "fourfold.notifications.settings:NotificationsSettings",
        "fourfold.notifications",
    ),
}


def migrate(service: str) -> int:
    """Upgrade `service`'s schema to head; 2 when the service or the database URL is unknown."""
    if service not in SERVICES:
        print(f"unknown service {service!r}; one of: {', '.join(SERVICES)}", file=sys.stderr)
        return 2
    settings_path, package = SERVICES[service]
    module_name, class_name = settings_path.split(":")
    settings = getattr(importlib.import_module(module_name), class_name)()
    if not settings.database_url:
        print("FOURFOLD_DATABASE_URL is not set: nothing to migrate", file=sys.stderr)
        return 2
    from fourfold.db.migrations import upgrade

    migrations_dir = Path(importlib.import_module(package).__file__ or "").parent / "migrations"
    asyncio.run(
        upgrade(
            url=settings.database_url,
            schema=settings.database_schema,
            migrations_dir=migrations_dir,
        )
    )
    print(f"{service}: schema {settings.database_schema!r} is at head")
    return 0
