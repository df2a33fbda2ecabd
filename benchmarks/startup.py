"""Start-up: the time from starting the bot to its first answer, with a saved index and without.

    python benchmarks/startup.py [--passages 100k | --knowledge DIR] [--cache benchmarks/.cache]
                                 [--scenarios cold,warm,stale,corrupt,truncated] [--json benchmarks/out/startup.json]

Each scenario starts the real bot afresh, `python -m bot serve --http` in its own process (LOG_LEVEL=WARNING, a
fresh query log), on a mirror of the knowledge folder (see reload_load.py: the generated folder for `--passages`,
from the same cache as benchmarks/engine.py, or `--knowledge`), with INDEX_PATH=<temporary folder>/index.bin and
SAVE_INDEX=true. The saved index is shared by the runs, in order:

- cold: no saved index (the file is removed if there is one);
- warm: the index the cold run left;
- stale: one article changed (a paragraph added to the folder's first article file), the saved index as the warm
  run left it;
- corrupt: one byte in the middle of the saved index flipped;
- truncated: the saved index cut to half its length.

From the moment the process is started this process polls /healthz every 50 ms and sends a signed `app_mention`
question every 100 ms until one is acknowledged, then waits for its answer (`chat.postMessage` at the fake Slack):
"healthy" and "first answer" are measured from the start. Then it asks about the words of the paragraph the stale
scenario adds: the bot must abstain before that change and answer from the changed article after it ("answers
from the current knowledge"), which shows whether a stale saved index was used. The bot then gets SIGTERM and its
query log must hold a row for each answer. The saved index's size and whether the run wrote it are reported.

No time has a target (the issue sets none): the table shows the times, so that a saved index's gain, and that a
bad one is rebuilt (costing a full build) rather than used, can be read off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console, JustifyMethod
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from reload_load import bot_settings, knowledge_arguments, mirror, read_questions, source_folder  # noqa: E402
from slack_load import (  # noqa: E402
    Ask,
    BotFailed,
    BotProcess,
    CpuMark,
    Sender,
    bot_process,
    cpu_use,
    machine,
    match_answers,
    mention,
    peak_memory_mib,
    print_bot_warnings,
    read_log,
    sleep_until,
    stop,
    wait_healthy,
    warnings_in,
    write_json,
)

from tests.fakeslack import FakeSlack  # noqa: E402

SCENARIOS = ("cold", "warm", "stale", "corrupt", "truncated")
ASK_EVERY = 0.05  # seconds between questions until one is acknowledged
HEALTH_EVERY = 0.02  # seconds between /healthz polls
ANSWER_TIMEOUT = 60.0  # from the acknowledgement to the answer
ASKER = "U0000001"
# The stale scenario adds this paragraph to one article. Its words are in no other article, so the question
# below is answered from that article once the bot has read the change, and abstained on before.
MARKER_PARAGRAPH = (
    "The zorblaxite quintplume review, added by the start-up benchmark, found that the zorblaxite quintplume "
    "register had been kept up to date by every commissioner who was asked about it during the year."
)
MARKER_QUESTION = "What did the zorblaxite quintplume review find?"
# Bolt says this at every start, as the bot hands it a ready Web API client: not a sign of trouble.
BOLT_NOTICE = "`token` will be unused"


def file_state(path: Path) -> dict[str, Any]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {"exists": False}
    return {"exists": True, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def slug(source: str) -> str:
    """The first part of the ids the bot gives an article's passages ("d0000/00012_4822.txt" -> "d0000-00012-4822"),
    as bot.corpus makes them."""
    return re.sub(r"[^a-z0-9]+", "-", source.rsplit(".", 1)[0].lower()).strip("-")


def first_article(knowledge: Path) -> Path:
    """The first article file of the folder, in the order the bot reads them."""
    for path in sorted(knowledge.rglob("*")):
        parts = path.relative_to(knowledge).parts
        if path.suffix in (".txt", ".md") and parts != ("synonyms.txt",) and not any(p[0] in "._" for p in parts):
            return path
    raise SystemExit(f"{knowledge} has no article file")


def prepare(scenario: str, knowledge: Path, index: Path) -> str:
    """Put the knowledge mirror and the saved index in the state the scenario needs; what was done, in words."""
    saved = index.exists()
    if scenario == "cold":
        index.unlink(missing_ok=True)
        return "removed" if saved else "none"
    if scenario == "warm":
        return "as the last run left it" if saved else "none: the last run saved none"
    if scenario == "stale":
        article = first_article(knowledge)
        text = article.read_text(encoding="utf-8")
        article.unlink()  # a link to the original: the changed copy replaces it, the original is not touched
        article.write_text(f"{text.rstrip()}\n\n{MARKER_PARAGRAPH}\n", encoding="utf-8")
        change = f"{article.relative_to(knowledge).as_posix()} changed"
        return f"{change}; index as the last run left it" if saved else f"{change}; none saved"
    if not saved:
        return f"none: nothing to {'corrupt' if scenario == 'corrupt' else 'truncate'}"
    size = index.stat().st_size
    if scenario == "corrupt":
        with index.open("r+b") as f:
            f.seek(size // 2)
            byte = f.read(1)
            f.seek(size // 2)
            f.write(bytes([byte[0] ^ 0xFF]))
        return f"byte {size // 2:,} of {size:,} flipped"
    if scenario == "truncated":
        with index.open("r+b") as f:
            f.truncate(size // 2)
        return f"cut to {size // 2:,} of {size:,} bytes"
    raise ValueError(f"unknown scenario {scenario!r}")


async def first_answer(bot: BotProcess, slack: FakeSlack, question: str, timeout: float) -> tuple[list[Ask], int]:
    """Ask `question` every ASK_EVERY seconds from the bot's start until one is acknowledged, and wait for its
    answer. Returns the questions sent (the last was acknowledged) and how many could not be delivered."""
    asks: list[Ask] = []
    async with Sender(bot, 4) as sender:
        while True:
            if bot.process.returncode is not None:
                raise BotFailed(f"the bot exited with status {bot.process.returncode}:\n{bot.output.read_text()}")
            if time.monotonic() - bot.spawned > timeout:
                raise BotFailed(f"the bot did not take a question within {timeout:.0f} s:\n{bot.output.read_text()}")
            ask, body = mention(len(asks), question, ASKER, due=bot.spawned + len(asks) * ASK_EVERY)
            await sleep_until(ask.due)
            await sender.post(ask, body)
            asks.append(ask)
            if ask.status == "200":
                break
    await slack.wait_for("chat.postMessage", 1, timeout=ANSWER_TIMEOUT)
    return asks, len(asks) - 1


async def ask_once(bot: BotProcess, slack: FakeSlack, question: str, answers: int) -> Ask:
    """One question, and wait until the bot has posted `answers` answers in all."""
    async with Sender(bot, 1) as sender:
        ask, body = mention(0, question, ASKER, due=time.monotonic())
        await sender.post(ask, body)
    if ask.status == "200":
        await slack.wait_for("chat.postMessage", answers, timeout=ANSWER_TIMEOUT)
    return ask


def logged(path: Path, thread_ts: str) -> dict[str, Any] | None:
    """The query log's row for the question asked in thread `thread_ts`."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT abstained, results FROM queries WHERE thread_ts = ?", (thread_ts,)).fetchone()
    return None if row is None else {"abstained": bool(row[0]), "results": json.loads(row[1])}


async def start_once(
    scenario: str, knowledge: Path, folder: Path, questions: list[str], marker: tuple[str, bool], timeout: float
) -> dict[str, Any]:
    """One start of the bot: healthy, first answer, the marker question, SIGTERM, the log. `marker` is the
    article the stale scenario changes, and whether it has been changed."""
    run = folder / scenario
    run.mkdir()
    index = folder / "index.bin"
    async with FakeSlack() as slack, bot_process(
        slack, knowledge, run, env=bot_settings(folder), start_timeout=timeout, wait=False
    ) as bot:  # fmt: skip
        at_start = CpuMark.now(bot)
        healthy = asyncio.create_task(wait_healthy(bot, timeout, every=HEALTH_EVERY))
        try:
            asks, refused = await first_answer(bot, slack, questions[0], timeout)
        except BaseException:
            healthy.cancel()
            raise
        healthy_at = await healthy  # within HEALTH_EVERY of the first answer: the bot is listening
        first = slack.calls("chat.postMessage")[0]
        at_answer = CpuMark.now(bot)
        asked = await ask_once(bot, slack, MARKER_QUESTION, answers=2)
        peak = peak_memory_mib(bot.process.pid)
        exit_status, stop_seconds = await stop(bot)
        output = bot.output.read_bytes().decode("utf-8", "replace")
        posts = slack.calls("chat.postMessage")
    delivered = [a for a in [*asks, asked] if a.status == "200"]
    match_answers(delivered, posts)
    log = read_log(run / "queries.db")
    answered = {a.ts for a in delivered if not math.isnan(a.answered)}
    row = logged(run / "queries.db", asked.ts)
    changed_article, marker_in_knowledge = marker
    found = row is not None and not row["abstained"]
    found = found and any(r["passage"].startswith(f"{slug(changed_article)}-") for r in row["results"])
    warnings = [line for line in warnings_in(output) if BOLT_NOTICE not in line]
    return {
        "scenario": scenario,
        "healthy_seconds": round(healthy_at - bot.spawned, 3),
        "first_answer_seconds": round(first.at - bot.spawned, 3),
        "first_answer_latency_ms": round((first.at - asks[-1].sent) * 1000, 1),
        "questions_refused_before_listening": refused,
        "cpu_percent_until_first_answer": cpu_use(at_start, at_answer),
        "bot_cpu_seconds_until_first_answer": None if math.isnan(at_answer.bot) else round(at_answer.bot, 2),
        "peak_memory_mib": peak,
        "current_knowledge": {
            "question": MARKER_QUESTION,
            "article": changed_article,
            "marker_in_knowledge": marker_in_knowledge,
            "answered_from_marker": found,
            "ok": found == marker_in_knowledge,
        },
        "saved_index_after": file_state(index),
        "log": {
            "rows": log["rows"],
            "answers_posted": len(answered),
            "lost_log_rows": len(answered - log["threads"]),
            "errors": log["errors"],
        },
        "bot": {
            "exit_status": exit_status,
            "stop_seconds": round(stop_seconds, 2),
            "warnings_or_errors": len(warnings),
            "warnings_tail": warnings[-10:],
        },
    }


async def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    source, name = source_folder(args, console)
    questions = read_questions(source, args.questions)
    info = machine()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    runs = []
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        folder = Path(tmp)
        knowledge = folder / "knowledge"
        files = mirror(source, knowledge)
        index = folder / "index.bin"
        article = first_article(knowledge).relative_to(knowledge).as_posix()
        changed = False
        for scenario in args.scenarios:
            saved = prepare(scenario, knowledge, index)
            changed = changed or scenario == "stale"
            before = file_state(index)
            console.print(f"{scenario}: saved index {saved}; starting the bot on {name} ...", style="dim")
            result = await start_once(scenario, knowledge, folder, questions, (article, changed), args.start_timeout)
            after = result["saved_index_after"]
            written = after["exists"] and (not before["exists"] or after != before)
            result["saved_index_before"] = before | {"state": saved}
            result["saved_index_after"] = after | {"written": written}
            healthy, answered = result["healthy_seconds"], result["first_answer_seconds"]
            console.print(f"  healthy in {healthy:.2f} s, first answer in {answered:.2f} s", style="dim")
            runs.append(result)
    return {
        "config": {
            "knowledge": name,
            "files": files,
            "scenarios": list(args.scenarios),
            "first_question": questions[0],
            "ask_every_seconds": ASK_EVERY,
            "health_every_seconds": HEALTH_EVERY,
            "bot": "python -m bot serve --http, LOG_LEVEL=WARNING, INDEX_PATH=<tmp>/index.bin, SAVE_INDEX=true, "
            "a fresh process and query log per scenario",
        },
        "runs": runs,
        "saved_index_seen": any(r["saved_index_after"]["exists"] for r in runs),
        "started_at": started_at,
        "machine": info,
    }


def _figure(value: float | None, form: str) -> str:
    return "-" if value is None else form.format(value)


def table(result: dict[str, Any]) -> Table:
    def size(state: dict[str, Any]) -> str:
        return f"{state['bytes'] / 2**20:,.1f} MiB" if state.get("exists") else "none"

    t = Table(title=f"Start-up to first answer: {result['config']['knowledge']}, bot in HTTP mode")
    columns: list[tuple[str, JustifyMethod]] = [
        ("scenario", "left"),
        ("saved index at start", "left"),
        ("healthy (s)", "right"),
        ("first answer (s)", "right"),
        ("answers from the current knowledge", "center"),
        ("saved index after", "right"),
        ("bot peak MiB", "right"),
        ("bot CPU s / others", "right"),
        ("lost log rows", "right"),
    ]
    for name, justify in columns:
        t.add_column(name, justify=justify)
    for r in result["runs"]:
        before, after, cpu = r["saved_index_before"], r["saved_index_after"], r["cpu_percent_until_first_answer"]
        state = before["state"] if not before["exists"] else f"{size(before)}: {before['state']}"
        knowledge = r["current_knowledge"]
        answered = "answered" if knowledge["answered_from_marker"] else "abstained"
        t.add_row(
            r["scenario"],
            state,
            f"{r['healthy_seconds']:,.2f}",
            f"{r['first_answer_seconds']:,.2f}",
            f"{'[green]✓[/green]' if knowledge['ok'] else '[red]✗[/red]'} {answered}",
            f"{size(after)}{', written' if after.get('written') else ''}",
            _figure(r["peak_memory_mib"], "{:,.0f}"),
            f"{_figure(r['bot_cpu_seconds_until_first_answer'], '{:,.1f}')} / {_figure(cpu['others'], '{:.0f}%')}",
            f"{r['log']['lost_log_rows']:,}",
        )
    return t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    knowledge_arguments(parser)
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"which starts, in order (default {','.join(SCENARIOS)})",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "startup.json")
    args = parser.parse_args()
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown or not args.scenarios:
        parser.error(f"--scenarios: choose from {', '.join(SCENARIOS)}")
    console = Console()
    try:
        result = asyncio.run(run(args, console))
    except BotFailed as exc:
        Console(stderr=True).print(f"error: {exc}", style="red", markup=False, highlight=False)
        return 2
    console.print(table(result))
    if not result["saved_index_seen"]:
        console.print(
            "No run left a saved index at INDEX_PATH: every start built the index from the files.", style="yellow"
        )
    for r in result["runs"]:
        print_bot_warnings(console, r["bot"], f"{r['scenario']}: the bot")
    write_json(args.json, result, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
