"""An answer laid out for reading, in Slack and the terminal alike: what of each result is shown. Pure.

Answer first. Each result is the sentence(s) of its passage that answer (`Hit.answer`), verbatim,
with the question's words to bold, then a compact citation; the rest of the passage is shown only
on request. The top answer is shown whole up to about ANSWER_CHARS characters; the results under
it share what is left of MESSAGE_WORDS words, each cut between words with '…' when it must be
(never below MIN_WORDS: when that leaves no room, the last results move behind "More results"),
so that a reply reads at a glance (issue 14: at most 120 words above Slack's buttons, with room
for a label or two; measured on tests/questions.yaml in tests/test_reply.py).

A compact citation names the article's title, shortened between words when long, its date and
publisher when known, the file and the passage; an article already cited above is "same article
as N". Beside a whole passage (Slack's "Show context", `ask --context`) the title is whole.
Renderers (bot/reply.py, bot/console.py) escape, link and
style these parts; they add no wording of their own to a citation.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.models import Answer, Hit, format_date
from bot.passages import shorten, word_cut
from bot.pinpoint import MAX_CHARS as ANSWER_CHARS

MESSAGE_WORDS = 110  # answers and citations of one reply, rank numbers included
MIN_WORDS = 15  # of a result's answer below the top one, however little room is left
TITLE_CHARS = 50  # a compact citation's title, '…' included: about eight words
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Citation:
    """A citation's parts, as plain text: the renderer escapes, links and joins them."""

    title: str  # the article's title, or "same article as N"
    details: tuple[str, ...]  # date, publisher, page or section, "000_a.txt, passage 2", match strength
    url: str | None = None

    def text(self) -> str:
        """'Title · 3 Nov 2017 · Publisher · passage 2'."""
        return " · ".join((self.title, *self.details))


@dataclass(frozen=True)
class Shown:
    """One result as laid out: the part of its answer shown, and its citation."""

    rank: int
    hit: Hit
    text: str  # verbatim: the answer, or the part of it with most of the question's words
    bold: tuple[tuple[int, int], ...]  # spans of `text` to bold (the question's words)
    before: bool  # whether the answer starts before `text`: an ellipsis precedes it
    after: bool  # whether the answer goes on after `text`: an ellipsis follows it
    citation: Citation

    @property
    def words(self) -> int:
        """Words this result takes: its number, its answer and its citation."""
        return 1 + len(self.text.split()) + len(self.citation.text().split())


def cite(hit: Hit, *, full: bool = False, same_as: int | None = None) -> Citation:
    """`hit`'s citation: compact under an answer, `full` beside its whole passage; `same_as` is the
    rank of a result above from the same article, whose citation already named it."""
    article = hit.passage.article
    where = f"passage {hit.passage.number}"
    place = hit.passage.place()  # "p. 12", or the section's heading
    if same_as is not None and not full:
        again = (place, where, hit.strength_note())
        return Citation(f"same article as {same_as}", tuple(d for d in again if d), article.url)
    title = " ".join(article.title.split()) or article.source or "Untitled"
    where = f"{article.source}, {where}"  # the file: where to check a passage, with or without a url
    if not full:
        title = shorten(title, TITLE_CHARS)
    publisher = " ".join((article.publisher or "").split())
    details = (format_date(article.published), publisher, place, where, hit.strength_note())
    return Citation(title, tuple(d for d in details if d), article.url)


def lay_out(answer: Answer, *, drop: bool = True) -> list[Shown]:
    """The answer's results as shown, in rank order (numbered from `answer.offset + 1`). With `drop`
    (Slack), the last results are left out when they would not fit; the caller offers them behind
    "More results". Without it (the terminal, where "more" counts whole pages) every result is shown."""
    citations: list[Citation] = []
    cited: dict[str, int] = {}  # article -> the rank that cited it first
    for rank, hit in enumerate(answer.hits, answer.offset + 1):
        source = hit.passage.article.source
        citations.append(cite(hit, same_as=cited.get(source)))
        cited.setdefault(source, rank)
    shown: list[Shown] = []
    left = MESSAGE_WORDS
    last_shown = len(answer.hits)  # results after it do not fit: "More results" shows them
    for i, (hit, citation) in enumerate(zip(answer.hits, citations, strict=True)):
        if i >= last_shown:
            break
        start, end = answer_span(hit)
        text = hit.excerpt[start:end]
        spans = [(a - start, b - start) for a, b in hit.highlights if start <= a and b <= end]
        words = None
        if i:  # the top answer is whole; the others share what it leaves, MIN_WORDS each at least
            later = citations[i:last_shown]
            words = (left - sum(len(c.text().split()) + 1 for c in later)) // len(later)
            while drop and words < MIN_WORDS and len(later) > 1:  # fewer results, each readable
                later = later[:-1]
                words = (left - sum(len(c.text().split()) + 1 for c in later)) // len(later)
            if drop and words < MIN_WORDS:
                break
            last_shown = i + len(later)
            words = max(words, MIN_WORDS)
        first = _window(text, spans, words)
        last = first + word_cut(text[first:], ANSWER_CHARS, words)
        bold = tuple((a - first, min(b, last) - first) for a, b in spans if first <= a < last)
        result = Shown(answer.offset + 1 + i, hit, text[first:last], bold, first > 0, last < len(text), citation)
        shown.append(result)
        left -= result.words
    return shown


def _window(text: str, bold: Sequence[tuple[int, int]], words: int | None) -> int:
    """Where to start showing `text` when only `words` of its words fit: the first word of the run of
    that many words that holds the most `bold` spans (of several such runs, the middle one, so that
    the words around them show too). Linear: each span adds one to the runs that can hold it."""
    tokens = [m.span() for m in _WORD.finditer(text)]
    if words is None or len(tokens) <= words or not bold:
        return 0
    starts, ends = [a for a, _ in tokens], [b for _, b in tokens]
    runs = len(tokens) - words + 1
    change = [0] * (runs + 1)  # run s holds a span in tokens first..last when last - words < s <= first
    for a, b in bold:
        first, last = bisect.bisect_right(starts, a) - 1, bisect.bisect_left(ends, b)
        low, high = max(last - words + 1, 0), min(first, runs - 1)
        if low <= high:
            change[low] += 1
            change[high + 1] -= 1
    held = list(itertools.accumulate(change[:runs]))
    most = max(held)
    best = [s for s, n in enumerate(held) if n == most]
    return tokens[best[len(best) // 2]][0]


def answer_span(hit: Hit) -> tuple[int, int]:
    """The part of the excerpt that answers: whole sentences, or the whole excerpt when unknown."""
    return hit.answer if hit.answer is not None else (0, len(hit.excerpt))
