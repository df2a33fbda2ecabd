"""Slack end to end under load: the real bot in HTTP mode, many askers at a fixed rate, the fake Slack Web API.

    python benchmarks/slack_load.py [--rate 100] [--seconds 60] [--concurrency 64] [--knowledge knowledge]
                                    [--questions tests/questions.yaml] [--json benchmarks/out/slack_load.json]

The bot runs as an operator runs it, `python -m bot serve --http`, in its own process (LOG_LEVEL=WARNING,
a fresh SQLite query log in a temporary folder). This process plays Slack: the fake Web API from
tests/fakeslack.py, and the Events API sending signed `app_mention` events at `--rate` a second for
`--seconds` on a fixed, open-loop schedule (each question is sent at its time whatever happened to the
ones before, so a slow bot shows as growing latency, not as a lower send rate). The questions are
tests/questions.yaml drawn at random (on-topic and off-topic), each with its own ts and event_id.

Per question: latency from just before the signed request is sent to the moment the fake Slack receives
the `chat.postMessage` in its thread (thread_ts == the event's ts), and the ack latency (the HTTP 200).
After the last answer the bot gets SIGTERM; once it has exited, the query log's rows are compared with
the answers posted: every answer must have its row ("lost log rows" 0).

Prints a table with the targets (at least 100 questions a second for 60 s, p99 at most 250 ms, no lost
log rows) marked, and writes the figures and the machine's description as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import gc
import importlib.metadata
import json
import math
import os
import platform
import random
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluate import parse_questions  # noqa: E402
from tests.fakeslack import (  # noqa: E402
    BOT_TOKEN,
    BOT_USER_ID,
    JSON,
    SIGNING_SECRET,
    Call,
    FakeSlack,
    app_mention_event,
    json_body,
)

# The pieces below, up to `run`, are shared with the other benchmarks that drive the real bot
# (reload_load.py, startup.py): the bot's process, signed requests, percentiles, CPU use, the log.

TARGET_RATE = 100.0  # questions a second, sustained...
TARGET_SECONDS = 60.0  # ...for this long
TARGET_P99_MS = 250.0
# A bot that keeps up posts as many answers in the window as questions were sent in it, give or take the
# one or two whose answers straddle the window's edges: 1% covers that, and no real shortfall.
RATE_TOLERANCE = 0.99
ACK_TIMEOUT = 3.0  # Slack gives up on an ack after 3 s (and delivers the event again)
START_TIMEOUT = 60.0  # the bot builds its index before it listens
ANSWER_GRACE = 5.0  # after the last question, how long to wait without a new answer before stopping
STOP_TIMEOUT = 60.0  # SIGTERM to exit: the bot drains answers in flight and flushes the log
USERS = 50  # askers the questions come from
NOISY_OTHERS = 20.0  # % of a CPU other processes may use before the figures are flagged as disturbed


class BotFailed(Exception):
    """The bot did not start; the message carries what it printed."""


@dataclass
class Ask:
    """One question: when it was due, sent, acknowledged and answered (time.monotonic, seconds)."""

    n: int
    question: str
    ts: str
    due: float
    sent: float = math.nan
    acked: float = math.nan
    status: str = "not sent"  # HTTP status, or the client error
    answered: float = math.nan

    @property
    def latency(self) -> float:
        return self.answered - self.sent

    @property
    def ack_latency(self) -> float:
        return self.acked - self.sent


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    output: Path
    url: str
    started_output: int = 0  # bytes of output printed before the bot was ready (start-up messages)
    spawned: float = math.nan  # time.monotonic() just before the process was started


@dataclass(frozen=True)
class CpuMark:
    """CPU seconds used so far: by the bot, by this process (load generator and fake Slack), by the machine."""

    at: float
    bot: float
    generator: float
    machine: float  # all CPUs, every process (from /proc/stat); nan where there is no /proc

    @classmethod
    def now(cls, bot: BotProcess) -> CpuMark:
        used = resource.getrusage(resource.RUSAGE_SELF)
        return cls(time.monotonic(), _process_cpu(bot.process.pid), used.ru_utime + used.ru_stime, _machine_cpu())


def _process_cpu(pid: int) -> float:
    """CPU time (user + system) process `pid` has used, from /proc; nan where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_cpu() -> float:
    """Busy CPU time of the whole machine (every CPU, every process), from /proc/stat; nan without it."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return math.nan
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in first[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cpu_use(before: CpuMark, after: CpuMark) -> dict[str, float | None]:
    """Share of one CPU each used between two marks, in percent; `others` is every other process on the machine."""
    wall = after.at - before.at
    bot, generator = after.bot - before.bot, after.generator - before.generator
    others = after.machine - before.machine - bot - generator

    def percent(seconds: float) -> float | None:
        return None if math.isnan(seconds) or wall <= 0 else round(100 * max(seconds, 0.0) / wall, 1)

    return {"bot": percent(bot), "load_generator": percent(generator), "others": percent(others)}


def free_port() -> int:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0-100) of `values`; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary_ms(seconds: list[float]) -> dict[str, float | None]:
    ms = [s * 1000 for s in seconds if not math.isnan(s)]
    out: dict[str, float | None] = {f"p{p}": percentile(ms, p) for p in (50, 90, 99)}
    out["max"] = max(ms) if ms else None
    out["mean"] = sum(ms) / len(ms) if ms else None
    return {k: None if v is None else round(v, 2) for k, v in out.items()}


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    versions = {name: importlib.metadata.version(name) for name in ("slack_bolt", "slack_sdk", "aiohttp", "aiosqlite")}
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": model or platform.processor(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "git_commit": commit.stdout.strip() or None,
        "git_dirty": bool(dirty.stdout.strip()),
        "versions": versions,
    }


@contextlib.asynccontextmanager
async def bot_process(
    slack: FakeSlack,
    knowledge: Path,
    folder: Path,
    *,
    env: dict[str, str] | None = None,
    start_timeout: float = START_TIMEOUT,
    wait: bool = True,
) -> AsyncIterator[BotProcess]:
    """`python -m bot serve --http` in its own process, as an operator runs it, until it answers /healthz.

    `env` adds settings to the bot's environment. With `wait=False` the bot is handed over as soon as it
    is started (to time its start-up); it is killed on the way out if it is still running."""
    port = free_port()
    settings = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(folder),
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "KNOWLEDGE_DIR": str(knowledge.resolve()),
        "QUERY_LOG_PATH": str(folder / "queries.db"),
        "LOG_LEVEL": "WARNING",  # a line per question would measure the terminal, not the bot
        # The bot's own throughput: Slack's per-channel pace and the per-person limit would measure those instead.
        "USER_QUESTIONS_PER_MINUTE": "0",
        "SLACK_CHANNEL_POSTS_PER_SECOND": "0",
    } | (env or {})
    output = folder / "bot.log"
    with output.open("wb") as out:
        spawned = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", "--http", "--host", "127.0.0.1", "--port", str(port),
            cwd=folder, env=settings, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    bot = BotProcess(process, output, f"http://127.0.0.1:{port}", spawned=spawned)
    try:
        if wait:
            await wait_healthy(bot, start_timeout)
            bot.started_output = output.stat().st_size
        yield bot
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def wait_healthy(bot: BotProcess, timeout: float = START_TIMEOUT, every: float = 0.1) -> float:
    """Poll /healthz every `every` seconds until it answers 200; the time.monotonic() it did."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if bot.process.returncode is not None:
                raise BotFailed(f"the bot exited with status {bot.process.returncode}:\n{bot.output.read_text()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{bot.url}/healthz") as response:
                    if response.status == 200:
                        return time.monotonic()
            await asyncio.sleep(every)
    raise BotFailed(f"the bot did not answer /healthz within {timeout:.0f} s:\n{bot.output.read_text()}")


async def health(bot: BotProcess, timeout: float = 10.0) -> dict[str, Any]:
    """The bot's /healthz: index version, articles and passages."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.get(f"{bot.url}/healthz") as response,
    ):
        body: dict[str, Any] = await response.json()
        return body


async def send(
    session: aiohttp.ClientSession,
    url: str,
    signer: SignatureVerifier,
    ask: Ask,
    body: bytes,
    content_type: str = JSON,
) -> None:
    """Deliver one request as Slack does: signed, and given up on after ACK_TIMEOUT seconds."""
    ask.sent = time.monotonic()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signer.generate_signature(timestamp=stamp, body=body) or "",
    }
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            ask.status = str(response.status)
    except TimeoutError:
        ask.status = "timeout"
    except aiohttp.ClientError as exc:
        ask.status = type(exc).__name__
    ask.acked = time.monotonic()


def mention(n: int, question: str, user: str, due: float) -> tuple[Ask, bytes]:
    """Question `n` as an @mention from `user` in a channel, due at `due`: its Ask, and the event's body."""
    payload = app_mention_event(f"<@{BOT_USER_ID}> {question}", user=user)
    return Ask(n, question, payload["event"]["ts"], due=due), json_body(payload)


async def sleep_until(due: float) -> None:
    wait = due - time.monotonic()
    if wait > 0:
        await asyncio.sleep(wait)


class Sender:
    """Signed requests to the bot's Events API endpoint, each sent in its own task (so none waits for
    another's ack), over at most `concurrency` keep-alive connections. Use `async with`."""

    def __init__(self, bot: BotProcess, concurrency: int) -> None:
        self.url = f"{bot.url}/slack/events"
        self.signer = SignatureVerifier(SIGNING_SECRET)
        self.concurrency = concurrency
        self.tasks: set[asyncio.Task[None]] = set()
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Sender:
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=ACK_TIMEOUT))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self.tasks:
            task.cancel()
        await self.drain()
        assert self.session is not None
        await self.session.close()

    def post(self, ask: Ask, body: bytes, content_type: str = JSON) -> asyncio.Task[None]:
        """Start sending `body` for `ask` now; the task ends once it is acknowledged or given up on."""
        assert self.session is not None, "use Sender in async with"
        task = asyncio.create_task(send(self.session, self.url, self.signer, ask, body, content_type))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait until every request sent so far is acknowledged or given up on."""
        if self.tasks:
            await asyncio.wait(set(self.tasks))


async def load(
    bot: BotProcess, slack: FakeSlack, questions: list[str], rate: float, seconds: float, concurrency: int
) -> tuple[list[Ask], float, list[CpuMark]]:
    """Send rate x seconds questions on an open-loop schedule and wait for their answers.

    Returns the questions, the schedule's start and CPU marks at the start and end of sending."""
    count = max(1, round(rate * seconds))
    pick = random.Random(1)
    asks: list[Ask] = []
    async with Sender(bot, concurrency) as sender:
        start = time.monotonic() + 0.2
        marks = [CpuMark.now(bot)]
        for n in range(count):
            ask, body = mention(n, pick.choice(questions), f"U{pick.randrange(USERS):06d}", due=start + n / rate)
            asks.append(ask)
            await sleep_until(ask.due)
            sender.post(ask, body)
        marks.append(CpuMark.now(bot))
        await sender.drain()
    # Bolt starts the listener before it acks, so a question whose ack timed out may still be answered.
    await wait_answers(slack, len(asks))
    return asks, start, marks


def match_answers(asks: list[Ask], posts: list[Call]) -> None:
    """Each question's answer: the first accepted chat.postMessage in its thread."""
    by_thread = {a.ts: a for a in asks}
    for call in posts:
        ask = by_thread.get(str(call.params.get("thread_ts")))
        if call.ok and ask is not None and math.isnan(ask.answered):
            ask.answered = call.at


async def wait_answers(slack: FakeSlack, expected: int) -> None:
    """Wait until `expected` answers are posted, or ANSWER_GRACE seconds pass without a new one."""
    last, quiet_since = -1, time.monotonic()
    while True:
        posted = len(slack.calls("chat.postMessage"))
        if posted >= expected:
            return
        if posted != last:
            last, quiet_since = posted, time.monotonic()
        elif time.monotonic() - quiet_since > ANSWER_GRACE:
            return
        await asyncio.sleep(0.05)


async def stop(bot: BotProcess) -> tuple[int | None, float]:
    """SIGTERM, as an orchestrator stops the bot; its exit status and how long it took to exit."""
    began = time.monotonic()
    bot.process.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            status = await bot.process.wait()
    except TimeoutError:
        return None, time.monotonic() - began
    return status, time.monotonic() - began


def read_log(path: Path) -> dict[str, Any]:
    """The query log's rows: how many, the threads of those without an error (`threads`) and of all
    (`all_threads`), abstentions and errors."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT thread_ts, abstained, error FROM queries").fetchall()
    return {
        "rows": len(rows),
        "threads": {ts for ts, _, error in rows if error is None},
        "all_threads": {ts for ts, _, _ in rows},
        "abstained": sum(1 for _, abstained, _ in rows if abstained),
        "errors": sum(1 for _, _, error in rows if error is not None),
    }


def peak_memory_mib(pid: int) -> float | None:
    """A running process's peak resident set (VmHWM), in MiB; None where there is no /proc."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def warnings_in(output: str) -> list[str]:
    """The lines of the bot's output that are warnings, errors or tracebacks."""
    return [line for line in output.splitlines() if any(w in line for w in ("WARNING", "ERROR", "Trace"))]


def write_json(path: Path, result: dict[str, Any], console: Console) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"wrote {path}")


def print_warnings(console: Console, result: dict[str, Any], cpu: dict[str, float | None]) -> None:
    """Say when other processes disturbed the run, and what the bot logged as warnings or errors."""
    others = cpu.get("others")
    if others is not None and others > NOISY_OTHERS:
        console.print(
            f"Other processes used {others:.0f}% of a CPU while this ran: the figures are not this machine's best.",
            style="yellow",
        )
    print_bot_warnings(console, result["bot"], "The bot")


def print_bot_warnings(console: Console, bot: dict[str, Any], who: str) -> None:
    """The warnings and errors the bot logged (`bot` as `run` reports it), if any, the last few shown."""
    if bot["warnings_or_errors"]:
        console.print(
            f"{who} logged {bot['warnings_or_errors']} warnings or errors while serving; the last:",
            *bot["warnings_tail"],
            sep="\n",
            style="yellow",
            markup=False,
            highlight=False,
        )


@dataclass
class Outcome:
    """Everything a run observed, for `report`."""

    asks: list[Ask]
    start: float  # time.monotonic() the schedule started
    marks: list[CpuMark]  # at the start and the end of sending
    posts: list[Call]  # every chat.postMessage the fake Slack received, shutdown included
    log: dict[str, Any]
    exit_status: int | None
    stop_seconds: float
    bot_output: str  # what the bot printed after start-up


async def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    question_set = parse_questions(args.questions.read_text(encoding="utf-8"))
    questions = [q.q for q in question_set]
    off_topic = sum(1 for q in question_set if q.expect is None)
    info = machine()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="slack-load-") as tmp:
        folder = Path(tmp)
        async with FakeSlack() as slack, bot_process(slack, args.knowledge, folder) as bot:
            console.print(
                f"bot pid {bot.process.pid} at {bot.url}; sending {args.rate:g} questions/s for {args.seconds:g} s "
                f"({len(questions)} questions, {off_topic} off-topic), at most {args.concurrency} connections",
                style="dim",
                highlight=False,
            )
            # The fake Slack keeps every call it receives, so the garbage collector's full passes over this
            # process's growing heap would stall it for tens of ms: a pause of the load generator, not the bot.
            gc.disable()
            try:
                asks, start, marks = await load(bot, slack, questions, args.rate, args.seconds, args.concurrency)
            finally:
                gc.enable()
            exit_status, stop_seconds = await stop(bot)
            output = bot.output.read_bytes()[bot.started_output :].decode("utf-8", "replace")
            posts = slack.calls("chat.postMessage")
        match_answers(asks, posts)
        log = read_log(folder / "queries.db")
    outcome = Outcome(asks, start, marks, posts, log, exit_status, stop_seconds, output)
    return report(args, outcome) | {
        "started_at": started_at,
        "questions": {"distinct": len(questions), "off_topic": off_topic, "file": str(args.questions)},
        "machine": info,
    }


def report(args: argparse.Namespace, run: Outcome) -> dict[str, Any]:
    asks = run.asks
    duration = len(asks) / args.rate
    warmup = min(5.0, duration * 0.1)  # connections opening, caches warming: not the steady state
    window = (run.start + warmup, run.start + duration)
    answered = [a for a in asks if not math.isnan(a.answered)]
    in_window = sum(1 for a in answered if window[0] <= a.answered < window[1])
    achieved = in_window / (window[1] - window[0])
    sent = [a.sent for a in asks if not math.isnan(a.sent)]
    sent_span = max(sent) - min(sent) if len(sent) > 1 else 0.0
    answered_threads = {a.ts for a in answered}
    lost = len(answered_threads - run.log["threads"])
    latency = summary_ms([a.latency for a in answered])
    p99 = latency["p99"]
    warnings = warnings_in(run.bot_output)
    targets = {
        "rate": {
            "target": f"≥ {TARGET_RATE:g} q/s for {TARGET_SECONDS:g} s",
            "met": args.rate >= TARGET_RATE
            and achieved >= TARGET_RATE * RATE_TOLERANCE
            and duration >= TARGET_SECONDS
            and len(answered) == len(asks),
        },
        "p99": {"target": f"≤ {TARGET_P99_MS:g} ms", "met": p99 is not None and p99 <= TARGET_P99_MS},
        "lost_log_rows": {"target": "0", "met": lost == 0 and run.exit_status == 0},
    }
    return {
        "config": {
            "rate": args.rate,
            "seconds": args.seconds,
            "concurrency": args.concurrency,
            "knowledge": str(args.knowledge),
            "ack_timeout_seconds": ACK_TIMEOUT,
            "bot": "python -m bot serve --http, LOG_LEVEL=WARNING, in its own process",
            "load_generator": "this process: signed app_mention events on a fixed open-loop schedule, and the fake "
            "Slack Web API (tests/fakeslack.py)",
        },
        "sent": len(asks),
        "send_seconds": round(sent_span, 3),
        "acks": dict(sorted(collections.Counter(a.status for a in asks).items())),
        "answered": len(answered),
        "unanswered": len(asks) - len(answered),
        "failed_posts": sum(1 for call in run.posts if not call.ok),
        "steady_window_seconds": [round(warmup, 2), round(duration, 2)],
        "achieved_rate": round(achieved, 2),
        "latency_ms": latency,
        "ack_latency_ms": summary_ms([a.ack_latency for a in asks if a.status == "200"]),
        "schedule_lag_ms": summary_ms([a.sent - a.due for a in asks]),
        "log": {
            "rows": run.log["rows"],
            "answers_posted": len(answered_threads),
            "lost_log_rows": lost,
            "abstained": run.log["abstained"],
            "errors": run.log["errors"],
        },
        "cpu_percent_while_sending": cpu_use(run.marks[0], run.marks[1]),
        "bot": {
            "exit_status": run.exit_status,
            "stop_seconds": round(run.stop_seconds, 2),
            "warnings_or_errors": len(warnings),
            "warnings_tail": warnings[-10:],
        },
        "targets": targets,
    }


def table(result: dict[str, Any]) -> Table:
    def ms(*values: float | None) -> str:
        return " / ".join("-" if v is None else f"{v:,.1f}" for v in values)

    def target(name: str) -> tuple[str, str]:
        met = result["targets"][name]["met"]
        return result["targets"][name]["target"], "[green]✓[/green]" if met else "[red]✗[/red]"

    config, lat, ack, log = result["config"], result["latency_ms"], result["ack_latency_ms"], result["log"]
    lag, cpu, bot = result["schedule_lag_ms"], result["cpu_percent_while_sending"], result["bot"]
    window = result["steady_window_seconds"]
    rows = [
        ("questions sent", f"{result['sent']:,} in {result['send_seconds']:.1f} s"),
        ("HTTP acks", ", ".join(f"{status}: {count:,}" for status, count in result["acks"].items())),
        ("answers posted", f"{result['answered']:,} ({result['unanswered']:,} missing)"),
        (f"answers/s, {window[0]:g}-{window[1]:g} s", f"{result['achieved_rate']:,.1f}", *target("rate")),
        ("latency p50 / p90 (ms)", ms(lat["p50"], lat["p90"])),
        ("latency p99 (ms)", ms(lat["p99"]), *target("p99")),
        ("latency max (ms)", ms(lat["max"])),
        ("ack p50 / p99 / max (ms)", ms(ack["p50"], ack["p99"], ack["max"])),
        ("send lag p99 / max (ms)", ms(lag["p99"], lag["max"])),
        ("log rows / answers posted", f"{log['rows']:,} / {log['answers_posted']:,}"),
        ("lost log rows", f"{log['lost_log_rows']:,}", *target("lost_log_rows")),
        ("CPU: bot / load gen / others", " / ".join("-" if v is None else f"{v:.0f}%" for v in cpu.values())),
        ("bot exit after SIGTERM", f"status {bot['exit_status']} in {bot['stop_seconds']:.1f} s"),
    ]
    t = Table(title=f"Slack end to end: {config['rate']:g} questions/s for {config['seconds']:g} s, bot in HTTP mode")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("target")
    t.add_column("", justify="center")
    for row in rows:
        t.add_row(*row)
    return t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="questions a second (default 100)")
    parser.add_argument("--seconds", type=float, default=TARGET_SECONDS, help="how long to send (default 60)")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="most connections open to the bot at once (default 64)"
    )
    parser.add_argument("--knowledge", type=Path, default=ROOT / "knowledge", help="knowledge folder")
    parser.add_argument("--questions", type=Path, default=ROOT / "tests" / "questions.yaml", help="YAML question set")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "slack_load.json")
    args = parser.parse_args()
    if args.rate <= 0 or args.seconds <= 0 or args.concurrency < 1:
        parser.error("--rate and --seconds must be positive, --concurrency at least 1")
    console = Console()
    try:
        result = asyncio.run(run(args, console))
    except BotFailed as exc:
        Console(stderr=True).print(f"error: {exc}", style="red", markup=False, highlight=False)
        return 2
    console.print(table(result))
    print_warnings(console, result, result["cpu_percent_while_sending"])
    write_json(args.json, result, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
