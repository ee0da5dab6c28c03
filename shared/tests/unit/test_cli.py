"""The `fourfold` command: every command's help, usage errors, exit codes, and the cheap
commands run for real (docs/cli.md)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fourfold.auth import verify_token
from fourfold.auth.principal import ROLES
from fourfold.cli import RoleName, ServiceName
from fourfold.cli import main as fourfold
from fourfold.service.migrate import SERVICES

REPO = Path(__file__).resolve().parents[3]
SECRET = "cli-test-secret-" * 4


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps help and error panels to the terminal; wide enough for one line each."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ([], ["dev", "simulate", "token", "migrate", "schemas", "backfill", "completion"]),
        (
            ["dev"],
            [
                "--keep-state",
                "--port-offset",
                "--history-days",
                "--seconds-per-day",
                "--seed",
                "--partners",
                "--customers",
                "--stripe",
            ],
        ),
        (["simulate"], ["--out", "--ingest-url", "--days", "--seed", "--progress", "--stripe"]),
        (["token"], ["issue"]),
        (["token", "issue"], ["--role", "--subject", "--partner-id", "--ttl-days"]),
        (["migrate"], ["SERVICE", "health-scoring"]),
        (["schemas"], ["DIR"]),
        (["backfill"], ["FILE", "--url", "--batch-size", "--restart", "--max-retry-s"]),
    ],
)
def test_every_command_has_help(
    command: list[str], mentions: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert fourfold([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"Usage: fourfold {' '.join(command)}".rstrip() in out
    for mention in mentions:
        assert mention in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "Usage: fourfold"),  # no command: the help, as a usage error
        (["launch"], "No such command 'launch'"),
        (
            ["dev", "--history-days", "-1"],
            "'--history-days': Input should be greater than or equal to 0",
        ),
        (["simulate", "--days", "many"], "'--days': Input should be a valid integer"),
        (["token"], "Usage: fourfold token"),
        (["token", "issue", "--role", "admin"], "Missing option '--subject'"),
        (["migrate"], "Missing argument 'SERVICE'. Choose from"),
        (["migrate", "billing"], "'billing' is not one of"),
        (["schemas", "a", "b"], "Got unexpected extra argument(s) (b)"),
        (
            ["backfill", "f.ndjson", "--batch-size", "1001"],
            "'--batch-size': Input should be less than or equal to 1000",
        ),
        (["backfill"], "Missing argument 'FILE'"),
    ],
)
def test_usage_errors_exit_2_saying_why(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fourfold(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err + captured.out


def test_the_choices_are_the_roles_and_the_services() -> None:
    assert [r.value for r in RoleName] == list(ROLES)
    assert [s.value for s in ServiceName] == list(SERVICES)


def test_token_issue_prints_a_token_that_verifies(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FOURFOLD_AUTH_SECRET", SECRET)
    monkeypatch.setenv("FOURFOLD_STATE_DIR", str(tmp_path))
    argv = ["token", "issue", "--role", "partner", "--subject", "jane", "--partner-id", "p-7"]
    assert fourfold([*argv, "--ttl-days", "2"]) == 0
    token = capsys.readouterr().out.strip()
    principal = verify_token(token, secret=SECRET, issuer="fourfold", now=datetime.now(UTC))
    assert (principal.role, principal.subject, principal.partner_id) == ("partner", "jane", "p-7")


def test_schemas_writes_what_docs_events_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fourfold(["schemas", str(tmp_path)]) == 0
    written = {p.relative_to(tmp_path): p.read_text() for p in tmp_path.rglob("*.json")}
    committed = REPO / "docs" / "events"
    assert written == {p.relative_to(committed): p.read_text() for p in committed.rglob("*.json")}
    assert len(capsys.readouterr().out.splitlines()) == len(written), "one line per file"


def test_simulate_out_is_the_same_file_every_run_with_or_without_the_bar(tmp_path: Path) -> None:
    runs = [tmp_path / "a.ndjson", tmp_path / "b.ndjson", tmp_path / "c.ndjson"]
    argv = ["simulate", "--days", "4", "--start", "2026-03-01", "--customers", "12"]
    assert fourfold([*argv, "--out", str(runs[0])]) == 0
    assert fourfold([*argv, "--out", str(runs[1])]) == 0
    assert fourfold([*argv, "--out", str(runs[2]), "--no-progress"]) == 0
    first = runs[0].read_bytes()
    assert first.count(b"\n") > 12, "every customer's first events at least"
    assert runs[1].read_bytes() == first == runs[2].read_bytes()
    assert fourfold([*argv, "--seed", "2", "--out", str(runs[1])]) == 0
    assert runs[1].read_bytes() != first, "another seed, another vendor"


def test_simulate_refuses_unusable_options_with_2(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--out", "x.ndjson", "--ingest-url", "http://127.0.0.1:9"]
    assert fourfold(argv) == 2
    assert "--out and --ingest-url exclude each other" in capsys.readouterr().err
    assert not Path("x.ndjson").exists()


def test_backfill_without_a_token_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FOURFOLD_BACKFILL_TOKEN", raising=False)
    history = tmp_path / "h.ndjson"
    history.write_text("")
    assert fourfold(["backfill", str(history), "--no-progress"]) == 2
    assert "FOURFOLD_BACKFILL_TOKEN is not set" in capsys.readouterr().err


def test_completion_scripts_and_answers() -> None:
    """typer's completion: the script for a shell, and the answers it asks the command for."""
    run = [sys.executable, "-m", "fourfold.cli"]
    # typer's own switch: name the shell instead of detecting the one this test runs under
    named = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    script = subprocess.run(
        [*run, "--show-completion", "bash"], capture_output=True, text=True, env=named
    )
    assert script.returncode == 0
    assert "_FOURFOLD_COMPLETE=complete_bash" in script.stdout
    env = {
        "_FOURFOLD_COMPLETE": "complete_bash",
        "COMP_WORDS": "fourfold migrate ",
        "COMP_CWORD": "2",
    }
    answers = subprocess.run(run, capture_output=True, text=True, env={**os.environ, **env})
    assert answers.stdout.split() == list(SERVICES)


def test_dev_option_defaults_are_the_stacks_own() -> None:
    """typer shows its defaults in --help; they must be the ones `fourfold.dev` runs with."""
    import inspect

    from fourfold.cli import dev
    from fourfold.dev.simulation import DevOptions

    shown = {name: p.default for name, p in inspect.signature(dev).parameters.items()}
    assert shown == dataclasses.asdict(DevOptions())
