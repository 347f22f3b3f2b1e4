"""Every relative link in README.md, docs/*.md and the examples' READMEs leads to a file that
exists, and to a heading of it when it names one (GitHub's anchors: lower case, punctuation
dropped, spaces as hyphens)."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / "examples").glob("*/README.md")),
]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {anchor(heading) for heading in re.findall(r"^#+ (.+)$", text, re.M)}


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"[a-z]+:", target)  # https:, mailto:
    ]


def test_anchors_are_githubs() -> None:
    assert anchor("Estimated GPU cost and RunPod's bill") == "estimated-gpu-cost-and-runpods-bill"
    assert anchor("Measured with `make scale`") == "measured-with-make-scale"
    assert anchor("The webhook's HTTP contract") == "the-webhooks-http-contract"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path_part, _, fragment = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        headings = {""}
        if destination.suffix == ".md" and destination.exists():
            headings |= anchors(destination)
        if not destination.exists() or fragment not in headings:
            broken.append(target)

    assert broken == []


def test_the_pages_link_each_other() -> None:
    readme_links = relative_links(REPO / "README.md")

    for page in ("operations", "scale", "development", "glossary", "local"):
        assert f"docs/{page}.md" in readme_links
