"""Faults an operator meets: the bot killed mid-burst, the disk filling up under the query log.

Real: `python -m bot serve --http` in its own process, a real SQLite file, real signals, and for the
full disk a real (small) filesystem: a tmpfs mounted in the bot's own mount namespace with
`unshare`, which the test fills up and frees again. Fake: Slack's servers (tests/fakeslack.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import random
import shutil
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp

from bot.app import UNSENT
from bot.engine import PROCESS_ABOVE_BYTES
from bot.serve import READY_PATH
from tests.fakeslack import BOT_TOKEN, JSON, SIGNING_SECRET, FakeSlack, app_mention_event, json_body, signed_request
from tests.slackbot import ANSWER, QUESTION, Bot, mention_text, reads, serving
from tests.test_serve import bot_process, free_port

SETTLE = 20.0  # generous: how long the test waits for answers that should come in well under a second each


def settings_for(slack: FakeSlack, **more: str) -> dict[str, str]:
    return {
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        # A burst of questions from one person in one channel, answered at the bot's own pace.
        "USER_QUESTIONS_PER_MINUTE": "0",
        "SLACK_CHANNEL_POSTS_PER_SECOND": "0",
    } | more


async def deliver(url: str, event: JSON, retry: int | None = None) -> int | None:
    """Send one event as Slack does; None if the bot is not there to take it (Slack would retry later)."""
    try:
        return (await signed_request(url, json_body(event), "application/json", SIGNING_SECRET, retry_num=retry)).status
    except (aiohttp.ClientError, TimeoutError):
        return None


def answers_by_thread(slack: FakeSlack) -> dict[str, int]:
    """How many answers Slack accepted in each thread (a mention is answered in its own thread)."""
    counts: dict[str, int] = {}
    for call in slack.calls("chat.postMessage", ok=True):
        counts[call.params["thread_ts"]] = counts.get(call.params["thread_ts"], 0) + 1
    return counts


async def test_a_bot_killed_mid_burst_restarts_consistent_and_answers_no_question_twice(
    slack: FakeSlack, tmp_path: Path
) -> None:
    burst = 40
    slack.delay_next("chat.postMessage", 0.4, times=burst)  # answers in flight when the kill comes
    events = [app_mention_event(mention_text(f"{QUESTION} ({n})")) for n in range(burst)]
    threads = [e["event"]["ts"] for e in events]

    port = free_port()
    url = f"http://127.0.0.1:{port}/slack/events"
    async with bot_process(tmp_path, "serve", "--http", "--port", str(port), **settings_for(slack)) as bot:
        await bot.wait_for_line("listening on")

        async def stream() -> list[int | None]:  # questions keep arriving, one every 50 ms
            statuses = []
            for event in events:
                statuses.append(await deliver(url, event))
                await asyncio.sleep(0.05)
            return statuses

        sending = asyncio.create_task(stream())
        await slack.wait_for("chat.postMessage", count=5, timeout=SETTLE)  # some answered, more in flight
        bot.process.send_signal(signal.SIGKILL)
        assert await bot.finish() == -signal.SIGKILL
        assert None in await sending  # the later deliveries found no bot: Slack would retry them
    await asyncio.sleep(0.6)  # the posts the killed bot had sent reach Slack regardless, as they would
    before = answers_by_thread(slack)
    assert 5 <= len(before) < burst

    # Slack redelivers: here every event, as a retry, whether or not the first delivery was acknowledged.
    port = free_port()
    url = f"http://127.0.0.1:{port}/slack/events"
    async with bot_process(tmp_path, "serve", "--http", "--port", str(port), **settings_for(slack)) as bot:
        await bot.wait_for_line("listening on")
        statuses = await asyncio.gather(*(deliver(url, e, retry=1) for e in events))
        assert statuses == [200] * burst
        async with asyncio.timeout(SETTLE):  # every event ends up with a row, then the bot stops cleanly
            while _count(tmp_path / "queries.db", "SELECT count(*) FROM queries") < burst:
                await asyncio.sleep(0.1)
        assert await bot.stop() == 0

    after = answers_by_thread(slack)
    assert all(after[ts] == 1 for ts in before)  # nothing answered before the kill was answered again
    assert max(after.values()) == 1
    with contextlib.closing(sqlite3.connect(tmp_path / "queries.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = dict(db.execute("SELECT thread_ts, error FROM queries").fetchall())
    assert sorted(rows) == sorted(threads)  # one row per question, none lost and none doubled
    for ts in threads:
        if ts in after:  # answered: the row says how it went (or that the kill came while it was being sent)
            assert rows[ts] in (None, UNSENT)
        else:  # claimed, then killed before the answer left: logged as such, and not answered on the retry
            assert rows[ts] == UNSENT
    assert all(rows[ts] is None for ts in after if ts not in before)  # answered after the restart, in full


def large_knowledge(folder: Path, size: int) -> Path:
    """A knowledge folder of `size` bytes of made-up articles: big enough to be indexed in a child process."""
    rng = random.Random(13)
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 10))) for _ in range(5000)]
    folder.mkdir()
    written, number = 0, 0
    while written < size:
        paragraphs = [" ".join(rng.choices(vocabulary, k=60)) + "." for _ in range(50)]
        text = f"Made-up article {number} on commissioning\n\n" + "\n\n".join(paragraphs) + "\n"
        (folder / f"{number:04d}_article.txt").write_text(text, encoding="utf-8")
        written, number = written + len(text), number + 1
    return folder


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux: read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie waiting to be reaped has stopped)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


async def test_the_indexer_stops_when_the_bot_is_killed_while_it_builds(slack: FakeSlack, tmp_path: Path) -> None:
    knowledge = large_knowledge(tmp_path / "knowledge", 3 * PROCESS_ABOVE_BYTES)  # a build of several seconds
    port = free_port()
    settings = settings_for(slack, KNOWLEDGE_DIR=str(knowledge))
    indexers: list[int] = []
    async with bot_process(tmp_path, "serve", "--http", "--port", str(port), **settings) as bot:
        try:
            async with asyncio.timeout(SETTLE):  # the bot starts by indexing the folder, in a child process
                while not indexers:
                    indexers = children(bot.process.pid)
                    await asyncio.sleep(0.02)
            bot.process.send_signal(signal.SIGKILL)
            # Not bot.finish(): asyncio waits for the bot's output to close too, and the indexer holds it open.
            while alive(bot.process.pid):
                await asyncio.sleep(0.01)
            stopped = asyncio.get_running_loop().time() + 2.0
            while alive(indexers[0]) and asyncio.get_running_loop().time() < stopped:
                await asyncio.sleep(0.05)
            assert not alive(indexers[0]), "the indexer went on building after the bot was killed"
            assert "listening on" not in bot.printed  # it was killed mid-build, not after
        finally:  # whatever happened, leave nothing running
            for pid in filter(alive, indexers):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _count(database: Path, sql: str, *params: object) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return int(db.execute(sql, params).fetchone()[0])


def snapshot(folder: Path, into: Path) -> Path:
    """A copy of the query log in `folder` (the database and its write-ahead log), to read from this side.

    SQLite resolves symbolic links in a path, so it cannot open a file through /proc/PID/root; Python can."""
    copy = into / "snapshot"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    for name in ("queries.db", "queries.db-wal"):
        if (folder / name).exists():
            shutil.copyfile(folder / name, copy / name)
    return copy / "queries.db"


def fill(folder: Path) -> Path:
    """Fill the filesystem holding `folder` to the last byte; the file that does it."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


async def test_a_full_disk_keeps_answers_going_and_the_rows_are_written_once_there_is_room(
    slack: FakeSlack, tmp_path: Path
) -> None:
    assert shutil.which("unshare") and shutil.which("mount"), "util-linux's unshare and mount are needed"
    disk = tmp_path / "disk"  # a tmpfs of its own in the bot's mount namespace: the test can fill it
    disk.mkdir()
    launcher = [
        "unshare",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        f'mount -t tmpfs -o size=8m tmpfs {disk} && exec "$@"',
        "sh",
    ]
    port = free_port()
    url = f"http://127.0.0.1:{port}/slack/events"
    settings = settings_for(slack, QUERY_LOG_PATH=str(disk / "queries.db"), SAVE_INDEX="false")

    async with bot_process(tmp_path, "serve", "--http", "--port", str(port), launcher=launcher, **settings) as bot:
        await bot.wait_for_line("listening on")
        seen_by_bot = Path(f"/proc/{bot.process.pid}/root") / disk.relative_to("/")  # the bot's view of its tmpfs
        assert (seen_by_bot / "queries.db").exists() and not (disk / "queries.db").exists()
        filler = fill(seen_by_bot)

        questions = [app_mention_event(mention_text(f"{QUESTION} [{n}]")) for n in range(25)]
        assert await asyncio.gather(*(deliver(url, e) for e in questions)) == [200] * 25
        posts = await slack.wait_for("chat.postMessage", count=25, timeout=SETTLE)
        assert all(ANSWER in reads(call.params) for call in posts)  # every asker was answered meanwhile
        await bot.wait_for_line("cannot be written (database or disk is full): keeping rows in memory and retrying")

        filler.unlink()  # the operator frees some space
        await bot.wait_for_line("writing again after")
        async with asyncio.timeout(SETTLE):  # the held rows, and how each answer went, reach the database
            while _count(snapshot(seen_by_bot, tmp_path), "SELECT count(*) FROM queries WHERE error IS NULL") < 25:
                await asyncio.sleep(0.2)
        with contextlib.closing(sqlite3.connect(snapshot(seen_by_bot, tmp_path))) as db:
            threads = sorted(ts for (ts,) in db.execute("SELECT thread_ts FROM queries"))
            assert db.execute("SELECT min(latency_ms) FROM queries").fetchone()[0] > 0  # finished, not just claimed
        assert threads == sorted(e["event"]["ts"] for e in questions)  # each question once: none lost, none doubled
        assert await bot.stop() == 0

    printed = bot.printed
    assert printed.count("cannot be written") == 1  # one warning per outage, not one per retry
    assert "dropping" not in printed  # nothing was thrown away
    assert "query log flushed and closed" in printed


async def test_while_another_program_locks_the_log_every_question_is_answered_and_logged_after(
    slack: FakeSlack, tmp_path: Path
) -> None:
    async with serving(slack, tmp_path) as bot:
        events = [app_mention_event(mention_text(f"{QUESTION} <{n}>")) for n in range(10)]
        with contextlib.closing(sqlite3.connect(tmp_path / "queries.db", isolation_level=None)) as locker:
            locker.execute("BEGIN EXCLUSIVE")  # e.g. an admin's sqlite3 shell holding a write transaction
            assert [r.status for r in await asyncio.gather(*(bot.event(e) for e in events))] == [200] * 10
            posts = await bot.posts(count=10)
            assert all(ANSWER in reads(call.params) for call in posts)
            assert locker.execute("SELECT count(*) FROM queries").fetchone() == (0,)
            locker.execute("ROLLBACK")
        rows = await bot.rows()
    assert sorted(row.thread_ts or "" for row in rows) == sorted(e["event"]["ts"] for e in events)
    assert all(row.error is None and row.latency_ms > 0 for row in rows)


async def _ready(bot: Bot) -> tuple[int, dict[str, Any]]:
    assert bot.running.url is not None
    async with aiohttp.ClientSession() as session, session.get(bot.running.url + READY_PATH) as response:
        return response.status, await response.json()


async def test_health_tells_a_query_log_that_cannot_be_written_from_a_dead_bot(
    slack: FakeSlack, tmp_path: Path
) -> None:
    async with serving(slack, tmp_path) as bot:
        assert await _ready(bot) == (200, (await bot.health())[1])
        events = [app_mention_event(mention_text(f"{QUESTION} <{n}>")) for n in range(3)]
        with contextlib.closing(sqlite3.connect(tmp_path / "queries.db", isolation_level=None)) as locker:
            locker.execute("BEGIN EXCLUSIVE")  # e.g. an admin's sqlite3 shell holding a write transaction
            assert [r.status for r in await asyncio.gather(*(bot.event(e) for e in events))] == [200] * 3
            await bot.posts(count=3)
            async with asyncio.timeout(SETTLE):  # the writer's first attempt fails once SQLite stops waiting
                while (ready := await _ready(bot))[0] == 200:
                    await asyncio.sleep(0.1)
            status, health = await bot.health()

            assert status == 200  # alive: a restart would not help, and answers go on meanwhile
            assert ready[0] == 503
            for body in (health, ready[1]):
                assert body["status"] == "degraded"
                assert body["query_log"]["writable"] is False
                assert body["query_log"]["queued"] >= 3  # each question's row, perhaps its update too
                assert body["query_log"]["dropped"] == 0
            locker.execute("ROLLBACK")

        async with asyncio.timeout(SETTLE):  # the rows are written, and the bot says so
            while (ready := await _ready(bot))[0] != 200:
                await asyncio.sleep(0.1)
        assert ready[1]["status"] == "ok"
        assert ready[1]["query_log"] == {"writable": True, "queued": 0, "dropped": 0}
        assert len(await bot.rows()) == 3


OPEN_FILES = 256  # the bot's open-file limit in the slow-client test (RLIMIT_NOFILE)
STALLED = 300  # connections that never finish their headers: more than the bot could hold open
ANSWER_SECONDS = 3.0  # Slack waits 3 s for the HTTP answer


async def stalled_connection(port: int) -> asyncio.StreamWriter | None:
    """A connection that sends half a request's headers and then nothing; None if it could not connect."""
    try:
        async with asyncio.timeout(SETTLE):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
    except (OSError, TimeoutError):
        return None
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slack-Request-Ti")
    return writer


async def test_hundreds_of_stalled_connections_do_not_keep_slack_out(slack: FakeSlack, tmp_path: Path) -> None:
    assert shutil.which("prlimit"), "util-linux's prlimit is needed"
    launcher = ["prlimit", f"--nofile={OPEN_FILES}:{OPEN_FILES}", "--"]
    port = free_port()
    url = f"http://127.0.0.1:{port}/slack/events"
    async with bot_process(
        tmp_path, "serve", "--http", "--port", str(port), launcher=launcher, **settings_for(slack)
    ) as bot:
        await bot.wait_for_line("listening on")
        stalled = await asyncio.gather(*(stalled_connection(port) for _ in range(STALLED)))
        await bot.wait_for_line("to make room")  # the bot has taken in as many as it may hold, and more come

        event = app_mention_event(mention_text(QUESTION))
        started = time.monotonic()
        async with asyncio.timeout(ANSWER_SECONDS):
            assert await deliver(url, event) == 200
            [post] = await slack.wait_for("chat.postMessage", timeout=ANSWER_SECONDS)
        assert time.monotonic() - started < ANSWER_SECONDS
        assert post.params["thread_ts"] == event["event"]["ts"] and ANSWER in reads(post.params)

        for writer in stalled:
            if writer is not None:
                writer.close()
        assert await bot.stop() == 0

    printed = bot.printed
    assert "Traceback" not in printed and "out of system resource" not in printed
    assert len([line for line in printed.splitlines() if "HTTP connection" in line]) <= 3  # summarised


async def test_running_out_of_open_files_is_a_warning_and_slack_is_answered_after(
    slack: FakeSlack, tmp_path: Path
) -> None:
    # An open-file limit so low that the cap cannot keep a burst of accepts within it (say, a bad
    # LimitNOFILE): accepting fails with "too many open files" until the stalled connections are closed.
    launcher = ["prlimit", "--nofile=40:40", "--"]
    port = free_port()
    url = f"http://127.0.0.1:{port}/slack/events"
    async with bot_process(
        tmp_path, "serve", "--http", "--port", str(port), launcher=launcher, **settings_for(slack)
    ) as bot:
        await bot.wait_for_line("listening on")
        stalled = await asyncio.gather(*(stalled_connection(port) for _ in range(100)))
        await bot.wait_for_line("no open file left to accept an HTTP connection")
        for writer in stalled:
            if writer is not None:
                writer.close()

        # The connections closed above may still wait in the kernel's queue, and accepting them can push
        # out a new one: Slack retries an event whose delivery failed, as here.
        event = app_mention_event(mention_text(QUESTION))
        async with asyncio.timeout(SETTLE):
            for retry in range(3):
                if (status := await deliver(url, event, retry=retry or None)) is not None:
                    break
        assert status == 200
        [post] = await slack.wait_for("chat.postMessage", timeout=SETTLE)
        assert post.params["thread_ts"] == event["event"]["ts"] and ANSWER in reads(post.params)
        assert await bot.stop() == 0

    printed = bot.printed
    assert "Traceback" not in printed and "out of system resource" not in printed
    assert "raise its open-file limit" in printed
