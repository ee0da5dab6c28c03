"""The docs stand on their own: every link in a README.md or under docs/ stays inside the
repository and names a file that exists; no doc points at a document the repository does
not carry (a relative path climbing out of it, an absolute path, or a `.md` file name that
exists nowhere in the repository)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
HTML = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
MD_NAME = re.compile(r"(?<![\w/.-])((?:\.\.?/|/)?[\w./-]*\w\.md)\b")
CLIMBING = re.compile(r"(?<![\w.])(\.\./[\w./-]+)")
SCHEMES = ("http://", "https://", "mailto:")
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")


def _docs() -> list[Path]:
    """README.md files and docs/**/*.md the repository tracks (or would track)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(
        REPO / name for name in listed if Path(name).name == "README.md" or name.startswith("docs/")
    )


def _inside(path: Path) -> bool:
    return path.resolve().is_relative_to(REPO)


def _all_md_names() -> set[str]:
    return {p.name for p in REPO.rglob("*.md") if ".venv" not in p.parts and _inside(p)}


def link_problems(doc: Path, text: str, known_names: set[str]) -> list[str]:
    """What in `text` (the content of `doc`) points outside the repository or nowhere."""
    problems = []
    targets = [*LINK.findall(text), *REFERENCE.findall(text), *HTML.findall(text)]
    for target in targets:
        if target.startswith(SCHEMES) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not path:
            continue
        if path.startswith("/"):
            problems.append(f"absolute link {target!r}")
            continue
        resolved = (doc.parent / path).resolve()
        if not _inside(resolved):
            problems.append(f"link {target!r} leaves the repository")
        elif not resolved.exists():
            problems.append(f"link {target!r} names no file")
    for mention in CLIMBING.findall(text):
        if not _inside(doc.parent / mention):
            problems.append(f"path {mention!r} leaves the repository")
    for name in MD_NAME.findall(URL.sub("", text)):
        if Path(name).name not in known_names:
            problems.append(f"{name!r}: no such document in the repository")
    return problems


@pytest.mark.parametrize("doc", _docs(), ids=lambda p: str(p.relative_to(REPO)))
def test_doc_links_stay_inside_the_repository(doc: Path) -> None:
    assert link_problems(doc, doc.read_text(encoding="utf-8"), _all_md_names()) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("see [ARCHITECTURE](../shared/ARCHITECTURE.md) here", "leaves the repository"),
        ("the brief (`../shared/ARCHITECTURE.md`)", "leaves the repository"),
        ("see ARCHITECTURE.md, Security", "no such document"),
        ("[x](/work/shared/STYLE.md)", "absolute link"),
        ("[x](docs/nowhere.md)", "names no file"),
        ('<a href="../../outside.md">x</a>', "leaves the repository"),
    ],
)
def test_outside_links_are_found(text: str, problem: str) -> None:
    problems = link_problems(REPO / "README.md", text, _all_md_names())
    assert any(problem in p for p in problems), problems


def test_links_inside_the_repository_pass() -> None:
    text = "[arch](docs/architecture.md#security), [web](https://cloudevents.io), [top](#x)"
    assert link_problems(REPO / "README.md", text, _all_md_names()) == []
