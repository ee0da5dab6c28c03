"""The input: a file (plain or .gz) or stdin, read as numbered lines."""

from __future__ import annotations

import gzip
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Source:
    """Where the lines come from; `path` is None for stdin."""

    path: Path | None

    @property
    def name(self) -> str:
        return "<stdin>" if self.path is None else str(self.path)

    def identity(self) -> dict[str, object]:
        """What a checkpoint must match to be resumed: the same file, unchanged."""
        if self.path is None:
            return {"file": "<stdin>"}
        stat = self.path.stat()
        return {"file": str(self.path.resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns}

    def _open(self) -> BinaryIO:
        if self.path is None:
            stdin: BinaryIO = sys.stdin.buffer
            head = stdin.peek(2)[:2] if isinstance(stdin, io.BufferedReader) else b""
            if head == GZIP_MAGIC:
                return gzip.GzipFile(fileobj=stdin, mode="rb")  # type: ignore[return-value]
            return stdin
        with self.path.open("rb") as probe:
            head = probe.read(2)
        if head == GZIP_MAGIC or self.path.suffix == ".gz":
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        return self.path.open("rb")

    def lines(self, *, skip: int = 0) -> Iterator[tuple[int, bytes]]:
        """(line number from 1, line without its newline), after the first `skip` lines."""
        with self._open() as stream:
            for number, line in enumerate(stream, start=1):
                if number > skip:
                    yield number, line.rstrip(b"\r\n")

    def count(self) -> int | None:
        """How many lines there are (None for stdin, which can be read once only)."""
        if self.path is None:
            return None
        with self._open() as stream:
            return sum(1 for _ in stream)


def source_of(argument: str) -> Source:
    if argument == "-":
        return Source(None)
    path = Path(argument)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {argument}")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"cannot read {argument}")
    return Source(path)
