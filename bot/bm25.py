"""BM25+ over an inverted index: the scores of `rank_bm25.BM25Plus`, without scanning every passage.

rank_bm25 is the reference: for a query (a list of terms, repeats counting again) and passage d,

    score(d) = sum over q of idf(q) * (delta + tf(q,d) * (k1 + 1) / (k1 * (1 - b + b * |d| / avgdl) + tf(q,d)))
    idf(q)   = log((N + 1) / df(q))            (0 for a term no passage has)

Every passage gets `idf(q) * delta` for every known query term whatever it contains, so the score
splits into a constant for the query plus a sum over the passages that contain its terms. The
index stores, per term, the passages that contain it and their share of the second part,
precomputed, so a question touches only those postings.

Why BM25+ and not BM25Okapi: Okapi's idf is negative for a term in more than half the
passages and rank_bm25 floors it to epsilon * mean idf, which on a small corpus can rate a very
common term (NHS, commissioning) above one found in just under half. BM25+ idf is positive and
falls steadily with document frequency. (rank_bm25's BM25L multiplies by tf a second time, so
its scores grow without bound with repeated words.)
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Int32s = npt.NDArray[np.int32]


@dataclass(frozen=True)
class BM25Params:
    """BM25+ parameters; the defaults were chosen on tests/questions.yaml (see README)."""

    k1: float = 1.2
    b: float = 0.75
    delta: float = 1.0


@dataclass(frozen=True)
class Postings:
    """The arrays an index is made of, checked to fit together (bot/store.py saves them by name).

    Term i's postings are `docs[offsets[i]:offsets[i + 1]]` (passage numbers, ascending) with
    their `weights` (each posting's share of the score above the baseline); `idf[i]` is its idf;
    `doc_len[d]` is passage d's length in terms; `tf` each posting's term frequency, kept so an
    index can be updated passage by passage (`BM25Index.updated`) without the passages' text."""

    doc_len: Int32s
    idf: Floats
    offsets: Ints
    docs: Int32s
    weights: Floats
    tf: Int32s

    def __post_init__(self) -> None:
        offsets, docs = self.offsets, self.docs
        if not (
            len(offsets) == len(self.idf) + 1 and len(docs) == len(self.weights) == len(self.tf) == int(offsets[-1])
        ):
            raise ValueError("BM25 arrays do not fit together")
        if len(self.doc_len) == 0 or (len(docs) and (int(docs.min()) < 0 or int(docs.max()) >= len(self.doc_len))):
            raise ValueError("BM25 postings name passages the index does not have")

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """The arrays by field name (the names bot/store.py writes and `Postings(**arrays)` reads)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _postings(size: int, params: BM25Params, doc_len: Int32s, terms: Int32s, docs: Int32s, tf: Int32s) -> Postings:
    """The postings of passages given as (term, passage, term frequency) triples, sorted by term
    and then passage: each posting's share of the score, as rank_bm25 computes it."""
    n = len(doc_len)
    total = int(doc_len.sum())
    df = np.bincount(terms, minlength=size)
    lengths_f = doc_len.astype(np.float64)
    idf = np.log((n + 1) / df.astype(np.float64))
    k1, b = params.k1, params.b
    norm = k1 * (1 - b + b * lengths_f / (total / n))
    tf_f = tf.astype(np.float64)
    weights = idf[terms] * (tf_f * (k1 + 1) / (norm[docs] + tf_f))
    offsets = np.concatenate(([0], np.cumsum(df)))
    return Postings(doc_len, idf, offsets, docs, weights, tf)


class BM25Index:
    """Scores equal to `rank_bm25.BM25Plus(corpus, k1, b, delta).get_scores(query)`."""

    def __init__(self, corpus: Iterable[Sequence[str]], params: BM25Params = BM25Params()) -> None:
        """Index passages given as their terms; `corpus` is read once, so it can be a generator
        and the terms of a million passages need never be held at once."""
        vocabulary: dict[str, int] = {}
        add = vocabulary.setdefault
        ids, lengths = array("i"), array("i")  # 4 bytes a term, instead of a list of strings
        for doc in corpus:
            ids.extend([add(t, len(vocabulary)) for t in doc])
            lengths.append(len(doc))
        n = len(lengths)
        if not n:
            raise ValueError("BM25 needs at least one passage")
        doc_len = np.frombuffer(lengths, dtype=np.int32)
        total = int(doc_len.sum())
        # Group each term's occurrences, passages in order (a stable sort keeps them so), then
        # count runs of the same (term, passage): a posting and its term frequency.
        order = np.argsort(np.frombuffer(ids, dtype=np.int32), kind="stable")
        terms = np.frombuffer(ids, dtype=np.int32)[order]
        docs = np.repeat(np.arange(n, dtype=np.int32), doc_len)[order]
        del order, ids
        new = np.ones(total, dtype=bool)
        if total:
            np.not_equal(terms[1:], terms[:-1], out=new[1:])
            new[1:] |= docs[1:] != docs[:-1]
        starts = np.flatnonzero(new)
        posting_terms, posting_docs = terms[starts], docs[starts]
        tf = np.diff(np.append(starts, total)).astype(np.int32)
        del terms, docs, new, starts
        self._set(
            vocabulary, params, _postings(len(vocabulary), params, doc_len.copy(), posting_terms, posting_docs, tf)
        )

    def updated(self, keep: npt.NDArray[np.bool_], added: Sequence[Sequence[str]], order: Int32s) -> BM25Index:
        """This index with only the passages where `keep` is true, then the passages `added` (as
        their terms), renumbered: passage i of the result is `order[i]` of (kept, then added).
        The scores are exactly those of an index built on the resulting passages; only the
        added passages' terms are counted, the kept ones' come from the postings."""
        vocabulary = dict(self.vocabulary)
        add = vocabulary.setdefault
        new_terms: list[int] = []
        new_docs: list[int] = []
        new_tf: list[int] = []
        kept = int(keep.sum())
        lengths = [len(doc) for doc in added]
        for d, doc in enumerate(added, kept):
            for term, count in Counter(doc).items():
                new_terms.append(add(term, len(vocabulary)))
                new_docs.append(d)
                new_tf.append(count)
        renumber = np.empty(keep.size, dtype=np.int32)  # old passage -> its place among the kept
        renumber[keep] = np.arange(kept, dtype=np.int32)
        place = np.empty(len(order), dtype=np.int32)  # (kept, then added) -> place in the result
        place[order] = np.arange(len(order), dtype=np.int32)
        old_terms = np.repeat(np.arange(len(self.idf), dtype=np.int32), np.diff(self.offsets))
        mask = keep[self.docs]
        terms = np.concatenate((old_terms[mask], np.array(new_terms, dtype=np.int32)))
        docs = place[np.concatenate((renumber[self.docs[mask]], np.array(new_docs, dtype=np.int32)))]
        tf = np.concatenate((self.data.tf[mask], np.array(new_tf, dtype=np.int32)))
        del old_terms, mask
        by = np.lexsort((docs, terms))  # by term, then passage: each term's postings ascending
        terms, docs, tf = terms[by], docs[by], tf[by]
        # Drop the terms no passage has any more, as a build on the passages would never see them.
        present = np.zeros(len(vocabulary), dtype=bool)
        present[terms] = True
        names = list(vocabulary)
        vocabulary = {names[i]: j for j, i in enumerate(np.flatnonzero(present).tolist())}
        terms = (np.cumsum(present, dtype=np.int32) - 1)[terms]
        doc_len = np.concatenate((self.doc_len[keep], np.array(lengths, dtype=np.int32)))[order]
        if not doc_len.size:
            raise ValueError("BM25 needs at least one passage")
        index = BM25Index.__new__(BM25Index)
        index._set(vocabulary, self.params, _postings(len(vocabulary), self.params, doc_len, terms, docs, tf))
        return index

    @classmethod
    def restore(cls, vocabulary: dict[str, int], params: BM25Params, postings: Postings) -> BM25Index:
        """An index from the postings of one built before (bot/store.py saves and reads them)."""
        if len(vocabulary) != len(postings.idf):
            raise ValueError("BM25 arrays do not fit together")
        index = cls.__new__(cls)
        index._set(vocabulary, params, postings)
        return index

    def _set(self, vocabulary: dict[str, int], params: BM25Params, postings: Postings) -> None:
        self.params = params
        self.vocabulary = vocabulary
        self.data = postings  # the arrays below, as one value
        self.size = len(postings.doc_len)
        self.doc_len = postings.doc_len
        self.avgdl = float(postings.doc_len.sum()) / self.size
        self.idf = postings.idf
        self.offsets = postings.offsets
        self.docs = postings.docs
        self.weights = postings.weights

    def idf_of(self, term: str) -> float:
        """idf of a term, 0.0 for one no passage contains (as rank_bm25 does)."""
        i = self.vocabulary.get(term)
        return float(self.idf[i]) if i is not None else 0.0

    def postings(self, term: str) -> tuple[Int32s, Floats]:
        """The passages containing `term` (ascending) and their score contributions."""
        i = self.vocabulary.get(term)
        if i is None:
            empty = np.empty(0, dtype=np.int32)
            return empty, np.empty(0, dtype=np.float64)
        lo, hi = self.offsets[i], self.offsets[i + 1]
        return self.docs[lo:hi], self.weights[lo:hi]

    def baseline(self, query: Sequence[str]) -> float:
        """The score every passage gets for `query`, whatever it contains."""
        return self.params.delta * sum(self.idf_of(q) for q in query)

    def sparse_scores(self, query: Sequence[str]) -> Floats:
        """Score above the baseline for every passage (0 for passages with no query term)."""
        scores = np.zeros(self.size)
        for term, count in Counter(query).items():
            docs, weights = self.postings(term)
            if count == 1:
                scores[docs] += weights
            else:
                scores[docs] += weights * count
        return scores

    def get_scores(self, query: Sequence[str]) -> Floats:
        """Full BM25+ scores, as rank_bm25's get_scores gives them."""
        return self.sparse_scores(query) + self.baseline(query)

    def top(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The k best passages that contain a query term, as (passage, full score), best first;
        ties go to the earlier passage."""
        scores = self.sparse_scores(query)
        matched = np.flatnonzero(scores > 0)
        if matched.size > k:
            kth = np.partition(scores[matched], matched.size - k)[matched.size - k]
            matched = matched[scores[matched] >= kth]
        order = np.lexsort((matched, -scores[matched]))[:k]
        base = self.baseline(query)
        return [(int(d), float(scores[d] + base)) for d in matched[order]]

    def containing(self, term: str, docs: Int32s) -> frozenset[int]:
        """Which of the passages `docs` contain `term`: one vectorised lookup for many passages."""
        postings, _ = self.postings(term)
        if not postings.size or not docs.size:
            return frozenset()
        at = np.minimum(np.searchsorted(postings, docs), postings.size - 1)
        return frozenset(docs[postings[at] == docs].tolist())
