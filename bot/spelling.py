"""Spelling: a question's misspelt words corrected to words the knowledge base contains. Pure.

Only a word the index does not know is corrected, and only to a term the index does know, within
a small edit distance of its stem (optimal string alignment: a swap of two letters, as in
"overspnet", is one edit): 1 for a stem shorter than LONG_STEM letters, 2 for a longer one. Never
corrected: acronyms and words typed with a capital after the first word (names), figures, words
of English (bot/english.py: "pension" is a word, not a misspelling of "person"; "qualifies" is no
slip for "quality"),
and stems shorter than MIN_STEM letters; and the first letter is never changed (a slip there is rare, and
"pension" is no misspelling of "tension"). Among equally near terms the one in most passages wins.
Uses rapidfuzz (MIT), whose C++ `process.extract` compares one word with the whole vocabulary
in microseconds; the vocabulary is built once per index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot import english
from bot.common_words import COMMON_WORDS

MIN_STEM = 5  # shorter stems are near too many other words ("hand", "hard")
LONG_STEM = 11  # stems this long or longer may be two edits away ("underspend" is no "understand")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_PLAIN = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Correction:
    """One misspelt word of a question and the word of the knowledge base it was taken for."""

    start: int
    end: int
    typed: str
    word: str


class Speller:
    """Corrects words against one index's vocabulary of terms (stems)."""

    def __init__(self, frequencies: Mapping[str, int], irregular: Mapping[str, str] = {}) -> None:
        """`frequencies`: each term of the index and the number of passages holding it; `irregular`:
        words whose term is not their stem ("overspent" -> "overspend"), so that they are near too."""
        self._term = {t: t for t in frequencies if _PLAIN.fullmatch(t) and len(t) >= MIN_STEM - 1}
        self._term |= {word: term for word, term in irregular.items() if term in frequencies}
        # Candidates by first letter and length: a correction keeps the first letter and is at most
        # two edits away, so each look-up compares a few hundred words, not the whole vocabulary.
        self._choices: dict[tuple[str, int], list[str]] = {}
        for word in self._term:
            self._choices.setdefault((word[0], len(word)), []).append(word)
        self._frequency = frequencies

    def corrections(
        self,
        question: str,
        known: Callable[[str], bool],
        stem: Callable[[str], str],
        surface: Callable[[str, str], str],
    ) -> list[Correction]:
        """The question's misspelt words, each with its correction.

        `known(word)`: whether the index (or a synonym) knows the word; `stem(word)`: its search
        term; `surface(term, typed)`: the word of the knowledge base that gives `term` nearest to what was
        typed, lower-cased."""
        out: list[Correction] = []
        for n, match in enumerate(_WORD.finditer(question)):
            word = match.group(0)
            if not self._may_correct(word, first=n == 0) or known(word):
                continue
            term = self.nearest(stem(word.casefold()))
            if term is not None:
                out.append(Correction(match.start(), match.end(), word, surface(term, word)))
        return out

    def nearest(self, term: str) -> str | None:
        """The index's term nearest to `term`, within the allowed distance; None if none is."""
        if len(term) < MIN_STEM:
            return None
        limit = 2 if len(term) >= LONG_STEM else 1
        # Same first letter (a slip there is rare: "pension" is no "tension"), length within `limit`.
        choices = [
            w for n in range(len(term) - limit, len(term) + limit + 1) for w in self._choices.get((term[0], n), ())
        ]
        found = process.extract(term, choices, scorer=OSA.distance, score_cutoff=limit, limit=None)
        if not found:
            return None
        best = min(distance for _, distance, _ in found)
        terms = {self._term[c] for c, d, _ in found if d == best}
        return max(terms, key=lambda t: (self._frequency[t], t))

    @staticmethod
    def _may_correct(word: str, first: bool) -> bool:
        lower = word.casefold()
        if lower in COMMON_WORDS or not lower.isalpha() or lower in english.words():
            return False
        return not any(c.isupper() for c in (word[1:] if first else word))


def corrected(question: str, corrections: Sequence[Correction]) -> str:
    """The question with each correction's word in place of what was typed."""
    out, at = [], 0
    for c in corrections:
        out += [question[at : c.start], c.word]
        at = c.end
    return "".join([*out, question[at:]])
