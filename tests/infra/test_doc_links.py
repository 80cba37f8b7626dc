"""README.md and docs/*.md: every relative link and #anchor resolves, the README stays a front door, and no
page carries a tracker marker.

Anchors follow GitHub's rule for heading ids (lower case; letters, digits, spaces, `-` and `_` kept; spaces
become `-`; a repeated heading gets `-1`, `-2`, ...), plus explicit `<a name=...>` / `id=...` anchors.
"""
import re
from pathlib import Path

from conftest import ROOT

README_MAX_LINES = 260

FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
COMMENT = re.compile(r"<!--.*?-->", re.S)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"|\sid=\"([^\"]+)\"")
MARKER = re.compile(r"<!--[^>]*\bissues?\s*#?\d", re.I)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def doc_pages(root=ROOT):
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def prose_lines(text):
    """The lines outside fenced code blocks, with HTML comments and inline code blanked out."""
    text = COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    in_fence = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.strip()):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, INLINE_CODE.sub("", line)


def heading_slug(title):
    title = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link in a heading: its text
    title = re.sub(r"<[^>]+>", "", title).strip().lower()
    return re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", title))


def anchors_of(path):
    anchors, seen = set(), {}
    text = COMMENT.sub("", path.read_text(encoding="utf-8"))
    in_fence = False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for name, ident in HTML_ANCHOR.findall(line):
            anchors.add(name or ident)
        heading = HEADING.match(line)
        if heading:
            slug = heading_slug(heading.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def links_of(path):
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for target in INLINE_LINK.findall(line):
            yield number, target
        reference = REFERENCE_DEF.match(line)
        if reference:
            yield number, reference.group(1)


def broken_links(pages, root=ROOT):
    """Every relative link or anchor among `pages` that does not resolve, as `page:line: target (why)`."""
    broken = []
    anchor_cache = {}
    for page in pages:
        for number, target in links_of(page):
            if EXTERNAL.match(target):
                continue
            path_part, _, anchor = target.partition("#")
            where = f"{page.relative_to(root)}:{number}: {target}"
            destination = (page.parent / path_part).resolve() if path_part else page.resolve()
            try:
                relative = destination.relative_to(root.resolve()).as_posix()
            except ValueError:
                broken.append(f"{where} (outside the repository)")
                continue
            if not destination.exists():
                broken.append(f"{where} (no such file)")
                continue
            if not anchor:
                continue
            if destination.suffix != ".md":
                broken.append(f"{where} (an anchor into a file that is not Markdown)")
                continue
            if destination not in anchor_cache:
                anchor_cache[destination] = anchors_of(destination)
            if anchor not in anchor_cache[destination]:
                broken.append(f"{where} (no such anchor in {relative})")
    return broken


def test_every_relative_link_and_anchor_resolves():
    broken = broken_links(doc_pages())
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_readme_stays_a_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): move reference parts to docs/")


def test_no_page_carries_a_tracker_marker():
    found = [f"{page.relative_to(ROOT)}:{number}" for page in doc_pages()
             for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
             if MARKER.search(line)]
    assert not found, f"tracker markers left in {found}"


def test_the_check_finds_a_missing_page_a_missing_anchor_and_honours_code(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(
        "# Title\n\n## Quick start: `make up`\n\n## Quick start: `make up`\n\n"
        "[ok](docs/page.md#a-section) [ok](#quick-start-make-up-1) [ok](#title)\n"
        "[gone](docs/gone.md) [bad anchor](docs/page.md#nowhere) [bad](#quick-start-make-up-2)\n"
        "[web](https://example.com/x#y)\n"
        "`[code](docs/not-checked.md)`\n\n```\n[fenced](docs/not-checked.md)\n```\n"
        "<!-- [comment](docs/not-checked.md) -->\n[ref]: docs/gone-too.md\n",
        encoding="utf-8")
    (tmp_path / "docs" / "page.md").write_text(
        "# Page\n\n## A section\n\n[back](../README.md#title) [up](../README.md#nope)\n", encoding="utf-8")
    pages = [tmp_path / "README.md", tmp_path / "docs" / "page.md"]
    broken = broken_links(pages, root=tmp_path)
    assert sorted(broken) == sorted([
        "README.md:8: docs/gone.md (no such file)",
        "README.md:8: docs/page.md#nowhere (no such anchor in docs/page.md)",
        "README.md:8: #quick-start-make-up-2 (no such anchor in README.md)",
        "README.md:16: docs/gone-too.md (no such file)",
        "docs/page.md:5: ../README.md#nope (no such anchor in README.md)",
    ]), broken
