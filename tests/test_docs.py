"""Every document the code cites exists in docs/, and holds the section it is cited for.

Comments cite documents as `docs/PROVIDERS.md §3.3`, `PROVIDERS.md Appendix B`,
`DESIGN.md §Refresh engine` or just `UI.md`. A bare `§6.3` or `Appendix B` refers to the
document the same file cited last before it (PROVIDERS.md when there is none: it is the
only document with numbered sections). A reference in double quotes ("Appendix I: ...")
quotes a vendor's own document and is not checked. README.md may be the one at the root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Where the code lives that may cite documents; the documents' own cross-references
# (docs/*.md, README.md) are held to the same rule, so docs/ stands on its own.
SCANNED = ("jobs", "dashboard", "static", "templates", "bench", "tests", "Makefile", "README.md")
TEXT_SUFFIXES = {"", ".py", ".html", ".js", ".css", ".txt", ".md", ".toml", ".cfg", ".json"}
DEFAULT_DOC = "PROVIDERS.md"

# A document: `NAME.md` (optionally `docs/NAME.md`), or `NAME §` with the suffix left off.
_DOC = r"(?:docs/)?(?P<doc>[A-Za-z][A-Za-z0-9_-]*\.md)\b|\b(?P<stem>[A-Z][A-Z0-9_]+)(?=\s*§)"
# A section: §3.3, §Refresh engine, Appendix B, Appendix C.1.
_SECTION = (
    r"(?P<quote>\")?(?:§\s?(?P<number>\d+(?:\.\d+)*)"
    r"|§(?P<title>[A-Za-z][A-Za-z -]*[A-Za-z])"
    r"|\bAppendix (?P<appendix>[A-Z](?:\.\d+)*)\b)"
)
_TOKEN = re.compile(f"{_DOC}|{_SECTION}")


@dataclass(frozen=True)
class Citation:
    where: str  # path:line
    doc: str
    section: str | None  # "3.3", "Appendix B", "C.1", "Refresh engine"; None: the whole doc


def citations(text: str, where: str = "<text>") -> list[Citation]:
    """The citations in one file's text, bare sections resolved to the last document."""
    found: list[Citation] = []
    current = DEFAULT_DOC
    for number, line in enumerate(text.splitlines(), 1):
        here = f"{where}:{number}"
        for match in _TOKEN.finditer(line):
            doc = match["doc"] or (match["stem"] and f"{match['stem']}.md")
            if doc:
                current = doc
                found.append(Citation(here, doc, None))
            elif match["quote"]:
                continue  # a vendor's own document, quoted
            elif match["number"]:
                found.append(Citation(here, current, match["number"]))
            elif match["title"]:
                found.append(Citation(here, current, match["title"]))
            elif match["appendix"]:
                found.append(Citation(here, current, f"Appendix {match['appendix']}"))
    return found


def headings(markdown: str) -> list[str]:
    """The text of every heading (`#` lines outside fenced code)."""
    titles, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            titles.append(line.lstrip("#").strip())
    return titles


def has_section(titles: list[str], section: str) -> bool:
    """Whether a heading opens the cited section."""
    end = r"(?:[.:]|\s|$)"
    if section[0].isdigit():
        # "3.3" opens "3.3 Errors"; "3" opens "3. Tencent CI".
        return any(re.match(re.escape(section) + end, title) for title in titles)
    if section.startswith("Appendix "):
        # "Appendix B" opens "Appendix B: ..."; "Appendix C.1" also opens "C.1 ...",
        # the way sub-sections under an appendix are titled.
        letter = section.removeprefix("Appendix ")
        prefix = "(?:Appendix )?" if "." in letter else "Appendix "
        return any(re.match(prefix + re.escape(letter) + end, title) for title in titles)
    wanted = section.lower()
    return any(
        title.lower().startswith(wanted) or wanted.startswith(title.lower()) for title in titles
    )


def doc_texts(name: str, docs: Path = DOCS, root: Path = ROOT) -> list[str]:
    """The cited document's text, from docs/ (README.md also from the root)."""
    places = [docs / name] + ([root / name] if name == "README.md" else [])
    return [place.read_text(encoding="utf-8") for place in places if place.is_file()]


def problems(cited: list[Citation], docs: Path = DOCS, root: Path = ROOT) -> list[str]:
    found = []
    for citation in cited:
        texts = doc_texts(citation.doc, docs, root)
        if not texts:
            found.append(f"{citation.where}: {citation.doc} is not in docs/")
        elif citation.section and not any(
            has_section(headings(text), citation.section) for text in texts
        ):
            found.append(
                f"{citation.where}: {citation.doc} has no heading for {citation.section!r}"
            )
    return found


def scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [
            f
            for f in candidates
            if f.is_file()
            and f.suffix in TEXT_SUFFIXES
            and "__pycache__" not in f.parts
            # This file's samples cite bogus sections on purpose.
            and f.resolve() != Path(__file__).resolve()
        ]
    # docs/reference/ holds vendors' pages, whose own "Appendix" and "§" are theirs.
    return files + sorted(DOCS.glob("*.md"))


def test_every_cited_document_and_section_exists() -> None:
    cited = [
        citation
        for path in scanned_files()
        for citation in citations(
            path.read_text(encoding="utf-8", errors="replace"), str(path.relative_to(ROOT))
        )
    ]
    assert len(cited) > 30  # the scan did find the code's citations
    assert problems(cited) == []


# --- the checker itself, on samples ------------------------------------------------------

SAMPLE_DOC = """# Sample

## 1. First

### 1.2 Second [DOC]

```
# 9.9 not a heading: inside a fence
```

## Refresh engine

## Appendix B: Vectors

### C.1 Under an appendix
"""


@pytest.fixture
def sample_docs(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "SAMPLE.md").write_text(SAMPLE_DOC, encoding="utf-8")
    (tmp_path / "README.md").write_text("# Readme\n\n## Setup\n", encoding="utf-8")
    return tmp_path


def check(text: str, root: Path) -> list[str]:
    return problems(citations(text, "sample.py"), root / "docs", root)


@pytest.mark.parametrize(
    "text",
    [
        "# See SAMPLE.md §1.2 and §1 (docs/SAMPLE.md §Refresh engine).",
        "# SAMPLE.md Appendix B, Appendix C.1; then a bare §1.2 in the same file.",
        "# SAMPLE §1.2 names the document without its suffix.",
        '# Vendor docs, "Appendix Z: Result Codes", are quoted, not cited.',
        "# README.md §Setup at the root counts.",
        "hashlib.md5(b'').hexdigest()  # not a document",
    ],
)
def test_checker_accepts_real_citations(text: str, sample_docs: Path) -> None:
    assert check(text, sample_docs) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# See MISSING.md for more.", "MISSING.md is not in docs/"),
        ("# SAMPLE.md §1.3 is not there.", "no heading for '1.3'"),
        ("# SAMPLE.md §9.9 lives only in a code fence.", "no heading for '9.9'"),
        ("# SAMPLE.md §1.20 is not §1.2.", "no heading for '1.20'"),
        ("# SAMPLE.md Appendix Q.", "no heading for 'Appendix Q'"),
        ("# SAMPLE.md Appendix C.4.", "no heading for 'Appendix C.4'"),
        ("# SAMPLE.md §Scale-out.", "no heading for 'Scale-out'"),
        ("# SAMPLE.md first; then a bare §7.", "no heading for '7'"),
    ],
)
def test_checker_fails_on_a_bogus_citation(text: str, problem: str, sample_docs: Path) -> None:
    found = check(text, sample_docs)
    assert len(found) == 1 and problem in found[0], found
    assert found[0].startswith("sample.py:1: ")


def test_a_bare_section_belongs_to_the_document_cited_before_it(sample_docs: Path) -> None:
    text = "# SAMPLE.md §1\n# later: §1.2\n"
    assert [(c.doc, c.section) for c in citations(text)] == [
        ("SAMPLE.md", None),
        ("SAMPLE.md", "1"),
        ("SAMPLE.md", "1.2"),
    ]
    assert citations("# a bare Appendix B")[0].doc == DEFAULT_DOC
