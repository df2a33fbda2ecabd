"""Article paragraphs -> passages, and a passage -> the excerpt shown to a user. Pure.

A passage is one to a few whole paragraphs, about 40-180 words and at most 1,000 characters,
so that the whole passage can be shown as it is. A paragraph too long for one passage is split
between sentences, never inside one; a heading stays with the text it introduces.

The one exception: a "sentence" of more than MAX_SENTENCE_CHARS is not prose but a table, a
list or a file without punctuation, and it is cut between words into passage-sized pieces. Kept
whole, one such run in a 10 MB file made a 10 MB passage, which every question it matched
analysed again to highlight it (two seconds each).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

MIN_WORDS = 40
MAX_WORDS = 180
MAX_CHARS = 1000
MAX_SENTENCE_CHARS = 5000  # longer than any sentence a person writes
SEPARATOR = "\n\n"

_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"'\u201d\u2019)\]]*\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9£$€])")


def sentences(paragraph: str) -> list[str]:
    """Split a paragraph after sentence-ending punctuation followed by a capital or figure."""
    parts, start = [], 0
    for match in _SENTENCE_BREAK.finditer(paragraph):
        end = match.start() + len(match.group().rstrip())
        parts.append(paragraph[start:end].strip())
        start = match.end()
    parts.append(paragraph[start:].strip())
    return [p for p in parts if p]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a passage, as `sentences` splits them; a sentence never
    runs across a line break (passages join their paragraphs with SEPARATOR)."""
    spans = []
    for line in re.finditer(r"[^\n]+", text):
        start = line.start()
        for match in _SENTENCE_BREAK.finditer(line.group()):
            spans.append((start, line.start() + match.start() + len(match.group().rstrip())))
            start = line.start() + match.end()
        spans.append((start, line.end()))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _fits(text: str, max_words: int, max_chars: int) -> bool:
    return len(text) <= max_chars and len(text.split()) <= max_words


def _units(paragraph: str, max_words: int, max_chars: int) -> list[str]:
    """The paragraph, or runs of its sentences when it is too long for one passage."""
    if _fits(paragraph, max_words, max_chars):
        return [paragraph]
    units: list[str] = []
    for sentence in sentences(paragraph):
        if len(sentence) > MAX_SENTENCE_CHARS:
            units += _pieces(sentence, max_words, max_chars)
            continue
        joined = f"{units[-1]} {sentence}" if units else sentence
        if units and _fits(joined, max_words, max_chars):
            units[-1] = joined
        else:
            units.append(sentence)  # a sentence longer than a passage stays whole
    return units


_NON_SPACE = re.compile(r"\S+")


def _pieces(text: str, max_words: int, max_chars: int) -> list[str]:
    """`text` cut between words into pieces that fit in a passage; a word longer than a passage
    is cut too. Linear: the pieces are sliced from `text` by position."""
    pieces: list[str] = []
    start = end = words = 0  # the piece being made is text[start:end], of `words` words
    for word in _NON_SPACE.finditer(text):
        a, b = word.span()
        if words and (b - start > max_chars or words >= max_words):
            pieces.append(text[start:end])
            words = 0
        if not words:
            start = a
        while b - start > max_chars:
            pieces.append(text[start : start + max_chars])
            start += max_chars
        end, words = b, words + 1
    if words:
        pieces.append(text[start:end])
    return pieces


def overlong_sentences(paragraphs: Sequence[str]) -> int:
    """How many runs of more than MAX_SENTENCE_CHARS without a sentence end `split_passages`
    cuts between words, for the loader to report."""
    return sum(len(s) > MAX_SENTENCE_CHARS for p in paragraphs if len(p) > MAX_SENTENCE_CHARS for s in sentences(p))


def _is_heading(paragraph: str) -> bool:
    words = len(paragraph.split())
    return words <= 12 and not paragraph.rstrip().endswith((".", "!", "?", '"', "\u201d"))


def split_passages(
    paragraphs: Sequence[str],
    *,
    min_words: int = MIN_WORDS,
    max_words: int = MAX_WORDS,
    max_chars: int = MAX_CHARS,
) -> list[str]:
    """Group paragraphs into passages; paragraphs within a passage are separated by a blank line."""
    units = [u for p in paragraphs for u in _units(p, max_words, max_chars)]
    # A heading travels with what it introduces, when the two fit in one passage.
    attached: list[str] = []
    for unit in reversed(units):
        if attached and _is_heading(unit) and _fits(unit + SEPARATOR + attached[-1], max_words, max_chars):
            attached[-1] = unit + SEPARATOR + attached[-1]
        else:
            attached.append(unit)
    passages: list[str] = []
    current = ""
    for unit in reversed(attached):
        if not current:
            current = unit
            continue
        joined = current + SEPARATOR + unit
        if _fits(joined, max_words, max_chars) or (len(current.split()) < min_words and len(joined) <= max_chars):
            current = joined
        else:
            passages.append(current)
            current = unit
    if current:
        if (
            passages
            and len(current.split()) < min_words
            and _fits(passages[-1] + SEPARATOR + current, max_words, max_chars)
        ):
            passages[-1] += SEPARATOR + current
        else:
            passages.append(current)
    return passages


def section_headings(passages: Sequence[str]) -> list[str | None]:
    """For each passage of one article, the heading it falls under when that heading is in an
    earlier passage (None when the passage opens with its own heading or has none)."""
    result: list[str | None] = []
    current: str | None = None
    for text in passages:
        parts = text.split(SEPARATOR)
        result.append(None if _is_heading(parts[0]) else current)
        for part in parts:
            if _is_heading(part):
                current = part
    return result


def excerpt(text: str, focus: int = 0, limit: int = MAX_CHARS) -> tuple[str, int]:
    """At most `limit` characters of `text` around character `focus`, cut between sentences or
    words and marked with '…'. Returns the excerpt and where it starts in `text`."""
    if len(text) <= limit:
        return text, 0
    budget = limit - 2  # room for an ellipsis at each end
    start = max(0, min(focus - budget // 3, len(text) - budget))
    end = start + budget
    window = text[start:end]
    if start > 0:
        cut = min(_first_boundary(window), max(focus - start, 0))  # never cut off the focus
        window, start = window[cut:], start + cut
    if start + len(window) < len(text):
        window = _last_boundary(window)
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + len(window) < len(text) else ""
    return prefix + window + suffix, start - len(prefix)


def _first_boundary(window: str) -> int:
    match = _SENTENCE_BREAK.search(window)
    if match and match.end() < len(window) // 2:
        return match.end()
    space = window.find(" ")
    return space + 1 if 0 <= space < 40 else 0


def _last_boundary(window: str) -> str:
    ends = [m.start() + len(m.group().rstrip()) for m in _SENTENCE_BREAK.finditer(window)]
    if ends and ends[-1] > len(window) // 2:
        return window[: ends[-1]]
    space = window.rfind(" ")
    return window[:space] if space > len(window) - 40 else window


def word_cut(text: str, limit: int, words: int | None = None) -> int:
    """Where to cut `text` to show at most `limit` characters and at most `words` words, then an
    ellipsis: its length when it fits, else the end of its last whole word that does (a single word
    longer than `limit` is cut inside), without the comma or colon before the cut."""
    end = len(text)
    if words is not None:
        ends = [m.end() for m in itertools.islice(_NON_SPACE.finditer(text), words + 1)]
        if len(ends) > words:
            end = ends[words - 1] if words > 0 else 0
    if end > limit:
        space = text.rfind(" ", 0, limit + 1)
        end = space if space > 0 else max(limit - 1, 0)
    if end == len(text):
        return end
    while end > 0 and (text[end - 1].isspace() or text[end - 1] in ",;:-\u2013\u2014("):
        end -= 1  # "… a total overspend…", not "… a total overspend of,…"
    return end


def shorten(text: str, limit: int) -> str:
    """`text` cut between words to at most `limit` characters, '…' included, when it is longer."""
    end = word_cut(text, limit - 1)
    return text if end == len(text) else text[:end] + "\u2026"
