"""`fourfold backfill` as a user runs it: a real process against ingest served by uvicorn
on the real broker and PostgreSQL; killed halfway, resumed, each event once on the topic."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from fourfold.auth import issue_token
from fourfold.events import USAGE_TOPIC
from fourfold.infra.process import free_port
from fourfold.testing.kafka import read_topic
from fourfold.testing.samples import usage_reported
from fourfold.testing.wait import wait_until

from ..conftest import SECRET  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration


@pytest.fixture
def ingest_url(
    kafka_bootstrap: str, database_url: str, fresh_schema: str, tmp_path: Path
) -> Iterator[str]:
    """Ingest in a uvicorn process of its own, on the session's broker and database."""
    port = free_port()
    env = {
        **os.environ,
        "FOURFOLD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "FOURFOLD_DATABASE_URL": database_url,
        "FOURFOLD_DATABASE_SCHEMA": fresh_schema,
        "FOURFOLD_AUTH_SECRET": SECRET,
        "FOURFOLD_TOPIC_PARTITIONS": "3",
        "FOURFOLD_LOG_JSON": "false",
    }
    log = (tmp_path / "ingest.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "fourfold.ingest.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (tmp_path / "ingest.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)
        log.close()


def ingest_token() -> str:
    return issue_token(
        secret=SECRET,
        issuer="fourfold",
        role="ingest",
        subject="backfill-test",
        now=datetime.now(UTC),
    )


def backfill(url: str, *args: str, token: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "FOURFOLD_BACKFILL_URL": url}
    env["FOURFOLD_BACKFILL_TOKEN"] = token or ingest_token()
    env.pop("FOURFOLD_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "fourfold.cli", "backfill", *args, "--no-progress"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=90)
    return process.returncode, err


def history(unique: str, good: int) -> tuple[list[bytes], list[dict[str, Any]]]:
    """`good` events, 3 repeats of earlier ones, 4 bad lines and a blank one, interleaved."""
    events = [usage_reported(f"{unique}-{i}", f"{unique}-c{i % 5}") for i in range(good)]
    lines = [orjson.dumps(e) for e in events]
    invalid = usage_reported(f"{unique}-bad", f"{unique}-c0")
    invalid["data"]["value"] = -3
    lines.insert(10, orjson.dumps(events[0]))
    lines.insert(20, b"{this is not json")
    lines.insert(30, orjson.dumps(invalid))
    lines.insert(40, b"")
    lines.insert(45, b"[1, 2]")
    lines.insert(50, orjson.dumps({"type": "usage.reported"}))
    lines += [orjson.dumps(events[1]), orjson.dumps(events[2])]
    return lines, events


def summary_counts(err: str) -> tuple[int, int, int]:
    line = next(text for text in err.splitlines() if text.startswith("sent "))
    words = line.replace(",", "").split()
    return (
        int(words[words.index("accepted") - 1]),
        int(words[words.index("duplicate") - 1]),
        int(words[words.index("rejected") - 1]),
    )


async def test_counts_are_exact_rejects_have_reasons_and_a_second_run_publishes_nothing(
    ingest_url: str, kafka_bootstrap: str, unique: str, tmp_path: Path
) -> None:
    lines, events = history(unique, 120)
    path = tmp_path / "history.ndjson.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))

    code, err = finished(backfill(ingest_url, str(path), "--batch-size", "25"))

    assert code == 1, err
    assert summary_counts(err) == (120, 3, 4)
    rejects = [
        json.loads(r)
        for r in (tmp_path / "history.ndjson.gz.rejects.ndjson").read_text().splitlines()
    ]
    assert [r["line"] for r in rejects] == [21, 31, 46, 51]
    assert "not valid JSON" in rejects[0]["reason"]
    assert rejects[1]["errors"][0]["loc"] == ["data", "value"]
    assert "one JSON object" in rejects[2]["reason"]
    assert not (tmp_path / "history.ndjson.gz.checkpoint").exists(), "a finished run removes it"

    again, err_again = finished(backfill(ingest_url, str(path), "--batch-size", "25"))

    assert again == 1
    assert summary_counts(err_again) == (0, 123, 4)
    keys = {e["data"]["customer_id"].encode() for e in events}
    records = await read_topic(kafka_bootstrap, USAGE_TOPIC, expect=121, keys=keys, timeout_s=8)
    assert sorted(json.loads(r.value)["id"] for r in records if r.value) == sorted(
        e["id"] for e in events
    )


async def test_killed_halfway_it_resumes_from_the_checkpoint_and_each_event_lands_once(
    ingest_url: str, kafka_bootstrap: str, unique: str, tmp_path: Path
) -> None:
    lines, events = history(unique, 600)
    path = tmp_path / "history.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    checkpoint = tmp_path / "history.ndjson.checkpoint"

    first = backfill(ingest_url, str(path), "--batch-size", "20", "--rate", "400")

    async def halfway_through() -> bool:
        assert first.poll() is None, first.communicate()
        if not checkpoint.exists():
            return False
        return bool(json.loads(checkpoint.read_text())["progress"]["lines"] > 200)

    await wait_until(halfway_through, 60, "the first run past line 200")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)  # reaps it and closes its pipes
    halfway = json.loads(checkpoint.read_text())["progress"]["lines"]
    assert 200 < halfway < len(lines), "killed in the middle"

    code, err = finished(backfill(ingest_url, str(path), "--batch-size", "50"))

    assert code == 1, err
    assert f"resuming {path} after line {halfway}" in " ".join(err.split())
    accepted, duplicate, rejected = summary_counts(err)
    assert rejected == 4
    assert accepted + duplicate == 603, "every good line was answered once more or less"
    rejects = (tmp_path / "history.ndjson.rejects.ndjson").read_text().splitlines()
    assert [json.loads(r)["line"] for r in rejects] == [21, 31, 46, 51], "none written twice"
    keys = {e["data"]["customer_id"].encode() for e in events}
    records = await read_topic(kafka_bootstrap, USAGE_TOPIC, expect=601, keys=keys, timeout_s=8)
    ids = [json.loads(r.value)["id"] for r in records if r.value]
    assert sorted(ids) == sorted(e["id"] for e in events), "each event once on the topic"


async def test_stdin_works_and_a_bad_token_stops_with_status_2(
    ingest_url: str, unique: str, tmp_path: Path
) -> None:
    lines = [orjson.dumps(usage_reported(f"{unique}-s{i}", f"{unique}-c")) for i in range(5)]
    process = backfill(ingest_url, "-", "--rejects", str(tmp_path / "r.ndjson"))
    _, err = process.communicate(b"\n".join(lines).decode(), timeout=60)
    assert process.returncode == 0, err
    assert summary_counts(err) == (5, 0, 0)

    refused = backfill(ingest_url, "-", "--rejects", str(tmp_path / "r2.ndjson"), token="nope")
    _, refusal = refused.communicate(lines[0].decode(), timeout=60)
    assert refused.returncode == 2
    assert "refused the credential (401)" in " ".join(refusal.split())
