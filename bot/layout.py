"""A PDF's text, page by page, -> paragraphs a reader would see. Pure functions, no I/O.

Text extracted from a PDF is a list of printed lines per page. Three things stand between
those lines and article paragraphs:

1. running headers and footers: a line at the top or bottom of most pages ("NAO report |
   Page 3 of 40") is the document's furniture, never its content (`remove_running_lines`);
2. words hyphenated at a line end: "integ-" + "ration" is "integration"; a hyphen before a
   capital or a figure ("NHS-" + "England", "2017-" + "18") is kept (`rejoin_lines`);
3. paragraph breaks, which a PDF does not record: a blank line, or a line that ends a
   sentence well short of the page's measure, ends a paragraph (`page_paragraphs`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence

from bot.characters import visible
from bot.clean import looks_like_headline

EDGE_LINES = 3  # lines at the top and at the bottom of a page where headers and footers stand
_DIGITS = re.compile(r"\d+")
_HYPHENATED = re.compile(r"(\w)[-\u00ad\u2010]$")
_SENTENCE_END = re.compile(r"[.!?:…][\"'\u201d\u2019)\]]*$")
_PDF_DATE = re.compile(r"^D?:?(\d{4})(\d{2})?(\d{2})?")
_JUNK_TITLE = re.compile(r"(?i)^(untitled|document\d*|microsoft \w+ - .*|.*\.(docx?|pdf|indd|qxd|rtf|odt))$")


def page_lines(text: str) -> list[str]:
    """A page's extracted text as visible lines, spaces collapsed, empty lines kept as ''."""
    return [" ".join(visible(line).split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def _line_key(line: str) -> str:
    """Page numbers differ from page to page; the line around them does not."""
    return _DIGITS.sub("#", line.casefold())


def remove_running_lines(pages: Sequence[Sequence[str]]) -> tuple[list[list[str]], int]:
    """Each page without the header and footer lines repeated across pages, and how many
    distinct such lines were found. A line counts when it stands among the first or last
    EDGE_LINES non-empty lines of at least half the pages (and of two or more)."""
    edges: list[set[str]] = []
    for lines in pages:
        filled = [line for line in lines if line]
        edges.append({_line_key(line) for line in (*filled[:EDGE_LINES], *filled[-EDGE_LINES:])})
    seen = Counter(key for keys in edges for key in keys)
    needed = max(2, (len(pages) + 1) // 2)
    running = {key for key, n in seen.items() if n >= needed}
    result = []
    for lines, keys in zip(pages, edges, strict=True):
        drop = running & keys
        numbered = [i for i, line in enumerate(lines) if line]
        edge = set(numbered[:EDGE_LINES] + numbered[-EDGE_LINES:])
        result.append([line for i, line in enumerate(lines) if not (i in edge and _line_key(line) in drop)])
    return result, len(running)


def rejoin_lines(first: str, second: str) -> str | None:
    """The two lines joined as one word when `first` ends in a hyphen that breaks a word, else None."""
    if not _HYPHENATED.search(first) or not second[:1].islower():
        return None
    return first[:-1] + second


def page_paragraphs(lines: Sequence[str]) -> list[str]:
    """A page's lines -> paragraphs: hyphenated words rejoined, a blank line or a short line
    that ends a sentence closes a paragraph."""
    measure = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if current:
            joined = rejoin_lines(current, line)
            space = "" if current.endswith("-") else " "  # "NHS-" + "England" keeps its hyphen
            current = joined if joined is not None else f"{current}{space}{line}"
        else:
            current = line
        if _SENTENCE_END.search(line) and len(line) < 0.8 * measure:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs


def first_page_title(paragraphs: Sequence[str]) -> str | None:
    """The first headline-shaped paragraph among a first page's first few."""
    return next((p for p in paragraphs[:5] if looks_like_headline(p)), None)


def metadata_title(value: object) -> str | None:
    """A title from a document's properties, unless it is a placeholder or a file name
    ("Untitled", "Microsoft Word - draft3.docx"), which tell a reader nothing."""
    if not isinstance(value, str):
        return None
    title = " ".join(visible(value).split())
    return title if title and not _JUNK_TITLE.match(title) else None


def pdf_date(value: object) -> dt.date | None:
    """A date from a PDF date string ('D:20210304120000Z') or a datetime, None if unreadable."""
    if isinstance(value, dt.datetime):
        return value.date()
    if not isinstance(value, str):
        return None
    match = _PDF_DATE.match(value.strip())
    if not match:
        return None
    year, month, day = (int(g) if g else 1 for g in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None
