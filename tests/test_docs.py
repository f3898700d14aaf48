"""Documents where they belong: the library's comments and docstrings state the rules a
maintainer must keep, not timings (measurements go to docs/PERFORMANCE.md), and every
document the code cites is in the repository, with the section it names."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support.paths import ROOT

DOCS = ROOT / "docs"

# -- figures in comments ---------------------------------------------------------------------

_NUMBER = r"\d[\d,.]*"

#: A measurement whatever surrounds it: durations below a millisecond (no setting is given
#: in them), instruction counts, speed-ups, throughputs, the machine something ran on, and
#: issue numbers or rounds of work.
_ALWAYS = re.compile(
    "|".join(
        (
            rf"{_NUMBER}\s*(?:µs|μs|us|ns)\b",
            r"[µμ]s\b",
            r"\binstructions? per\b",
            rf"{_NUMBER}\s*[kM]?\s+instructions\b",
            rf"{_NUMBER}\s*[x\u00d7]\s+(?:faster|slower|cheaper|dearer|less|more|the\b|as\b)",
            r"\b(?:\d+\s+)?times\s+(?:faster|slower|cheaper)\b",
            rf"[\u2212+-]{_NUMBER}\s*%",
            rf"{_NUMBER}\s*%\s+(?:faster|slower|cheaper|dearer|less|more|fewer)\b",
            rf"{_NUMBER}\s*(?:req|requests|appends|entries|ops|calls|writes)/s\b",
            r"\bbenchmark (?:machine|VM|vm)\b",
            r"\b\d+[- ](?:core|vCPU)s?\b",
            r"\bissue\s+#?\d+",
            r"(?<![\w#&])#\d+\b",
            r"\bround\s+\d+",
        )
    ),
    re.IGNORECASE,
)

#: A quantity that is a measurement only when something nearby says it was measured: "a
#: 300 s default" or "a 5 ms poll" are settings, "took 414 ms" and "196 -> 146 ms" are not.
_QUANTITY = re.compile(rf"{_NUMBER}\s*(?:ms|s|seconds|milliseconds|[KMG]i?B)\b")
_MEASURED = re.compile(
    r"\b(?:took|takes|taking|costs?|costing|measured|instead of|against|on average|median|"
    r"p95|faster|slower|saves?|saved|added)\b|->|→",
    re.IGNORECASE,
)
_NEAR = 60


def figures(text: str) -> list[str]:
    """The measurement figures in one comment block or docstring."""
    found = [m.group(0) for m in _ALWAYS.finditer(text)]
    for m in _QUANTITY.finditer(text):
        around = text[max(0, m.start() - _NEAR) : m.end() + _NEAR]
        if _MEASURED.search(around):
            found.append(m.group(0))
    return found


def comments_and_docstrings(path: Path) -> Iterator[tuple[int, str]]:
    """(first line, text) of each comment block and each string that is a statement on its
    own (module, class, function and attribute docstrings)."""
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text("utf-8")).readline))
    block: list[str] = []
    start = 0
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.COMMENT:
            if not block:
                start = tok.start[0]
            block.append(tok.string.lstrip("#:").strip())
            continue
        if tok.type not in (tokenize.NL, tokenize.NEWLINE) and block:
            yield start, " ".join(block)
            block = []
        if tok.type == tokenize.STRING and _is_statement(tokens, i):
            yield tok.start[0], tok.string
    if block:
        yield start, " ".join(block)


def _is_statement(tokens: list[tokenize.TokenInfo], i: int) -> bool:
    skip = (tokenize.NL, tokenize.COMMENT)
    before = i - 1
    while before >= 0 and tokens[before].type in skip:
        before -= 1
    after = i + 1
    while tokens[after].type in skip:
        after += 1
    starts = before < 0 or tokens[before].type in (
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
    )
    return starts and tokens[after].type in (tokenize.NEWLINE, tokenize.ENDMARKER)


@pytest.mark.parametrize(
    "text",
    [
        "18 µs of a 112 µs ES256 verification",
        "(2.6 -> 1.1 µs; a request makes two or three)",
        "a chain 9,999 deep took 414 ms with one find per ancestor and takes 133 ms",
        "this added 50 µs of wall time to every append on average (196 -> 146 µs)",
        "one writer 820 single-entry appends/s, 2,100 entries/s",
        "5.70 M instructions per request",
        "asgi overhead 5.45 (\u22124.4 %)",
        "about 20 % faster than the loop",
        "jws.sign at 1.4 \u00d7 the raw signature",
        "an fsync makes it 10x slower",
        "on the benchmark machine (a virtual machine with 2 vCPUs)",
        "Measured on a 2-core VM",
        "as agreed in issue #5",
        "the cut made in round 3",
        "the full walk takes 2.5 s",
    ],
)
def test_a_measurement_is_a_figure(text: str) -> None:
    assert figures(text), text


@pytest.mark.parametrize(
    "text",
    [
        "a limit of 1,024 characters",
        "warn 300 s before the WIT expires (the default)",
        "leeway on exp/iat/nbf: 60 s",
        "checkpoint past 1,000 pages (about 40 MB)",
        "one token, before decoding: 16 KiB",
        "private keys from PEM (PKCS#8) or JWK files",
        "when it was first recorded (microseconds since the epoch)",
        "the path as sent (percent-encoded, no query)",
        "# 1 -> 2: the OpenTelemetry trace id of an entry",
        "a poll every 5 ms while the writer is busy",
        "RSA of 2048 bits or more; 32 lowercase hex digits",
        "an append is two round trips, for any number of entries",
        "the page cannot measure for us",
        "nbf is honoured (RFC 7519 §4.1.5)",
    ],
)
def test_a_setting_or_a_rule_is_not_a_figure(text: str) -> None:
    assert not figures(text), figures(text)


def test_library_comments_and_docstrings_carry_no_measurements() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {', '.join(figures(text))}"
        for path in sorted((ROOT / "src").rglob("*.py"))
        for line, text in comments_and_docstrings(path)
        if figures(text)
    ]
    assert not found, "figures belong in docs/PERFORMANCE.md:\n" + "\n".join(found)


def test_readme_carries_no_benchmark_results() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert not _ALWAYS.search(readme), _ALWAYS.search(readme)
    assert "docs/PERFORMANCE.md" in readme


# -- cited documents -------------------------------------------------------------------------

#: Names the code uses for its documents; any other ``NAME.md`` or ``NAME §n`` counts too.
_NAMES = ("PROFILE", "SECURITY", "CONTRACT", "INTEROP", "PERFORMANCE", "PITFALLS", "README")
_SECTION = r"§\s*\d+(?:\.\d+)*"
_CITATION = re.compile(
    r"(?<![\w/])(?:docs/)?(?P<doc>[A-Z][A-Z0-9_]{2,})(?P<md>\.md)?\b"
    rf"(?P<sections>(?:\s*(?:,|and|-|\u2013)?\s*{_SECTION})*)"
    r"(?:\s+\"(?P<title>[^\"\n]+)\")?"
)


def citations(text: str) -> Iterator[tuple[str, list[str], str | None]]:
    """(document, sections, quoted section title) of each citation of a document."""
    for m in _CITATION.finditer(text):
        doc, sections = m.group("doc"), m.group("sections")
        if doc in _NAMES or m.group("md") or sections:
            yield doc, _expand(sections), m.group("title")


def _expand(sections: str) -> list[str]:
    """``§3-§6`` is §3, §4, §5 and §6; ``§5 and §9`` is §5 and §9."""
    found: list[str] = []
    for m in re.finditer(r"(?P<dash>[-\u2013]\s*)?§\s*(?P<n>\d+(?:\.\d+)*)", sections):
        n = m.group("n")
        if m.group("dash") and found and found[-1].isdigit() and n.isdigit():
            found += [str(k) for k in range(int(found[-1]) + 1, int(n))]
        found.append(n)
    return found


def _document(doc: str) -> Path:
    return ROOT / "README.md" if doc == "README" else DOCS / f"{doc}.md"


def _headings(path: Path) -> list[str]:
    return [line for line in path.read_text("utf-8").splitlines() if line.startswith("#")]


def unresolved(text: str) -> list[str]:
    """Each citation in ``text`` of a document, a section or a titled section that the
    repository does not have."""
    problems = []
    for doc, sections, title in citations(text):
        path = _document(doc)
        if not path.is_file():
            problems.append(f"{doc}: no {path.relative_to(ROOT)}")
            continue
        headings = _headings(path)
        for n in sections:
            numbered = re.compile(rf"^#+\s+{re.escape(n)}(?:\.|\s)")
            if not any(numbered.match(h) for h in headings):
                problems.append(f"{doc} §{n}: no such heading in {path.relative_to(ROOT)}")
        if title and not any(title in h for h in headings):
            problems.append(f'{doc} "{title}": no such heading in {path.relative_to(ROOT)}')
    return problems


def test_citations_are_read_as_written() -> None:
    text = 'PROFILE §3-§6; PROFILE §5 and §9; CONTRACT §4, rule 2; SECURITY.md "Replay"'
    assert list(citations(text)) == [
        ("PROFILE", ["3", "4", "5", "6"], None),
        ("PROFILE", ["5", "9"], None),
        ("CONTRACT", ["4"], None),
        ("SECURITY", [], "Replay"),
    ]
    assert unresolved('PROFILE §4.6, PITFALLS, CONTRACT §99, SECURITY.md "Nowhere"') == [
        "PROFILE §4.6: no such heading in docs/PROFILE.md",
        "PITFALLS: no docs/PITFALLS.md",
        "CONTRACT §99: no such heading in docs/CONTRACT.md",
        'SECURITY "Nowhere": no such heading in docs/SECURITY.md',
    ]
    assert not list(citations("RFC 8725 §3.1, HTTP 400, SQLITE_BUSY, examples/README.md"))


def _cited_from() -> Iterator[Path]:
    for folder in ("src", "tests", "benchmarks", "examples"):
        yield from sorted((ROOT / folder).rglob("*.py"))
    yield from sorted(DOCS.glob("*.md"))
    yield ROOT / "README.md"
    yield ROOT / "dev.py"


def test_every_cited_document_and_section_is_in_the_repository() -> None:
    this = Path(__file__).resolve()
    found = [
        f"{path.relative_to(ROOT)}: {problem}"
        for path in _cited_from()
        if path.resolve() != this
        for problem in unresolved(path.read_text("utf-8"))
    ]
    assert not found, "\n".join(found)
