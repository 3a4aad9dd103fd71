"""Every relative link in the repository's Markdown resolves: the file or folder exists and,
for a link into a Markdown file with '#', the heading does. The README and docs/ point
readers at results, figures and each other's sections; moving text between them (as the
results pages do from session to session) must not leave a dead link behind."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


OUTPUT_FOLDERS = {"build", "install", "log", "runs"}


def is_project_page(path: Path) -> bool:
    """Not a page of a tool's hidden folder (.pytest_cache, .venv) or of build and run
    output, so the test count does not depend on what ran before."""
    folders = path.relative_to(ROOT).parts[:-1]
    return not OUTPUT_FOLDERS.intersection(folders) and not any(
        folder.startswith(".") for folder in folders)


def markdown_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.md") if is_project_page(p))


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    return {github_anchor(h) for h in HEADING.findall(FENCE.sub("", markdown))}


def test_anchor_rule():
    assert github_anchor("What limits it, point by point") == "what-limits-it-point-by-point"
    assert github_anchor("Elastic cores; the physics rate") == "elastic-cores-the-physics-rate"
    assert github_anchor("`MassageEnv` (`massage_td3_ros.env`)") == "massageenv-massage_td3_rosenv"


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path):
    dead = []
    for link in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", link):          # http(s), mailto: not checked offline
            continue
        path, _, fragment = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            dead.append(f"{link}: no such file")
        elif fragment and target.suffix == ".md" and fragment not in anchors(target.read_text()):
            dead.append(f"{link}: no such heading")
    assert not dead, f"{page.relative_to(ROOT)}: " + "; ".join(dead)
