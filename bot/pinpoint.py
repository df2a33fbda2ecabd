"""The sentence that answers: where in a passage the answer to a question stands. Pure.

A passage is chosen for the whole of its text; the answer is usually one sentence of it (at word
67 of the passage, on median, before this module). `answer_span` picks the run of at most
MAX_SENTENCES consecutive sentences, within one paragraph and about MAX_CHARS long, that covers
most of the question's ideas by weight (idf), with the matched words closest together, and that
holds what the question asks for: a figure for "how many" or "how much", a year for "when", a
name for "who". A longer run must cover more than a shorter one to be chosen.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Literal

from bot.passages import sentence_spans

MAX_SENTENCES = 3
MAX_CHARS = 400
Kind = Literal["figure", "year", "person"] | None

_FIGURE_QUESTION = r"\b(?:how\s+(?:many|much|big|large)|what\s+(?:proportion|percentage|share|number)|what\s*%)"
_KINDS: tuple[tuple[re.Pattern[str], Kind], ...] = (
    (re.compile(_FIGURE_QUESTION, re.I), "figure"),
    (re.compile(r"\b(?:when|what\s+(?:year|date|month)|which\s+year|since\s+when|how\s+long\s+ago)\b", re.I), "year"),
    (re.compile(r"\b(?:who|whom|whose)\b", re.I), "person"),
)  # fmt: skip
_FIGURE = re.compile(r"\d")
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_YEAR = re.compile(rf"\b(?:19|20)\d\d\b|\b(?:{_MONTHS})\b")
# Two capitalised words in a row, not at a sentence's start: a person's (or a body's) name.
_NAME = re.compile(r"(?<=[a-z,;:] )[A-Z][a-z’'-]+ [A-Z][a-z’'-]+|\b(?:said|says|told|according to) [A-Z]")
KIND_BONUS = 0.25  # of the question's total weight: what a sentence holding the asked-for kind gains


def question_kind(question: str) -> Kind:
    """What a question asks for: a figure, a year (or date), a person, or None."""
    for pattern, kind in _KINDS:
        if pattern.search(question):
            return kind
    return None


def answer_span(
    text: str,
    found: Sequence[tuple[int, int, str]],
    ideas: Sequence[tuple[Sequence[Sequence[str]], float]],
    kind: Kind = None,
) -> tuple[int, int]:
    """(start, end) in `text` of the sentence(s) that answer best.

    `found`: where the question's terms stand in `text` (start, end, term); `ideas`: the question's
    ideas, each as its alternatives (every term of one alternative present counts) and its weight."""
    sentences = sentence_spans(text)
    if not sentences:
        return 0, len(text)
    total = sum(weight for _, weight in ideas) or 1.0
    wanted = [([frozenset(alt) for alt in alternatives], weight) for alternatives, weight in ideas]
    # Per sentence: the terms in it and where they start; a run's are its sentences' together.
    terms: list[set[str]] = [set() for _ in sentences]
    places: list[list[int]] = [[] for _ in sentences]
    ends = [end for _, end in sentences]
    for a, _, term in found:
        i = bisect.bisect_right(ends, a)
        if i < len(sentences) and sentences[i][0] <= a:
            terms[i].add(term)
            places[i].append(a)
    holds = [kind is not None and _holds(kind, text[a:b]) for a, b in sentences]
    useful = [bool(terms[i]) or holds[i] for i in range(len(sentences))]  # a run starts and ends at one
    best: tuple[float, int, int] | None = None
    for i, (start, _) in enumerate(sentences):
        if not useful[i]:
            continue
        present: set[str] = set()
        where: list[int] = []
        for j in range(i, min(i + MAX_SENTENCES, len(sentences))):
            end = ends[j]
            if j > i and ("\n" in text[ends[j - 1] : sentences[j][0]] or end - start > MAX_CHARS):
                break
            present |= terms[j]
            where += places[j]
            if not useful[j]:
                continue
            score = sum(w for alternatives, w in wanted if any(alt <= present for alt in alternatives)) / total
            if any(holds[i : j + 1]):
                score += KIND_BONUS
            if len(where) > 1:  # matched words close together: a sentence about them, not a list
                score += 0.05 * min(1.0, 80 / max(max(where) - min(where), 1))
            score -= 0.02 * (j - i)  # a run longer than one sentence must earn its length
            if best is None or score > best[0] + 1e-9:
                best = (score, start, end)
    if best is None:  # no sentence has a word of the question: the passage's first
        return sentences[0]
    return best[1], best[2]


def _holds(kind: Kind, sentence: str) -> bool:
    if kind == "figure":
        return bool(_FIGURE.search(sentence))
    if kind == "year":
        return bool(_YEAR.search(sentence))
    return bool(_NAME.search(sentence))
