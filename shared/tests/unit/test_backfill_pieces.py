"""The backfill's pure pieces: cutting batches, pacing, checkpoints (no network)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from fourfold.backfill.checkpoint import Checkpoint
from fourfold.backfill.sender import batches
from fourfold.backfill.source import Source


def write(path: Path, lines: list[bytes]) -> Source:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return Source(path)


def test_batches_cut_by_count_and_bytes_and_advance_over_blank_and_bad_lines(
    tmp_path: Path,
) -> None:
    event = b'{"id":"' + b"x" * 90 + b'"}'  # 100 bytes
    source = write(tmp_path / "h.ndjson", [event] * 5 + [b"", b"[1]", b"nope"] + [event] * 3)

    cut = list(batches(source, skip=0, size=4, max_bytes=10_000))
    by_bytes = list(batches(source, skip=0, size=100, max_bytes=350))

    assert [len(b.events) for b in cut] == [4, 4]
    assert [b.last_line for b in cut] == [4, 11]
    assert [r["line"] for r in cut[1].local] == [7, 8]
    assert "one JSON object" in cut[1].local[0]["reason"]
    assert "not valid JSON" in cut[1].local[1]["reason"]
    assert [len(b.events) for b in by_bytes] == [3, 3, 2]
    assert sum(len(b.events) for b in by_bytes) == 8
    assert by_bytes[-1].last_line == 11


def test_batches_resume_after_the_skipped_lines(tmp_path: Path) -> None:
    source = write(tmp_path / "h.ndjson", [b'{"n":%d}' % i for i in range(10)])

    [rest] = list(batches(source, skip=7, size=100, max_bytes=10_000))

    assert [number for number, _ in rest.events] == [8, 9, 10]


def test_gzip_is_read_by_content_as_well_as_by_name(tmp_path: Path) -> None:
    hidden = tmp_path / "history.ndjson"  # gzip without the suffix
    hidden.write_bytes(gzip.compress(b'{"a":1}\n{"a":2}\n'))

    assert [line for _, line in Source(hidden).lines()] == [b'{"a":1}', b'{"a":2}']
    assert Source(hidden).count() == 2


def test_a_checkpoint_of_another_or_a_changed_file_is_refused(tmp_path: Path) -> None:
    source = write(tmp_path / "h.ndjson", [b'{"a":1}'])
    path = tmp_path / "h.ndjson.checkpoint"
    saved = Checkpoint(path, source.identity())
    saved.progress.lines = 1
    saved.save()

    assert Checkpoint.load_or_new(path, source.identity()).progress.lines == 1
    write(tmp_path / "h.ndjson", [b'{"a":1}', b'{"a":2}'])
    with pytest.raises(ValueError, match="remove the checkpoint"):
        Checkpoint.load_or_new(path, source.identity())
    assert json.loads(path.read_text())["progress"]["lines"] == 1
