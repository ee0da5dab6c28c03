"""The checkpoint: how far a backfill got, written atomically after each acknowledged batch.

A resumed run skips the lines the checkpoint covers and cuts the rejects file back to what
it held then, so a batch in flight when the process died is sent again (ingest reports its
events as duplicates) and no rejection is written twice.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Progress:
    lines: int = 0  # input lines consumed (blank ones too)
    sent: int = 0  # events sent to ingest
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0  # by ingest, or here (a line that is not a JSON object)
    rejects_bytes: int = 0  # the size of the rejects file at this point


@dataclass
class Checkpoint:
    path: Path | None
    source: dict[str, Any]
    progress: Progress = field(default_factory=Progress)

    @classmethod
    def load_or_new(cls, path: Path | None, source: dict[str, Any]) -> Checkpoint:
        """The saved checkpoint for `source`, or a fresh one; ValueError if it is another's."""
        if path is None or not path.exists():
            return cls(path, source)
        saved = json.loads(path.read_text())
        if saved.get("source") != source:
            raise ValueError(
                f"checkpoint {path} belongs to {saved.get('source')}, not this input "
                "(it changed, or is another file): remove the checkpoint to start over"
            )
        return cls(path, source, Progress(**saved["progress"]))

    def save(self) -> None:
        if self.path is None:
            return
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps({"source": self.source, "progress": asdict(self.progress)}))
        os.replace(temporary, self.path)  # atomic: a kill leaves the old or the new one

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
