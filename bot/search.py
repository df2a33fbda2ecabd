"""The search engine: passages in, answers out. Pure: building and searching do no I/O.

Ranking is BM25+ (bot/bm25.py). Whether a passage is *relevant* is a separate question, since
BM25 always ranks something first. A passage's relevance is the share of the question's ideas
it contains, each idea weighted by its idf (a word no passage contains weighs as much as the
rarest word in the index; an acronym and its long form are one idea, and so are a word and its
synonyms), and it is 0 unless the passage shares at least one *specific* idea with the
question: an acronym, a figure, or a word that is not everyday English (bot/common_words.py).
Sharing "council" and "close" is no sign that a passage answers "When does the council office
close on Fridays?". The engine abstains when no passage reaches `min_relevance`; the rule and
threshold were chosen from tests/questions.yaml (benchmarks/tune_ranking.py, README).

Two more rules say a question's subject is not covered (issue 14): a question word typed as an
acronym that no passage contains ("PFI", "TUPE'd") makes the engine abstain (`Answer.missing`),
and so does a best passage whose answer sentence holds less than MIN_COVERAGE (0.2) of the
question's topical ideas by weight. A hit whose answer holds DIRECT_COVERAGE (0.5) or more is a
"direct match", else a "partial match" (`Hit.strength`). Misspelt words are corrected first
(bot/spelling.py) and the corrected question is `Answer.corrected`. On tests/questions.yaml
(122 answerable, 53 off-topic): hit@1 0.836, hit@3 0.943, pinpoint 0.721, 3 answerable
abstained, 20 off-topic answered (30 before).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import numpy as np
from rapidfuzz.distance import OSA

from bot.bm25 import BM25Index, BM25Params
from bot.catalog import Catalog
from bot.common_words import COMMON_WORDS
from bot.defaults import DEFAULT_MIN_RELEVANCE as DEFAULT_MIN_RELEVANCE  # re-exported: its home was here
from bot.models import Answer, Article, Hit, LoadProblem, Passage, Strength
from bot.passages import MAX_CHARS, excerpt
from bot.pinpoint import Kind, answer_span, question_kind
from bot.spelling import Speller, corrected
from bot.text import (
    CONCEPTS,
    IRREGULAR,
    PERCENT,
    YEAR,
    Analyzer,
    CorpusFacts,
    Synonyms,
    Term,
    acronyms_in,
    text_facts,
)

if TYPE_CHECKING:  # types only: searching never reads files
    from bot.corpus import Corpus, FileState

CANDIDATES = 30  # BM25's best passages examined for relevance
MAX_TERMS = 64  # a question's terms beyond this are not searched for
EVIDENCE_IDEAS = 3  # everyday ideas a passage must share with a question when no specific one matches
# Words that frame a question in time rather than say what it is about: "next year" in a passage
# is no sign it answers "How much annual leave can I carry over into next year?".
TIME_WORDS = "time times year years yearly annual annually month months monthly week weeks day days next last"
DEFAULT_PARAMS = BM25Params()
# The answer sentence must hold this share (by idf) of the question's topical ideas, or the bot
# abstains; a share of DIRECT_COVERAGE or more is a "direct match" (chosen on tests/questions.yaml).
MIN_COVERAGE = 0.2
DIRECT_COVERAGE = 0.5
DIRECT, PARTIAL = get_args(Strength)
SURFACE_PASSAGES = 10  # passages read for the way a corrected word is written
_WHEN = re.compile(r"\bwhen\b", re.IGNORECASE)
_TYPED_ACRONYM = re.compile(r"[A-Z][A-Z0-9&]+(?:s|['\u2019]s|['\u2019]d)?")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class IndexParts:
    """What an index is made of: everything bot/store.py saves, nothing derived from it."""

    folder: Path
    catalog: Catalog
    problems: tuple[LoadProblem, ...]
    synonyms: str  # the text of synonyms.txt
    analyzer: Analyzer  # knows the corpus's acronyms and their long forms
    bm25: BM25Index
    version: str  # changes whenever the passages, titles, synonyms or ranking parameters do
    # What an update of a few files needs (bot/incremental.py): each article file as read, the
    # paragraph keys of each document, and the analyzer's facts counted over the passages.
    files: Mapping[str, FileState] = field(default_factory=dict)
    keys: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    facts: CorpusFacts = field(default_factory=CorpusFacts)


@dataclass(frozen=True)
class Idea:
    """One thing the question asks about: any alternative (all its terms) present counts."""

    alternatives: tuple[tuple[str, ...], ...]
    weight: float
    specific: bool  # an acronym, a figure or an uncommon word, not everyday English
    topical: bool = True  # False for words that only say when ("year", "next"), not what


@dataclass(frozen=True)
class Query:
    """A question analyzed for this index."""

    text: str
    words: tuple[str, ...]  # the question's words that were searched for, as typed
    terms: tuple[str, ...]  # BM25 query terms, synonyms included
    ideas: tuple[Idea, ...]
    unknown: tuple[str, ...] = ()  # the words no passage contains, even through a synonym, lower-cased
    missing: tuple[str, ...] = ()  # of those, the acronyms as typed ("PFI"): a subject the index lacks
    kind: Kind = None  # what the question asks for: a figure, a year, a person (bot/pinpoint.py)


def version_of(params: BM25Params, synonyms: str, passages: Iterable[Passage]) -> str:
    """The index's version: changes whenever the passages, titles, synonyms or ranking parameters do."""
    digest = hashlib.sha256(repr((params, synonyms)).encode())
    for p in passages:
        digest.update(f"\0{p.id}\0{p.article.digest}\0{p.place()}\0{p.text}".encode())  # digest: text, metadata
    return digest.hexdigest()[:12]


class Index:
    """An immutable search index over a knowledge folder's passages."""

    def __init__(
        self, corpus: Corpus, params: BM25Params = DEFAULT_PARAMS, min_relevance: float = DEFAULT_MIN_RELEVANCE
    ) -> None:
        """Index a loaded knowledge folder."""
        if not corpus.passages:
            raise ValueError("no passages to index")
        extra = acronyms_in(corpus.synonyms)
        facts = CorpusFacts()
        for p in corpus.passages:
            facts.add(text_facts(p.indexed_text), p.article.source)
        analyzer = facts.analyzer(extra)
        bm25 = BM25Index((analyzer.terms(p.indexed_text) for p in corpus.passages), params)  # one passage at a time
        parts = IndexParts(
            folder=corpus.folder,
            catalog=Catalog.of(corpus.articles, corpus.passages),
            problems=corpus.problems,
            synonyms=corpus.synonyms,
            analyzer=analyzer,
            bm25=bm25,
            version=version_of(params, corpus.synonyms, corpus.passages),
            files=corpus.files,
            keys=corpus.keys,
            facts=facts,
        )
        self._assemble(parts, min_relevance)

    @classmethod
    def restore(cls, parts: IndexParts, min_relevance: float = DEFAULT_MIN_RELEVANCE) -> Index:
        """An index from the parts of one built before (bot/store.py reads them from disk)."""
        index = cls.__new__(cls)
        index._assemble(parts, min_relevance)
        return index

    def _assemble(self, parts: IndexParts, min_relevance: float) -> None:
        self.parts = parts
        self.folder = parts.folder
        self.passages = parts.catalog
        self.problems = parts.problems
        self.params = parts.bm25.params
        self.min_relevance = min_relevance
        self.analyzer = parts.analyzer
        self.bm25 = parts.bm25
        self.synonyms, self.synonym_warnings = Synonyms.parse(parts.synonyms, self.analyzer)
        self.unknown_weight = math.log(len(self.passages) + 1)  # as rare as a word can be
        self.time_terms = frozenset(self.analyzer.terms(TIME_WORDS))
        self.version = parts.version

    @property
    def articles(self) -> tuple[Article, ...]:
        return self.passages.articles

    def analyze(self, question: str) -> Query:
        spans = self.analyzer.spans(question)[:MAX_TERMS]
        ideas: list[Idea] = []
        consumed: set[str] = set()
        long_form_terms: set[int] = set()  # positions of terms that belong to a long form
        for i, s in enumerate(spans):
            if s.long_form:
                # An acronym and its long form are one idea. The long form is searched as the
                # acronym: the index adds it wherever the long form occurs, and three words
                # would outweigh the rest of the question.
                inside = range(i - s.long_form, i)
                long_form_terms.update(inside)
                form = tuple(spans[j].text for j in inside)
                ideas.append(Idea(((s.text,), form), self._weight(s.text), specific=True))
                consumed.update([s.text, *form])
        terms = [s.text for s in spans if not s.long_form]
        specific = {s.text for s in spans if self._specific(s.text, question[s.start : s.end])}
        for group, found in self.synonyms.found(terms):
            weight = max(self._weight(t) for m in found for t in m)
            ideas.append(Idea(tuple(group), weight, any(t in specific for m in found for t in m), self._topical(group)))
            consumed.update(t for m in found for t in m)
        for term in dict.fromkeys(terms):
            if term not in consumed:
                ideas.append(Idea(((term,),), self._weight(term), term in specific, self._topical([(term,)])))
                consumed.add(term)
        words = tuple(dict.fromkeys(question[s.start : s.end] for s in spans if not s.long_form))
        searched = [s.text for i, s in enumerate(spans) if i not in long_form_terms]
        if _WHEN.search(question) and YEAR not in consumed:
            # A "when" question wants a year: passages that give one are likelier answers.
            ideas.append(Idea(((YEAR,),), self._weight(YEAR), specific=False, topical=False))
            searched.append(YEAR)
        unknown = self._unknown(question, spans)
        missing = tuple(
            dict.fromkeys(
                question[s.start : s.end]
                for s in spans
                if question[s.start : s.end].casefold() in unknown and _acronym_typed(question[s.start : s.end])
            )
        )
        expanded = tuple(self.synonyms.expand(searched))
        return Query(question, words, expanded, tuple(ideas), unknown, missing, question_kind(question))

    def unknown_words(self, question: str) -> tuple[str, ...]:
        """The question's words that no passage contains, even through a synonym, lower-cased:
        what the knowledge base lacks to answer it (the query log's "gaps")."""
        return self.analyze(question).unknown

    @cached_property
    def speller(self) -> Speller:
        """Corrects misspelt words to the index's (made on first use, then kept with the index)."""
        offsets = self.bm25.offsets
        return Speller({t: int(offsets[i + 1] - offsets[i]) for t, i in self.bm25.vocabulary.items()}, IRREGULAR)

    def correct(self, question: str) -> str:
        """The question with its misspelt words corrected to words the knowledge base contains."""
        fixes = self.speller.corrections(question, self._known, self._stem, self._surface)
        return corrected(question, fixes) if fixes else question

    def _known(self, word: str) -> bool:
        return not self._unknown(word, self.analyzer.spans(word))

    def _stem(self, word: str) -> str:
        terms = self.analyzer.terms(word)
        return terms[0] if len(terms) == 1 else word

    def _surface(self, term: str, typed: str) -> str:
        """`term` as the passages write it, the form nearest to what was typed: the correction shown."""
        docs, _ = self.bm25.postings(term)
        forms = {
            text[a:b].casefold()
            for text in (self.passages[int(d)].text for d in docs[:SURFACE_PASSAGES])
            for a, b, _ in self.analyzer.found(text, {term})
        }
        return min(forms, key=lambda f: (OSA.distance(f, typed.casefold()), f), default=term)

    def _unknown(self, question: str, spans: Sequence[Term]) -> tuple[str, ...]:
        unknown: dict[str, None] = {}
        for s in spans:
            if s.long_form or s.text in CONCEPTS or self.bm25.idf_of(s.text):
                continue
            if any(self._in_index(m) for g in self.synonyms.groups if any(s.text in m for m in g) for m in g):
                continue
            unknown[question[s.start : s.end].casefold()] = None
        return tuple(unknown)

    def _in_index(self, phrase: Sequence[str]) -> bool:
        return all(self.bm25.idf_of(t) for t in phrase)

    def _specific(self, term: str, word: str) -> bool:
        if term[0].isdigit() or term == PERCENT or term in self.analyzer.acronyms:
            return True
        return any(w not in COMMON_WORDS for w in re.split(r"[-'\u2019]", word.casefold()) if w)

    def _topical(self, alternatives: Sequence[Sequence[str]]) -> bool:
        return not all(t in self.time_terms for alt in alternatives for t in alt)

    def _weight(self, term: str) -> float:
        return self.bm25.idf_of(term) or self.unknown_weight

    def relevance(self, query: Query, doc: int, present: Mapping[str, AbstractSet[int]] | None = None) -> float:
        """The idf-weighted share of the question's ideas in passage `doc`; 0 without evidence
        that the passage is on the question's subject: a specific idea, or several everyday ones.
        `present` (from `_presence`) says which passages contain each term, when known."""
        total = sum(i.weight for i in query.ideas)
        if present is None:
            present = self._presence(query, [doc])
        found = [i for i in query.ideas if any(all(doc in present[t] for t in alt) for alt in i.alternatives)]
        evidence = any(i.specific for i in found) or sum(i.topical for i in found) >= EVIDENCE_IDEAS
        if not total or not evidence:
            return 0.0
        return sum(i.weight for i in found) / total

    def search(self, question: str, top: int = 3, offset: int = 0) -> Answer:
        """The `top` most relevant passages after skipping `offset`; none if nothing is relevant."""
        started = time.perf_counter()
        searched = self.correct(question)
        query = self.analyze(searched)
        hits: list[Hit] = []
        wanted = offset + top + 1  # one more than asked, to know whether more exist
        relevant = 0
        candidates = [] if query.missing else self.bm25.top(query.terms, max(CANDIDATES, wanted))
        present = self._presence(query, [doc for doc, _ in candidates])
        for doc, score in candidates:
            rel = self.relevance(query, doc, present)
            if rel < self.min_relevance:
                continue
            relevant += 1
            if offset < relevant <= offset + top:
                hit, coverage = self._hit(query, doc, score, rel, present)
                if relevant == 1 and coverage < MIN_COVERAGE:
                    break  # the best passage's answer misses the question's ideas: not an answer
                hits.append(hit)
            if relevant >= wanted:
                break
        took = (time.perf_counter() - started) * 1000
        return Answer(
            question=question,
            corrected=searched if searched != question else None,
            terms=query.words,
            hits=tuple(hits),
            offset=offset,
            more=bool(hits) and relevant > offset + top,
            took_ms=round(took, 3),
            unknown=query.unknown,
            missing=query.missing,
        )

    def _presence(self, query: Query, docs: Sequence[int]) -> dict[str, frozenset[int]]:
        """For every term of the query and its ideas, which of `docs` contain it."""
        candidates = np.array(docs, dtype=np.int32)
        terms = {t for i in query.ideas for alt in i.alternatives for t in alt} | set(query.terms)
        return {t: self.bm25.containing(t, candidates) for t in terms}

    def _hit(
        self, query: Query, doc: int, score: float, rel: float, present: Mapping[str, AbstractSet[int]]
    ) -> tuple[Hit, float]:
        """The hit for passage `doc`, and the share of the question's ideas its answer sentence holds."""
        passage = self.passages[doc]
        wanted = set(query.terms)
        found = self.analyzer.found(passage.text, wanted)
        merged = merge_spans(bold_spans(passage.text, found), passage.text)
        ideas = [(i.alternatives, i.weight) for i in query.ideas]
        start, end = answer_span(passage.text, found, ideas, query.kind)
        shown, shift = excerpt(passage.text, start, MAX_CHARS)  # the answer is in the excerpt, near its start
        highlights = tuple((a - shift, b - shift) for a, b in merged if a - shift >= 0 and b - shift <= len(shown))
        matched = tuple(t for t in dict.fromkeys(query.terms) if doc in present[t])
        answer = (max(start - shift, 0), min(end - shift, len(shown)))
        coverage = self.coverage(query, {term for a, _, term in found if start <= a < end})
        hit = Hit(
            passage=passage,
            score=score,
            relevance=round(rel, 4),
            excerpt=shown,
            highlights=highlights,
            matched=matched,
            answer=answer,
            strength=DIRECT if coverage >= DIRECT_COVERAGE else PARTIAL,
        )
        return hit, coverage

    @staticmethod
    def coverage(query: Query, terms: AbstractSet[str]) -> float:
        """The idf-weighted share of the question's topical ideas that `terms` (an answer's) hold."""
        ideas = [i for i in query.ideas if i.topical]
        total = sum(i.weight for i in ideas)
        held = sum(i.weight for i in ideas if any(all(t in terms for t in alt) for alt in i.alternatives))
        return held / total if total else 0.0


def _acronym_typed(word: str) -> bool:
    """Whether a word was typed as an acronym: "PFI", "PCNs", "TUPE'd", not "CCG-to-council"."""
    return bool(_TYPED_ACRONYM.fullmatch(word))


def bold_spans(text: str, found: Sequence[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Where `found` terms stand in `text`, but a figure only for its own term: a concept (`%`, `#year`)
    marks every percentage or year as one the question may want, and bolding them all would bold
    years nobody asked about. A concept still bolds a word ("proportion" for "what percentage")."""
    return [(a, b) for a, b, term in found if term not in CONCEPTS or not _DIGIT.search(text, a, b)]


def merge_spans(spans: Sequence[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Sorted, non-overlapping spans; neighbours separated only by spaces or hyphens are joined
    so that 'Integrated Care Systems' is highlighted as one phrase."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if (merged and start <= merged[-1][1] + 1 and not text[merged[-1][1] : start].strip(" -")) or (
            merged and start < merged[-1][1]
        ):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
