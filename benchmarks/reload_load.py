"""Reload under load: the real bot re-indexes a large knowledge folder while questions keep coming.

    python benchmarks/reload_load.py [--passages 100k | --knowledge DIR] [--cache benchmarks/.cache] [--rate 20]
                                     [--before-seconds 10] [--after-seconds 5] [--unchanged]
                                     [--json benchmarks/out/reload_load.json]

The bot runs as an operator runs it, `python -m bot serve --http`, in its own process (LOG_LEVEL=WARNING, a
fresh query log, ADMIN_USER_IDS naming the benchmark's admin, INDEX_PATH and SAVE_INDEX=true in a temporary
folder). Its KNOWLEDGE_DIR is a mirror of the chosen folder (the generated one for `--passages`, from the same
cache as benchmarks/engine.py, or `--knowledge`): real folders holding a hard link to every file (a copy across
file systems; the bot reads no symbolic link leading out of its folder), so the benchmark can add a file
without touching the original.

This process plays Slack (tests/fakeslack.py): signed `app_mention` events at `--rate` a second on a fixed,
open-loop schedule, questions from the folder's `_questions.json` (tests/questions.yaml when it has none).
After a warm-up and `--before-seconds`, one small article (`zz_reload_bench_<pid>.txt`) is added to the mirror,
so the knowledge has changed and the reload has to index it whatever a saved index allows, and an admin sends
`/ask-admin reload` as a signed slash command. The reload window runs from that request to the reload's reply
reaching the fake Slack's response_url; questions keep coming through it and for `--after-seconds` after.

Reported for the questions sent before, during and after the reload: latency (request sent to the answer's
`chat.postMessage`) p50/p90/p99/max, answered/sent, CPU; for the reload: its duration, its reply, the index
version and passages before and after (from /healthz), and the lost log rows after SIGTERM, as in
slack_load.py. Target, marked ✓/✗: p99 ≤ 50 ms for the questions sent during the reload, every one answered.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import gc
import json
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine import DEFAULT_CACHE, knowledge_folder  # noqa: E402
from generate import parse_size, size_label  # noqa: E402
from slack_load import (  # noqa: E402
    ACK_TIMEOUT,
    USERS,
    Ask,
    BotFailed,
    BotProcess,
    CpuMark,
    Sender,
    bot_process,
    cpu_use,
    health,
    machine,
    match_answers,
    mention,
    peak_memory_mib,
    print_warnings,
    read_log,
    sleep_until,
    stop,
    summary_ms,
    wait_answers,
    warnings_in,
    write_json,
)

from bot.evaluate import parse_questions  # noqa: E402
from tests.fakeslack import FORM, RESPONSE_URL, Call, FakeSlack, form_body, slash_command_form  # noqa: E402

TARGET_P99_MS = 50.0  # questions sent while the reload runs
DEFAULT_PASSAGES = "100k"
ADMIN = "UBENCHADMIN"  # the admin who asks for the reload (ADMIN_USER_IDS in the bot's environment)
START_TIMEOUT = 900.0  # the bot builds its index before it listens: about 80 s at 100k passages
RELOAD_TIMEOUT = 1800.0  # request to reply
PROGRESS = "Reloading the knowledge base"  # the bot's first reply to /ask-admin reload; the second is the outcome
ADDED_PREFIX = "zz_reload_bench_"
ADDED_ARTICLE = """Reload benchmark notice

Published 1 May 2024

This short article was added by the reload benchmark just before it asked the bot to reload, so that the
knowledge folder has changed and the reload has something new to index. Commissioners reviewing the quarterly
figures should read it as a test notice only: it describes no policy, no budget and no service.
"""


# --- the knowledge folder, shared with startup.py -----------------------------------------------


def knowledge_arguments(parser: argparse.ArgumentParser, default_passages: str = DEFAULT_PASSAGES) -> None:
    parser.add_argument(
        "--passages",
        default=default_passages,
        help=f"size of the generated folder, e.g. 1k, 100k (default {default_passages})",
    )
    parser.add_argument("--knowledge", type=Path, help="a knowledge folder to use instead of a generated one")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where generated folders are kept")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument(
        "--questions",
        type=Path,
        help="questions: a YAML set or a _questions.json (default: the folder's _questions.json, "
        "else tests/questions.yaml)",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=START_TIMEOUT,
        help=f"seconds the bot may take to build its index and listen (default {START_TIMEOUT:g})",
    )


def source_folder(args: argparse.Namespace, console: Console) -> tuple[Path, str]:
    """The knowledge folder the arguments name, generated unless the cache has it; and how to call it."""
    if args.knowledge is not None:
        if not args.knowledge.is_dir():
            raise SystemExit(f"--knowledge {args.knowledge}: not a folder")
        return args.knowledge.resolve(), str(args.knowledge)
    passages = parse_size(args.passages)
    return knowledge_folder(args.cache, passages, args.seed, 0, console), f"{size_label(passages)} passages"


def read_questions(folder: Path, given: Path | None) -> list[str]:
    path = given or folder / "_questions.json"
    if given is None and not path.is_file():
        path = ROOT / "tests" / "questions.yaml"
    text = path.read_text(encoding="utf-8")
    questions = [q["question"] for q in json.loads(text)] if path.suffix == ".json" else [
        q.q for q in parse_questions(text)
    ]  # fmt: skip
    if not questions:
        raise SystemExit(f"{path} holds no questions")
    return questions


def mirror(source: Path, target: Path) -> int:
    """Make `target` a mirror of `source`: the same folders, a hard link to each file (a copy where the two are
    on different file systems). Returns the files.

    The bot reads the mirror as it would the folder (it reads no symbolic link that leads out of its folder),
    and the benchmark can add files to it, or replace one (unlink, then write), without copying a large folder
    or touching the original."""
    source = source.resolve()
    files = 0
    for top, folders, names in os.walk(source):
        here = target / Path(top).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        folders.sort()
        for name in sorted(names):
            try:
                os.link(Path(top) / name, here / name)
            except OSError:  # another file system, or one without hard links
                shutil.copy2(Path(top) / name, here / name)
            files += 1
    return files


def bot_settings(folder: Path, **more: str) -> dict[str, str]:
    """Settings for the bot besides slack_load's: a saved index in `folder` (INDEX_PATH, SAVE_INDEX)."""
    return {"INDEX_PATH": str(folder / "index.bin"), "SAVE_INDEX": "true"} | more


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Reload:
    """The admin's `/ask-admin reload`: the request (an Ask), its replies, and CPU marks around it."""

    request: Ask
    added: str | None = None  # the article file added to the mirror just before, if any
    reply: Call | None = None  # the reply that is not the progress note
    progress: Call | None = None
    health_before: dict[str, Any] = field(default_factory=dict)
    health_after: dict[str, Any] = field(default_factory=dict)
    marks: dict[str, CpuMark] = field(default_factory=dict)  # "before", "sent", "done"

    @property
    def done(self) -> float:
        return self.reply.at if self.reply is not None else math.nan


async def admin_reload(
    bot: BotProcess, slack: FakeSlack, sender: Sender, knowledge: Path, reload: Reload, warmup: float, change: bool
) -> Reload:
    """At the end of the warm-up mark the CPU; at the reload's time change the knowledge, send the slash
    command and wait for the reload's reply at the response_url."""
    await sleep_until(warmup)
    reload.marks["before"] = CpuMark.now(bot)
    reload.health_before = await index_facts(bot)
    await sleep_until(reload.request.due - 0.05)
    if change:
        reload.added = f"{ADDED_PREFIX}{os.getpid()}.txt"
        (knowledge / reload.added).write_text(ADDED_ARTICLE, encoding="utf-8")
    await sleep_until(reload.request.due)
    url = slack.response_url()
    fields = slash_command_form("reload", response_url=url, command="/ask-admin", user_id=ADMIN)
    reload.marks["sent"] = CpuMark.now(bot)
    acked = sender.post(reload.request, form_body(fields), FORM)
    path = urlparse(url).path
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while time.monotonic() < deadline and reload.reply is None:
        for call in slack.calls(RESPONSE_URL):
            if call.path != path:
                continue
            if str(call.params.get("text", "")).startswith(PROGRESS):
                reload.progress = reload.progress or call
            else:
                reload.reply = call
                break
        if acked.done() and reload.request.status not in ("200", "timeout"):
            break  # the bot refused the command: no reply will come (after a timed-out ack one still may)
        await asyncio.sleep(0.02)
    reload.marks["done"] = CpuMark.now(bot)
    reload.health_after = await index_facts(bot)
    return reload


async def index_facts(bot: BotProcess) -> dict[str, Any]:
    """The bot's index version, articles and passages from /healthz; {} if it does not answer in time (a bot
    that has fallen far behind answers that late)."""
    try:
        return await health(bot, timeout=60)
    except (aiohttp.ClientError, TimeoutError):
        return {}


async def drive(
    bot: BotProcess, slack: FakeSlack, knowledge: Path, questions: list[str], args: argparse.Namespace
) -> tuple[list[Ask], Reload, float, CpuMark]:
    """Questions at `args.rate` from the start until `args.after_seconds` after the reload's reply, the reload
    itself after the warm-up and `args.before_seconds`. Returns the questions, the reload, the schedule's start
    and a CPU mark at the end of sending."""
    pick = random.Random(1)
    asks: list[Ask] = []
    async with Sender(bot, args.concurrency) as sender:
        start = time.monotonic() + 0.2
        due = start + args.warmup_seconds + args.before_seconds
        reload = Reload(Ask(-1, "/ask-admin reload", ts="", due=due))
        reloading = asyncio.create_task(
            admin_reload(bot, slack, sender, knowledge, reload, start + args.warmup_seconds, not args.unchanged)
        )
        end = math.inf
        n = 0
        try:
            while start + n / args.rate < end:
                question = pick.choice(questions)
                ask, body = mention(n, question, f"U{pick.randrange(USERS):06d}", due=start + n / args.rate)
                asks.append(ask)
                await sleep_until(ask.due)
                sender.post(ask, body)
                n += 1
                if reloading.done() and end == math.inf:
                    reloading.result()  # an exception in the reload ends the run here
                    end = (reload.done if reload.reply else time.monotonic()) + args.after_seconds
        finally:
            reloading.cancel()
        final = CpuMark.now(bot)
        await sender.drain()
    await wait_answers(slack, len(asks))
    return asks, reload, start, final


async def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    source, name = source_folder(args, console)
    questions = read_questions(source, args.questions)
    info = machine()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="reload-load-") as tmp:
        folder = Path(tmp)
        knowledge = folder / "knowledge"
        files = mirror(source, knowledge)
        env = bot_settings(folder, ADMIN_USER_IDS=ADMIN)
        console.print(f"starting the bot on {name} ({files:,} files): it builds its index first", style="dim")
        async with FakeSlack() as slack, bot_process(
            slack, knowledge, folder, env=env, start_timeout=args.start_timeout
        ) as bot:  # fmt: skip
            start_seconds = time.monotonic() - bot.spawned
            console.print(
                f"bot pid {bot.process.pid} at {bot.url}, up in {start_seconds:.1f} s; sending {args.rate:g} "
                f"questions/s, reload after {args.warmup_seconds + args.before_seconds:g} s",
                style="dim",
                highlight=False,
            )
            gc.disable()  # as in slack_load.py: the fake Slack's growing record must not pause the load generator
            try:
                asks, reload, start, final = await drive(bot, slack, knowledge, questions, args)
            finally:
                gc.enable()
            peak = peak_memory_mib(bot.process.pid)
            exit_status, stop_seconds = await stop(bot)
            output = bot.output.read_bytes()[bot.started_output :].decode("utf-8", "replace")
            posts = slack.calls("chat.postMessage")
        match_answers(asks, posts)
        log = read_log(folder / "queries.db")
    bot_facts = {
        "start_seconds": round(start_seconds, 2),
        "peak_memory_mib": peak,
        "exit_status": exit_status,
        "stop_seconds": round(stop_seconds, 2),
    }
    result = report(args, name, files, asks, reload, start, final, log, bot_facts, output)
    return result | {"started_at": started_at, "questions": {"distinct": len(questions)}, "machine": info}


def phase(asks: list[Ask], marks: tuple[CpuMark, CpuMark], began: float, ended: float) -> dict[str, Any]:
    """The questions sent from `began` until `ended` (time.monotonic, inf for the rest): how many, answered,
    how fast; CPU use and length between the two marks."""
    sent = [a for a in asks if began <= a.sent < ended]
    answered = [a for a in sent if not math.isnan(a.answered)]
    return {
        "seconds": round(marks[1].at - marks[0].at, 2),
        "sent": len(sent),
        "answered": len(answered),
        "acks": dict(sorted(collections.Counter(a.status for a in sent).items())),
        "schedule_lag_ms": summary_ms([a.sent - a.due for a in sent]),
        "latency_ms": summary_ms([a.latency for a in answered]),
        "ack_latency_ms": summary_ms([a.ack_latency for a in sent if a.status == "200"]),
        "cpu_percent": cpu_use(*marks),
        # when the slowest answers were asked, to tell a slow stretch of the reload from noise
        "slowest": [
            {"sent_after_s": round(a.sent - began, 2), "latency_ms": round(a.latency * 1000, 1)}
            for a in sorted(answered, key=lambda a: a.latency)[-10:]
        ],
    }


def reload_seconds(reply: Call | None) -> float | None:
    """The bot's own timing of the reload, from its reply ("*Knowledge base reloaded* in 81.2 s: ...")."""
    if reply is None:
        return None
    found = re.search(r"reloaded\* in ([\d.]+) s", json.dumps(reply.params.get("blocks", [])))
    return float(found.group(1)) if found else None


def report(
    args: argparse.Namespace,
    name: str,
    files: int,
    asks: list[Ask],
    reload: Reload,
    start: float,
    final: CpuMark,
    log: dict[str, Any],
    bot: dict[str, Any],
    output: str,
) -> dict[str, Any]:
    sent_at, done = reload.request.sent, reload.done
    marks = reload.marks
    phases = {
        "before": phase(asks, (marks["before"], marks["sent"]), start + args.warmup_seconds, sent_at),
        "during": phase(asks, (marks["sent"], marks["done"]), sent_at, done if reload.reply else math.inf),
        "after": phase(asks, (marks["done"], final), done, math.inf) if reload.reply else None,
    }
    during = phases["during"]
    answered = [a for a in asks if not math.isnan(a.answered)]
    answered_threads = {a.ts for a in answered}
    lost = len(answered_threads - log["all_threads"])
    # Answers the fake Slack received whose row says the reply failed: the bot gave up waiting for Slack's answer.
    failed_yet_posted = len((answered_threads & log["all_threads"]) - log["threads"])
    text = str(reload.reply.params.get("text", "")) if reload.reply else None
    ok = text is not None and text.startswith("Knowledge base reloaded")
    before, after = reload.health_before, reload.health_after
    warnings = warnings_in(output)
    p99 = during["latency_ms"]["p99"]
    targets = {
        "p99_during_reload": {
            "target": f"≤ {TARGET_P99_MS:g} ms, all answered",
            "met": ok and p99 is not None and p99 <= TARGET_P99_MS and during["answered"] == during["sent"],
        },
        "reload": {"target": "succeeds", "met": ok},
        "lost_log_rows": {"target": "0", "met": lost == 0 and bot["exit_status"] == 0},
    }
    return {
        "config": {
            "knowledge": name,
            "files": files,
            "rate": args.rate,
            "warmup_seconds": args.warmup_seconds,
            "before_seconds": args.before_seconds,
            "after_seconds": args.after_seconds,
            "concurrency": args.concurrency,
            "knowledge_changed": not args.unchanged,
            "bot": "python -m bot serve --http, LOG_LEVEL=WARNING, INDEX_PATH and SAVE_INDEX=true, in its own process",
            "load_generator": "this process: signed app_mention events on a fixed open-loop schedule, the admin's "
            "signed /ask-admin reload, and the fake Slack Web API (tests/fakeslack.py)",
        },
        "sent": len(asks),
        "answered": len(answered),
        "unanswered": len(asks) - len(answered),
        "phases": phases,
        "reload": {
            "ok": ok,
            "reply_text": text,
            "ack": reload.request.status,
            "seconds": round(done - sent_at, 3) if reload.reply else None,
            "bot_seconds": reload_seconds(reload.reply),
            "progress_note_after_ms": round((reload.progress.at - sent_at) * 1000, 1) if reload.progress else None,
            "added_file": reload.added,
            "index_before": before,
            "index_after": after,
            "new_index": bool(after) and after.get("index_version") != before.get("index_version"),
        },
        "log": {
            "rows": log["rows"],
            "answers_posted": len(answered_threads),
            "lost_log_rows": lost,
            "posted_but_logged_as_failed": failed_yet_posted,
            "abstained": log["abstained"],
            "errors": log["errors"],
        },
        "bot": bot | {"warnings_or_errors": len(warnings), "warnings_tail": warnings[-10:]},
        "targets": targets,
    }


def mark(result: dict[str, Any], name: str) -> str:
    return "[green]✓[/green]" if result["targets"][name]["met"] else "[red]✗[/red]"


def ms(*values: float | None) -> str:
    return " / ".join("-" if v is None else f"{v:,.1f}" for v in values)


def tables(result: dict[str, Any]) -> list[Table]:
    config, phases, reload, log, bot = (result[k] for k in ("config", "phases", "reload", "log", "bot"))
    order = [phases["before"], phases["during"], phases["after"]]

    def row(label: str, show: Any, target: tuple[str, str] = ("", "")) -> tuple[str, ...]:
        return (label, *("-" if p is None else show(p) for p in order), *target)

    p99 = result["targets"]["p99_during_reload"]
    latency = Table(
        title=f"Reload under load: {config['knowledge']}, {config['rate']:g} questions/s, bot in HTTP mode",
    )
    latency.add_column("questions sent…")
    for name in ("before the reload", "during the reload", "after it"):
        latency.add_column(name, justify="right")
    latency.add_column("target")
    latency.add_column("", justify="center")
    for line in [
        row("seconds", lambda p: "-" if p["seconds"] is None else f"{p['seconds']:,.1f}"),
        row("answered / sent", lambda p: f"{p['answered']:,} / {p['sent']:,}"),
        row("latency p50 / p90 (ms)", lambda p: ms(p["latency_ms"]["p50"], p["latency_ms"]["p90"])),
        row("latency p99 (ms)", lambda p: ms(p["latency_ms"]["p99"])),
        row("latency max (ms)", lambda p: ms(p["latency_ms"]["max"])),
        row("ack p99 / max (ms)", lambda p: ms(p["ack_latency_ms"]["p99"], p["ack_latency_ms"]["max"])),
        row(f"acks timed out (> {ACK_TIMEOUT:g} s)", lambda p: f"{p['acks'].get('timeout', 0):,}"),
        row("send lag p99 / max (ms)", lambda p: ms(p["schedule_lag_ms"]["p99"], p["schedule_lag_ms"]["max"])),
        row(
            "CPU: bot / load gen / others",
            lambda p: " / ".join("-" if v is None else f"{v:.0f}%" for v in p["cpu_percent"].values()),
        ),
    ]:
        if line[0] == "latency p99 (ms)":
            line = (*line[:4], f"during: {p99['target']}", mark(result, "p99_during_reload"))
        latency.add_row(*line)

    before, after = reload["index_before"], reload["index_after"]

    def index(h: dict[str, Any]) -> str:
        if not h:
            return "unknown: /healthz did not answer"
        return f"{h.get('index_version')}, {h.get('articles', 0):,} articles, {h.get('passages', 0):,} passages"

    rows = [
        ("request to reply (s)", "-" if reload["seconds"] is None else f"{reload['seconds']:,.1f}", "", ""),
        ("the bot's own timing (s)", "-" if reload["bot_seconds"] is None else f"{reload['bot_seconds']:,.1f}", "", ""),
        ("reply", reload["reply_text"] or f"none (ack: {reload['ack']})", "succeeds", mark(result, "reload")),
        ("knowledge changed", f"added {reload['added_file']}" if reload["added_file"] else "no (--unchanged)", "", ""),
        ("index before", index(before), "", ""),
        ("index after", index(after) + ("" if reload["new_index"] else " (same version)"), "", ""),
        ("bot start-up, index built (s)", f"{bot['start_seconds']:,.1f}", "", ""),
        ("bot peak memory (MiB)", "-" if bot["peak_memory_mib"] is None else f"{bot['peak_memory_mib']:,.0f}", "", ""),
        ("log rows / answers posted", f"{log['rows']:,} / {log['answers_posted']:,}", "", ""),
        (
            "lost log rows (answers posted without a row)",
            f"{log['lost_log_rows']:,}",
            "0",
            mark(result, "lost_log_rows"),
        ),
        ("rows with an error / of them posted", f"{log['errors']:,} / {log['posted_but_logged_as_failed']:,}", "", ""),
        ("bot exit after SIGTERM", f"status {bot['exit_status']} in {bot['stop_seconds']:.1f} s", "", ""),
    ]
    summary = Table(title="The reload (/ask-admin reload, reply at the response_url)")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    summary.add_column("target")
    summary.add_column("", justify="center")
    for line in rows:
        summary.add_row(*line)
    return [latency, summary]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    knowledge_arguments(parser)
    parser.add_argument("--rate", type=float, default=20.0, help="questions a second (default 20)")
    parser.add_argument("--warmup-seconds", type=float, default=2.0, help="not counted (default 2)")
    parser.add_argument(
        "--before-seconds", type=float, default=10.0, help="after the warm-up, before the reload (default 10)"
    )
    parser.add_argument(
        "--after-seconds", type=float, default=5.0, help="questions go on this long after the reload (default 5)"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="most connections open to the bot (default 64)")
    parser.add_argument(
        "--unchanged", action="store_true", help="reload the folder as it is, without adding an article first"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "reload_load.json")
    args = parser.parse_args()
    if args.rate <= 0 or args.concurrency < 1 or min(args.warmup_seconds, args.before_seconds, args.after_seconds) < 0:
        parser.error("--rate must be positive, the seconds not negative, --concurrency at least 1")
    console = Console()
    try:
        result = asyncio.run(run(args, console))
    except BotFailed as exc:
        Console(stderr=True).print(f"error: {exc}", style="red", markup=False, highlight=False)
        return 2
    for t in tables(result):
        console.print(t)
    print_warnings(console, result, result["phases"]["during"]["cpu_percent"])
    write_json(args.json, result, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
