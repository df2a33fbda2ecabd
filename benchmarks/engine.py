"""The search engine at 1k to 1M passages, side by side with rank-bm25, the library it follows.

    python benchmarks/engine.py [--sizes 1k,10k,100k,1M] [--questions 200]

For each size: generate a synthetic knowledge folder (benchmarks/generate.py; cached under
benchmarks/.cache, reused while the generator is unchanged), then in a fresh process:

- build the index as the bot does (`bot.engine.build_index`): wall time, split into reading,
  cleaning and splitting the files vs analysing and indexing the passages, and the process's
  peak resident memory (VmHWM from /proc/self/status, interpreter and imports included);
- time every question: the engine's BM25 top 10 alone (`index.bm25.top(terms, 10)`, the
  query already analysed) and the whole answer (`index.search(question)`: analysis, BM25,
  relevance and abstention, excerpts and highlights); p50, p99 and questions per second, one
  question at a time after a warm-up of 5;
- build `rank_bm25.BM25Plus` on the very terms the engine indexed, with the same k1, b and
  delta, and time `get_scores` for the same query terms (rank-bm25 as its README shows, on the
  user's terms), then check that its top 10 (stable sort, so ties go to the earlier passage)
  is the engine's for every question.

Prints the tables with the targets (✓ met, ✗ missed) and writes benchmarks/out/engine.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import generate, generator_version, parse_size, size_label  # noqa: E402

DEFAULT_SIZES = "1k,10k,100k"
DEFAULT_CACHE = ROOT / "benchmarks" / ".cache"
DEFAULT_JSON = ROOT / "benchmarks" / "out" / "engine.json"
TOP = 10
RESULTS = 3  # excerpts per answer: the bot's default (RESULTS setting)
WARMUP = 5
SAME_ANSWER_CHECKS = 50  # questions answered from the index read back, compared with the built one
RANK_BM25_FULL_UP_TO = 200_000  # above this many passages rank-bm25 answers a sample of questions
RANK_BM25_SAMPLE = 20
MIB = 1024 * 1024

# (passages, what, result key, limit): the targets on a 2-core machine.
TARGETS: list[tuple[int, str, str, float]] = [
    (100_000, "answer p50 ≤ 1 ms", "search.p50_ms", 1.0),
    (100_000, "answer p99 ≤ 5 ms", "search.p99_ms", 5.0),
    (100_000, "BM25 top-10 p50 ≤ 1 ms", "bm25_top10.p50_ms", 1.0),
    (100_000, "BM25 top-10 p99 ≤ 5 ms", "bm25_top10.p99_ms", 5.0),
    (1_000_000, "answer p50 ≤ 5 ms", "search.p50_ms", 5.0),
    (1_000_000, "BM25 top-10 p50 ≤ 5 ms", "bm25_top10.p50_ms", 5.0),
    (1_000_000, "build ≤ 60 s", "build_s", 60.0),
    (1_000_000, "peak memory ≤ 2 GiB", "peak_build_mib", 2048.0),
]


# --- the measuring process ------------------------------------------------------------------


def proc_status() -> dict[str, float]:
    """VmRSS and VmHWM (peak resident set) of this process, in MiB."""
    out: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def latency(ns: list[int]) -> dict[str, float]:
    ms = np.array(ns, dtype=np.float64) / 1e6
    return {
        "questions": len(ns),
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "mean_ms": round(float(ms.mean()), 4),
        "max_ms": round(float(ms.max()), 4),
        "qps": round(len(ns) / (ms.sum() / 1000), 1),
    }


def measure(folder: Path, n_questions: int, n_rank: int) -> dict[str, Any]:
    """Build the index for `folder` and time it against rank-bm25 (run in a fresh process)."""
    from rank_bm25 import BM25Plus

    import bot.engine
    import bot.search
    from bot import store
    from bot.search import DEFAULT_MIN_RELEVANCE, DEFAULT_PARAMS

    label = folder.name
    start_status = proc_status()

    def say(message: str) -> None:
        print(f"[{label}] {message}", file=sys.stderr, flush=True)

    # Time the phases of build_index by wrapping what it calls.
    phases: dict[str, float] = {}
    real_load, real_bm25 = bot.engine.load, bot.search.BM25Index

    def timed_load(path: Path, *limit: int) -> Any:
        started = time.perf_counter()
        corpus = real_load(path, *limit)
        phases["load_s"] = time.perf_counter() - started
        return corpus

    class CapturingBM25(real_bm25):  # type: ignore[misc, valid-type]
        def __init__(self, corpus: Any, params: Any = DEFAULT_PARAMS) -> None:
            started = time.perf_counter()
            super().__init__(corpus, params)
            # the corpus is a generator analysing each passage as it goes: this is analysis and arrays
            phases["analyse_bm25_s"] = time.perf_counter() - started

    gc_time = [0.0, 0.0]  # seconds in the garbage collector, start of the current collection

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]

    say("building the index (bot.engine.build_index)")
    bot.engine.load, bot.search.BM25Index = timed_load, CapturingBM25
    gc.callbacks.append(on_gc)
    started = time.perf_counter()
    try:
        index = bot.engine.build_index(folder, DEFAULT_MIN_RELEVANCE)
    finally:
        build_s = time.perf_counter() - started
        gc.callbacks.remove(on_gc)
        bot.engine.load, bot.search.BM25Index = real_load, real_bm25
    built_status = proc_status()
    say(f"built in {build_s:.1f} s, peak RSS {built_status['VmHWM']:.0f} MiB")

    # Start-up with a saved index: fingerprint the folder, then read the index back (bot.store),
    # as the bot does when the knowledge has not changed; the answers must be the same.
    say("saving the index and reading it back (bot.store)")
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as scratch:
        saved = Path(scratch) / "queries.index"
        t0 = time.perf_counter()
        knowledge = store.knowledge_fingerprint(folder)
        fingerprint_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.save(index, saved, knowledge)
        save_s = time.perf_counter() - t0
        saved_mib = saved.stat().st_size / 2**20
        t0 = time.perf_counter()
        restored = store.load(saved, folder, knowledge, DEFAULT_MIN_RELEVANCE)
        read_s = time.perf_counter() - t0
    asked = json.loads((folder / "_questions.json").read_text(encoding="utf-8"))
    restored_same = all(
        restored.search(q["question"], top=RESULTS).hits == index.search(q["question"], top=RESULTS).hits
        for q in asked[:SAME_ANSWER_CHECKS]
    )
    del restored
    gc.collect()

    if len(asked) < n_questions:
        raise SystemExit(f"{folder} has {len(asked)} questions, fewer than the {n_questions} asked for")
    asked = asked[:n_questions]
    questions = [q["question"] for q in asked]
    queries = [index.analyze(q).terms for q in questions]
    for q, terms in zip(questions[:WARMUP], queries, strict=False):
        index.search(q, top=RESULTS)
        index.bm25.top(terms, TOP)

    say(f"timing {n_questions} questions")
    top_ns: list[int] = []
    tops: list[list[tuple[int, float]]] = []
    for terms in queries:
        t0 = time.perf_counter_ns()
        found = index.bm25.top(terms, TOP)
        top_ns.append(time.perf_counter_ns() - t0)
        tops.append(found)
    search_ns: list[int] = []
    answered = own_passage = 0
    answer = None
    for q, meta in zip(questions, asked, strict=True):
        t0 = time.perf_counter_ns()
        answer = index.search(q, top=RESULTS)
        search_ns.append(time.perf_counter_ns() - t0)
        answered += not answer.abstained
        own_passage += any(
            h.passage.article.source == meta["source"] and h.passage.number == meta["passage"] for h in answer.hits
        )

    # What the comparison needs from the engine; then the index goes, to make room for rank-bm25.
    engine_scores = [index.bm25.get_scores(terms) for terms in queries[:n_rank]]
    baselines = [index.bm25.baseline(terms) for terms in queries[:n_rank]]
    # rank-bm25 gets the engine's own terms of each passage (the bot does not keep them; the
    # analyzer is deterministic, so analysing again gives exactly what was indexed).
    tokens = [index.analyzer.terms(p.indexed_text) for p in index.passages]
    params = index.params
    summary = {
        "passages": len(index.passages),
        "articles": len(index.articles),
        "load_problems": len(index.problems),
        "terms": int(index.bm25.doc_len.sum()),
        "vocabulary": len(index.bm25.vocabulary),
        "postings": int(index.bm25.docs.size),
    }
    del index, answer
    gc.collect()

    say(f"building rank_bm25.BM25Plus on the same terms; timing {n_rank} questions with get_scores")
    started = time.perf_counter()
    reference = BM25Plus(tokens, k1=params.k1, b=params.b, delta=params.delta)
    rank_build_s = time.perf_counter() - started
    rank_ns: list[int] = []
    identical = 0
    max_diff = 0.0
    mismatches: list[dict[str, Any]] = []
    for i in range(n_rank):
        terms = list(queries[i])
        t0 = time.perf_counter_ns()
        scores = reference.get_scores(terms)
        rank_ns.append(time.perf_counter_ns() - t0)
        ranked = np.argsort(-scores, kind="stable")[:TOP].tolist()
        ours = [doc for doc, _ in tops[i]]
        # The engine lists only passages that contain a query term; when fewer than 10 do,
        # rank-bm25's remaining places must go to passages that contain none.
        same = ranked[: len(ours)] == ours
        if same and len(ours) < TOP:
            same = bool(np.all(engine_scores[i][ranked[len(ours) :]] == baselines[i]))
        identical += same
        if not same and len(mismatches) < 5:
            mismatches.append({"question": questions[i], "engine": ours, "rank_bm25": ranked})
        max_diff = max(max_diff, float(np.max(np.abs(engine_scores[i] - scores))))
    end_status = proc_status()

    return {
        "size": label,
        "folder": str(folder),
        **summary,
        "build_s": round(build_s, 3),
        "load_s": round(phases.get("load_s", float("nan")), 3),
        "index_s": round(build_s - phases.get("load_s", float("nan")), 3),
        "analyse_bm25_s": round(phases.get("analyse_bm25_s", float("nan")), 3),
        "gc_during_build_s": round(gc_time[0], 3),
        "saved_index": {
            "mib": round(saved_mib, 1),
            "save_s": round(save_s, 3),
            "fingerprint_s": round(fingerprint_s, 3),
            "read_s": round(read_s, 3),
            "same_answers": restored_same,
            "checked": min(len(asked), SAME_ANSWER_CHECKS),
        },
        "rss_before_build_mib": round(start_status["VmRSS"], 1),
        "peak_build_mib": round(built_status["VmHWM"], 1),
        "rss_after_build_mib": round(built_status["VmRSS"], 1),
        "peak_with_rank_bm25_mib": round(end_status["VmHWM"], 1),
        "bm25_top10": latency(top_ns),
        "search": latency(search_ns),
        "answered": answered,
        "own_passage_in_answer": own_passage,
        "rank_bm25": {**latency(rank_ns), "build_s": round(rank_build_s, 3)} if rank_ns else None,
        "top10_identical": identical,
        "top10_compared": n_rank,
        "max_abs_score_diff": max_diff,
        "mismatches": mismatches,
    }


# --- the driver -------------------------------------------------------------------------------


def knowledge_folder(cache: Path, passages: int, seed: int, questions: int, console: Console) -> Path:
    """The generated folder for this size and seed, made unless the cache has it."""
    version = generator_version()
    label = size_label(passages)
    folder = cache / f"kb-{label}-seed{seed}-{version}"
    manifest = folder / "_manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("requested_passages") == passages and data.get("questions", 0) >= questions:
            return folder
    for stale in cache.glob(f"kb-{label}-seed{seed}-*"):  # an older generator's output
        if stale != folder and stale.is_dir():
            shutil.rmtree(stale)
    console.print(f"generating {label} passages into {folder} ...")
    made = generate(folder, passages, seed=seed, questions=max(questions, 500))
    console.print(f"  {made['passages']:,} passages in {made['files']:,} files, {made['seconds']} s")
    return folder


def run_worker(folder: Path, questions: int, rank_questions: int) -> dict[str, Any]:
    """Measure one folder in a fresh process; its peak RSS comes from the kernel (wait4)."""
    with tempfile.TemporaryDirectory() as tmp:
        result_path = Path(tmp) / "result.json"
        command = [sys.executable, __file__, "--worker", str(folder), "--result", str(result_path)]
        command += ["--questions", str(questions), "--rank-questions", str(rank_questions)]
        process = subprocess.Popen(command, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"measuring {folder} failed (exit code {process.returncode})")
        result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    result["peak_process_mib"] = round(usage.ru_maxrss / 1024, 1)  # ru_maxrss is in KiB on Linux
    return result


def machine() -> dict[str, Any]:
    cpu = ""
    mem_total = None
    try:
        models = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
        cpu = models[0].split(":", 1)[1].strip() if models else ""
        meminfo = Path("/proc/meminfo").read_text().split()
        mem_total = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / MIB, 1)
    except (OSError, ValueError):
        pass
    return {
        "cpu": cpu or platform.processor(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": mem_total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rank_bm25": metadata.version("rank-bm25"),
        "pystemmer": metadata.version("PyStemmer"),
    }


def lookup(result: dict[str, Any], key: str) -> float | None:
    value: Any = result
    for part in key.split("."):
        if not isinstance(value, dict) or value.get(part) is None:
            return None
        value = value[part]
    return float(value)


def check_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    checked = []
    for result in results:
        for passages, what, key, limit in TARGETS:
            if result["requested_passages"] != passages:
                continue
            value = lookup(result, key)
            checked.append(
                {
                    "size": result["size"],
                    "target": what,
                    "key": key,
                    "limit": limit,
                    "value": value,
                    "met": value is not None and value <= limit,
                }
            )
    return checked


def mark(result: dict[str, Any], key: str, text: str, targets: list[dict[str, Any]]) -> str:
    """The figure, followed by ✓ or ✗ and the limit when a target applies to it."""
    for t in targets:
        if t["size"] == result["size"] and t["key"] == key:
            return f"{text} [green]✓[/]≤{t['limit']:g}" if t["met"] else f"{text} [red]✗[/]≤{t['limit']:g}"
    return text


def print_tables(console: Console, results: list[dict[str, Any]], targets: list[dict[str, Any]]) -> None:
    build = Table(title="Index build (bot.engine.build_index), one fresh process per size")
    for col in ("size", "passages", "articles", "terms", "build s", "read+clean s", "analyse+index s", "peak MiB"):
        build.add_column(col, justify="right")
    for r in results:
        peak = mark(r, "peak_build_mib", f"{r['peak_build_mib']:,.0f}", targets)
        build.add_row(
            r["size"],
            f"{r['passages']:,}",
            f"{r['articles']:,}",
            f"{r['terms']:,}",
            mark(r, "build_s", f"{r['build_s']:.2f}", targets),
            f"{r['load_s']:.2f}",
            f"{r['index_s']:.2f}",
            peak,
        )
    console.print(build)

    saved = Table(title="Start-up from the saved index (bot.store): the knowledge unchanged, nothing re-indexed")
    for col in ("size", "file MiB", "save s", "fingerprint folder s", "read back s", "start-up s", "same answers"):
        saved.add_column(col, justify="right")
    for r in results:
        si = r["saved_index"]
        saved.add_row(
            r["size"],
            f"{si['mib']:,.1f}",
            f"{si['save_s']:.2f}",
            f"{si['fingerprint_s']:.2f}",
            f"{si['read_s']:.2f}",
            f"{si['fingerprint_s'] + si['read_s']:.2f}",
            f"{si['checked']}/{si['checked']}" if si["same_answers"] else "[red]differ[/]",
        )
    console.print(saved)

    questions = Table(title="Question latency, one question at a time (ms; q/s = questions per second)")
    for col in ("size", "method", "questions", "p50 ms", "p99 ms", "q/s", "top-10 = rank-bm25"):
        questions.add_column(col, justify="right")
    for r in results:
        rank = r["rank_bm25"]
        rows = [
            ("engine BM25 top-10", "bm25_top10", r["bm25_top10"], ""),
            ("engine full answer", "search", r["search"], ""),
        ]
        if rank:
            sample = "" if rank["questions"] == r["search"]["questions"] else " (sample)"
            rows.append(
                (f"rank-bm25 get_scores{sample}", "rank_bm25", rank, f"{r['top10_identical']}/{r['top10_compared']}")
            )
        for i, (name, key, figures, same) in enumerate(rows):
            questions.add_row(
                r["size"] if i == 0 else "",
                name,
                str(figures["questions"]),
                mark(r, f"{key}.p50_ms", f"{figures['p50_ms']:.3f}", targets),
                mark(r, f"{key}.p99_ms", f"{figures['p99_ms']:.3f}", targets),
                f"{figures['qps']:,.0f}",
                same,
                end_section=i == len(rows) - 1,
            )
    console.print(questions)

    if targets:
        table = Table(title="Targets (2-core machine)")
        for col in ("size", "target", "measured", "met"):
            table.add_column(col, justify="right")
        for t in targets:
            value = "—" if t["value"] is None else f"{t['value']:,.3f}"
            table.add_row(t["size"], t["target"], value, "[green]✓[/]" if t["met"] else "[red]✗[/]")
        console.print(table)
    for r in results:
        rank = r["rank_bm25"]
        speedup = f", {rank['p50_ms'] / r['bm25_top10']['p50_ms']:,.0f}x rank-bm25's p50" if rank else ""
        console.print(
            f"{r['size']}: {r['answered']}/{r['search']['questions']} questions answered, "
            f"{r['own_passage_in_answer']} with the passage they were made from; "
            f"engine BM25 top-10{speedup}; largest score difference {r['max_abs_score_diff']:.1e}; "
            f"peak RSS with rank-bm25 loaded {r['peak_process_mib']:,.0f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"passages per folder (default {DEFAULT_SIZES})")
    parser.add_argument("--questions", type=int, default=200, help="questions timed per size (default 200)")
    parser.add_argument(
        "--rank-questions",
        type=int,
        default=None,
        help=f"questions for rank-bm25 (default: all up to {RANK_BM25_FULL_UP_TO:,} passages, then {RANK_BM25_SAMPLE})",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where generated folders are kept")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        result = measure(args.worker, args.questions, args.rank_questions)
        args.result.write_text(json.dumps(result), encoding="utf-8")
        return

    console = Console(width=None if sys.stdout.isatty() else 160)
    results = []
    for size in args.sizes.split(","):
        passages = parse_size(size.strip())
        folder = knowledge_folder(args.cache, passages, args.seed, args.questions, console)
        rank_questions = args.rank_questions
        if rank_questions is None:
            rank_questions = args.questions if passages <= RANK_BM25_FULL_UP_TO else RANK_BM25_SAMPLE
        result = run_worker(folder, args.questions, min(rank_questions, args.questions))
        result["size"] = size_label(passages)
        result["requested_passages"] = passages
        results.append(result)
    targets = check_targets(results)
    print_tables(console, results, targets)
    report = {
        "benchmark": "engine",
        "command": " ".join(["python", "benchmarks/engine.py", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            "seed": args.seed,
            "generator": generator_version(),
            "questions": args.questions,
            "top": TOP,
            "answer_results": RESULTS,
            "warmup_questions": WARMUP,
            "peak_memory": "VmHWM of the measuring process after build_index (interpreter and imports included)",
        },
        "results": results,
        "targets": targets,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
