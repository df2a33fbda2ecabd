"""BM25Index must give exactly the scores of rank_bm25.BM25Plus, the reference it replaces."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi, BM25Plus

from bot.bm25 import BM25Index, BM25Params, Postings
from bot.corpus import load
from bot.search import Index

KNOWLEDGE = Path(__file__).parent.parent / "knowledge"

QUESTIONS = [
    "How many CCGs overspent in 2017-18?",
    "What did the National Audit Office say about clinical commissioning groups?",
    "What are integrated care systems?",
    "Should NHS England be scrapped?",
    "What do councils think about commissioning children's services?",
    "How much did CCGs spend on running costs?",
    "What is the Commissioning Support Programme?",
    "Which skills and apprenticeships programmes were devolved?",
    "What did Amyas Morse say about restructuring NHS commissioning?",
    "How many respondents said the policy had an effect, 42 per cent?",
    "What is a zebra crossing?",  # nothing in the corpus: scores must still agree
]

PARAM_SETS = [
    BM25Params(),
    BM25Params(k1=0.9, b=0.4, delta=0.5),
    BM25Params(k1=2.0, b=1.0, delta=1.5),
]

SEED = 20240517
N_GENERATED = 3000
VOCABULARY = [f"w{i}" for i in range(4000)]
# Zipf-like: the r-th word is about 1/r as frequent as the first.
ZIPF_CUM_WEIGHTS = np.cumsum([1.0 / (r + 1) for r in range(len(VOCABULARY))]).tolist()

# Small corpus for the common-term comparison: "nhs" is in 8 of 10 passages, "ccg" in 4,
# and each passage has unique filler words (as a real corpus has many rare words).
COMMON_TERM_CORPUS = [
    ["nhs", f"a{i}", f"b{i}", f"c{i}", f"d{i}"] if i < 6 else ["nhs", "ccg", f"a{i}", f"b{i}", f"c{i}"]
    for i in range(8)
] + [["ccg", f"a{i}", f"b{i}", f"c{i}", f"d{i}"] for i in range(8, 10)]
NHS_ONLY, CCG_ONLY = 0, 9


def reference(corpus: list[list[str]], params: BM25Params) -> BM25Plus:
    return BM25Plus(corpus, k1=params.k1, b=params.b, delta=params.delta)


@pytest.fixture(scope="module")
def real() -> tuple[list[list[str]], list[list[str]]]:
    """The real corpus's passage terms and the queries the bot would search for."""
    idx = Index(load(KNOWLEDGE))
    tokens = [idx.analyzer.terms(p.indexed_text) for p in idx.passages]
    queries = [list(idx.analyze(q).terms) for q in QUESTIONS]
    return tokens, queries


@pytest.fixture(scope="module")
def generated() -> tuple[list[list[str]], list[list[str]]]:
    """A deterministic corpus of 3,000 passages of 40-180 Zipf-distributed words, and queries
    with common, rare, repeated and unknown terms."""
    rng = random.Random(SEED)
    corpus = [rng.choices(VOCABULARY, cum_weights=ZIPF_CUM_WEIGHTS, k=rng.randint(40, 180)) for _ in range(N_GENERATED)]
    queries = [
        ["w0"],
        ["w3999"],
        ["w5", "w120", "w1800"],
        ["w7", "w7", "w7", "w300"],
        ["w42", "unknown-term", "w42"],
        ["nowhere", "absent"],
        [],
    ]
    queries += [rng.choices(VOCABULARY, cum_weights=ZIPF_CUM_WEIGHTS, k=rng.randint(2, 8)) for _ in range(8)]
    return corpus, queries


def reference_top(corpus: list[list[str]], scores: np.ndarray, query: list[str], k: int) -> list[int]:
    """rank_bm25's best k passages containing a query term, ties to the earlier passage."""
    wanted = set(query)
    matching = [d for d, doc in enumerate(corpus) if wanted.intersection(doc)]
    return sorted(matching, key=lambda d: (-scores[d], d))[:k]


@pytest.mark.parametrize("params", PARAM_SETS, ids=["default", "low-k1-b", "high-k1-b"])
def test_real_corpus_scores_equal_rank_bm25(real: tuple[list[list[str]], list[list[str]]], params: BM25Params) -> None:
    """On the bot's own passages and questions the fast index ranks exactly as the reference."""
    tokens, queries = real
    index, ref = BM25Index(tokens, params), reference(tokens, params)
    assert any(len(q) > 1 for q in queries)
    for query in queries:
        np.testing.assert_allclose(
            index.get_scores(query), ref.get_scores(query), rtol=0, atol=1e-9, err_msg=str(query)
        )


@pytest.mark.parametrize("params", PARAM_SETS[:2], ids=["default", "low-k1-b"])
def test_generated_corpus_scores_equal_rank_bm25(
    generated: tuple[list[list[str]], list[list[str]]], params: BM25Params
) -> None:
    """On a large corpus, with repeated and unknown query terms, scores still match the reference."""
    corpus, queries = generated
    index, ref = BM25Index(corpus, params), reference(corpus, params)
    for query in queries:
        np.testing.assert_allclose(
            index.get_scores(query), ref.get_scores(query), rtol=0, atol=1e-9, err_msg=str(query)
        )


def test_top_ten_equals_reference_ranking(generated: tuple[list[list[str]], list[list[str]]]) -> None:
    """`top` returns the same passages in the same order as sorting rank_bm25's scores, with full scores."""
    corpus, queries = generated
    index, ref = BM25Index(corpus), reference(corpus, BM25Params())
    for query in queries:
        expected_scores = ref.get_scores(query)
        expected = reference_top(corpus, expected_scores, query, 10)
        got = index.top(query, 10)
        assert [d for d, _ in got] == expected, query
        np.testing.assert_allclose([s for _, s in got], expected_scores[expected], rtol=0, atol=1e-9)


def test_top_on_real_corpus_equals_reference_ranking(real: tuple[list[list[str]], list[list[str]]]) -> None:
    """The passages the bot examines for a question are rank_bm25's best ones."""
    tokens, queries = real
    index, ref = BM25Index(tokens), reference(tokens, BM25Params())
    for query in queries:
        expected = reference_top(tokens, ref.get_scores(query), query, 10)
        assert [d for d, _ in index.top(query, 10)] == expected, query


def test_top_breaks_ties_by_earlier_passage_and_skips_non_matching() -> None:
    """Identical passages tie; the earlier one comes first, and passages without a query term never appear."""
    corpus = [["care", "plan"], ["budget", "cut"], ["care", "plan"], ["care", "plan"], ["other", "word"]]
    index = BM25Index(corpus)
    got = index.top(["plan"], 10)
    assert [d for d, _ in got] == [0, 2, 3]
    assert got[0][1] == got[1][1] == got[2][1] > 0
    assert [d for d, _ in index.top(["plan"], 2)] == [0, 2]
    assert index.top(["missing"], 10) == []


def test_common_term_keeps_positive_weight_and_rarer_term_outranks_it() -> None:
    """A term in most passages (like 'NHS') still counts, but less than a rarer one; Okapi gets this backwards."""
    index = BM25Index(COMMON_TERM_CORPUS)
    assert 0 < index.idf_of("nhs") < index.idf_of("ccg")
    query = ["nhs", "ccg"]
    scores = index.get_scores(query)
    assert scores[CCG_ONLY] > scores[NHS_ONLY]
    assert [d for d, _ in index.top(["nhs"], 10)] == list(range(8))

    okapi = BM25Okapi(COMMON_TERM_CORPUS).get_scores(query)
    assert okapi[NHS_ONLY] > okapi[CCG_ONLY]  # the epsilon floor rates the common term above the rarer one


def test_idf_contains_and_postings_describe_the_corpus() -> None:
    """Lookups report which passages hold a term; unknown terms weigh nothing and match nothing."""
    index = BM25Index(COMMON_TERM_CORPUS)
    assert index.idf_of("unknown") == 0.0
    assert index.idf_of("ccg") == pytest.approx(np.log(11 / 4))
    everyone = np.arange(10, dtype=np.int32)
    assert sorted(index.containing("ccg", everyone)) == [6, 7, 8, 9]
    assert not index.containing("unknown", everyone)
    docs, weights = index.postings("ccg")
    assert docs.tolist() == [6, 7, 8, 9]
    assert (weights > 0).all()
    empty_docs, empty_weights = index.postings("unknown")
    assert (empty_docs.size, empty_weights.size) == (0, 0)


def test_scores_split_into_baseline_and_sparse_part() -> None:
    """Every passage gets the query's baseline; only passages with a query term get more."""
    index = BM25Index(COMMON_TERM_CORPUS)
    query = ["ccg", "unknown", "ccg"]
    assert index.baseline(query) == pytest.approx(2 * np.log(11 / 4))
    sparse = index.sparse_scores(query)
    assert (sparse[:6] == 0).all() and (sparse[6:] > 0).all()
    np.testing.assert_allclose(index.get_scores(query), sparse + index.baseline(query), rtol=0, atol=1e-12)


def test_empty_corpus_is_rejected() -> None:
    """An index with no passages is a configuration error, reported clearly."""
    with pytest.raises(ValueError, match="at least one passage"):
        BM25Index([])


def test_an_index_restored_from_its_postings_by_name_scores_the_same_and_bad_arrays_are_refused() -> None:
    """What bot/store.py does: save the postings by field name, restore them, get the same scores;
    arrays that do not fit together (a damaged or foreign file) are refused, never misread."""
    corpus = [["ccg", "overspend", "2017-18"], ["ics", "board"], ["ccg", "ccg", "board"]]
    built = BM25Index(corpus)
    arrays = built.data.arrays()
    assert set(arrays) == {"doc_len", "idf", "offsets", "docs", "weights", "tf"}
    restored = BM25Index.restore(dict(built.vocabulary), built.params, Postings(**arrays))
    for query in (["ccg"], ["board", "ics"], ["overspend", "ccg", "ccg"]):
        assert restored.get_scores(query).tolist() == built.get_scores(query).tolist()
    with pytest.raises(ValueError, match="do not fit"):
        Postings(**(arrays | {"weights": arrays["weights"][:-1]}))
    with pytest.raises(ValueError, match="passages the index does not have"):
        Postings(**(arrays | {"doc_len": arrays["doc_len"][:1]}))
    with pytest.raises(ValueError, match="do not fit"):
        BM25Index.restore({"ccg": 0}, built.params, Postings(**arrays))
