"""`log_context`: fields on every log line inside its block, nested blocks adding to the
outer one's, and each block's fields gone once it ends, however it ends."""

from __future__ import annotations

import json
import logging

import pytest

from fourfold.logs import configure_logging, log_context


def _fields(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]


def test_nested_blocks_add_fields_and_each_ends_with_its_block(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(service="logs-test", level="INFO")
    log = logging.getLogger("logs.test")
    with log_context(request_id="r1"):
        log.info("outer")
        with log_context(event_id="e1", request_id="r2"):
            log.info("inner")
        log.info("outer again")
        with pytest.raises(RuntimeError), log_context(event_id="e2"):
            raise RuntimeError("leaves the block")
        log.info("after a failed block")
    log.info("outside")
    lines = {line["message"]: line for line in _fields(capsys)}
    assert {m: (lines[m].get("request_id"), lines[m].get("event_id")) for m in lines} == {
        "outer": ("r1", None),
        "inner": ("r2", "e1"),
        "outer again": ("r1", None),
        "after a failed block": ("r1", None),
        "outside": (None, None),
    }
