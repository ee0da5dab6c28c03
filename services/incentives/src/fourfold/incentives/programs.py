"""The program registry: versions stored in the database, the activated ones parsed once
and cached by version, the configured program activated at start."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fourfold.incentives import repository
from fourfold.incentives.domain.program import Program, ProgramSet, parse_program


class Programs:
    """Activated versions as a ProgramSet, re-read per use so every replica sees an
    activation at its next batch (one small query; each YAML is parsed only once)."""

    def __init__(self, refresh_s: float = 2.0) -> None:
        self._parsed: dict[str, Program] = {}
        self._refresh_s = refresh_s
        self._current: tuple[float, ProgramSet] | None = None

    def parse(self, version: str, source: str) -> Program:
        program = self._parsed.get(version)
        if program is None:
            program = self._parsed[version] = parse_program(source)
        return program

    async def current(self, session: AsyncSession) -> ProgramSet:
        """The activated versions, re-read at most every `refresh_s` (an activation on
        another replica is in force here within that time; on this one at once)."""
        now = time.monotonic()
        if self._current is not None and now - self._current[0] < self._refresh_s:
            return self._current[1]
        rows = await repository.activated_programs(session)
        programs = ProgramSet([self.parse(row.version, row.source) for row in rows])
        self._current = (now, programs)
        return programs

    def invalidate(self) -> None:
        """Forget the cached set (after an activation through this process)."""
        self._current = None

    async def get(self, session: AsyncSession, version: str) -> Program | None:
        row = await repository.program_row(session, version)
        return None if row is None else self.parse(row.version, row.source)


def program_row(
    program: Program, source: str, *, by: str, at: datetime, activate: bool
) -> dict[str, Any]:
    return {
        "version": program.version,
        "program_id": program.program_id,
        "effective_from": program.effective_from,
        "effective_to": program.effective_to,
        "source": source,
        "uploaded_by": by,
        "uploaded_at": at,
        "activated_at": at if activate else None,
    }


async def install(session: AsyncSession, source: str, *, at: datetime) -> Program:
    """Store and activate the configured program at start (a version already stored is kept
    as it is; activating it again changes nothing)."""
    program = parse_program(source)
    row = program_row(program, source, by="startup", at=at, activate=True)
    if not await repository.add_program(session, row):
        stored = await repository.program_row(session, program.version)
        if stored is not None and stored.source != source:
            raise ValueError(
                f"program version {program.version!r} is stored with a different text: "
                "give the changed program a new version"
            )
        await repository.activate_program(session, program.version, at)
    return program
