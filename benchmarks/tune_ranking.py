"""Choose the BM25 variant, its parameters and the abstention threshold from the question set.

    python benchmarks/tune_ranking.py [--knowledge knowledge] [--questions tests/questions.yaml]

Prints (1) rank-bm25 used as its README shows, (2) hit@1/hit@3 of rank-bm25's BM25Okapi, BM25L
and BM25Plus over a grid of parameters on the bot's own terms and passages (ranking only, no
abstention), and (3) the relevance of the best on-topic and off-topic results with the chosen
parameters, from which the abstention threshold is read. Writes the figures as JSON too.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from pathlib import Path

import numpy as np
from rank_bm25 import BM25L, BM25Okapi, BM25Plus
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.bm25 import BM25Params  # noqa: E402
from bot.characters import fold  # noqa: E402
from bot.corpus import load  # noqa: E402
from bot.evaluate import evaluate, parse_questions  # noqa: E402
from bot.search import Index  # noqa: E402


def hits(ranked_texts: list[list[tuple[str, str]]], questions: list) -> tuple[float, float]:
    """hit@1 and hit@3 given, per on-topic question, the (source, text) of the ranked passages."""
    h1 = h3 = 0
    for results, q in zip(ranked_texts, questions, strict=True):
        ranks = [i for i, (src, text) in enumerate(results[:3], 1) if src == q.source and fold(q.expect) in fold(text)]
        h1 += bool(ranks and ranks[0] == 1)
        h3 += bool(ranks)
    return h1 / len(questions), h3 / len(questions)


def readme_baseline(knowledge: Path, questions: list) -> tuple[float, float]:
    """rank-bm25 as its README shows it: raw paragraphs, split on spaces, BM25Okapi defaults."""
    paragraphs = []
    for path in sorted(knowledge.glob("*.txt")):
        if path.name == "synonyms.txt":
            continue
        for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            if p.strip():
                paragraphs.append((path.name, p))
    bm25 = BM25Okapi([p.split(" ") for _, p in paragraphs])
    ranked = []
    for q in questions:
        scores = bm25.get_scores(q.q.split(" "))
        order = np.argsort(-scores, kind="stable")[:3]
        ranked.append([paragraphs[i] for i in order])
    return hits(ranked, questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--knowledge", type=Path, default=ROOT / "knowledge")
    parser.add_argument("--questions", type=Path, default=ROOT / "tests" / "questions.yaml")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "tune_ranking.json")
    args = parser.parse_args()
    console = Console()
    questions = parse_questions(args.questions.read_text(encoding="utf-8"))
    on_topic = [q for q in questions if q.expect is not None]
    corpus = load(args.knowledge)
    index = Index(corpus, min_relevance=0.0)
    tokens = [index.analyzer.terms(p.text) for p in corpus.passages]
    queries = [list(index.analyze(q.q).terms) for q in on_topic]
    texts = [(p.article.source, p.text) for p in corpus.passages]

    baseline = readme_baseline(args.knowledge, on_topic)
    console.print(f"rank-bm25 as its README shows: hit@1 {baseline[0]:.3f}, hit@3 {baseline[1]:.3f}")

    grid = []
    for k1, b in itertools.product((0.9, 1.2, 1.5, 2.0), (0.3, 0.5, 0.75, 0.9)):
        variants = {
            "BM25Okapi": BM25Okapi(tokens, k1=k1, b=b),
            "BM25L d=0.5": BM25L(tokens, k1=k1, b=b, delta=0.5),
            "BM25Plus d=0.5": BM25Plus(tokens, k1=k1, b=b, delta=0.5),
            "BM25Plus d=1": BM25Plus(tokens, k1=k1, b=b, delta=1.0),
        }
        for name, model in variants.items():
            ranked = []
            for query in queries:
                order = np.argsort(-model.get_scores(query), kind="stable")[:3]
                ranked.append([texts[i] for i in order])
            h1, h3 = hits(ranked, on_topic)
            grid.append({"variant": name, "k1": k1, "b": b, "hit@1": h1, "hit@3": h3})
    table = Table(title="Ranking on the bot's terms (no abstention), best first")
    for col in ("variant", "k1", "b", "hit@1", "hit@3"):
        table.add_column(col, justify="right")
    for row in sorted(grid, key=lambda r: (-r["hit@1"], -r["hit@3"], r["variant"]))[:20]:
        table.add_row(row["variant"], str(row["k1"]), str(row["b"]), f"{row['hit@1']:.3f}", f"{row['hit@3']:.3f}")
    console.print(table)
    by_variant = {}
    for row in grid:
        best = by_variant.get(row["variant"])
        if best is None or (row["hit@1"], row["hit@3"]) > (best["hit@1"], best["hit@3"]):
            by_variant[row["variant"]] = row
    console.print(
        "Best of each variant:",
        {k: (v["k1"], v["b"], round(v["hit@1"], 3), round(v["hit@3"], 3)) for k, v in by_variant.items()},
    )

    params = BM25Params()
    report = evaluate(Index(corpus, params, min_relevance=0.0), questions)
    correct_top = sorted(o.relevance[0] for o in report.on_topic if o.rank == 1)
    off_top = sorted((o.relevance[0] if o.relevance else 0.0) for o in report.off_topic)
    console.print(f"\nWith {params} and no threshold: hit@1 {report.hit_at(1):.3f}, hit@3 {report.hit_at(3):.3f}")
    console.print("relevance of correct first results (lowest 10):", [round(x, 3) for x in correct_top[:10]])
    console.print("relevance of off-topic first results (highest 5):", [round(x, 3) for x in off_top[-5:]])
    sweep = []
    for threshold in np.arange(0.10, 0.71, 0.05):
        r = evaluate(Index(corpus, params, min_relevance=float(threshold)), questions)
        sweep.append(
            {
                "threshold": round(float(threshold), 2),
                "hit@1": r.hit_at(1),
                "hit@3": r.hit_at(3),
                "on_topic_abstained": r.wrongly_abstained,
                "off_topic_answered": len(r.off_topic_answered),
            }
        )
    table = Table(
        title=f"Abstention threshold ({len(on_topic)} on-topic, {len(questions) - len(on_topic)} off-topic questions)"
    )
    for col in ("threshold", "hit@1", "hit@3", "on-topic abstained", "off-topic answered"):
        table.add_column(col, justify="right")
    for row in sweep:
        table.add_row(f"{row['threshold']:.2f}", f"{row['hit@1']:.3f}", f"{row['hit@3']:.3f}",
                      f"{row['on_topic_abstained']:.3f}", str(row["off_topic_answered"]))  # fmt: skip
    console.print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"readme_baseline": baseline, "grid": grid, "threshold_sweep": sweep}, indent=2))
    console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
