"""`python -m bot serve` and `python -m bot start` as an operator runs them.

Real: the command line in its own process, configured only by environment variables (run in an
empty tmp folder, so no .env is read), the real knowledge folder, a real SQLite query log, real
HTTP and signals. Fake: Slack's servers (tests/fakeslack.py), started by the test and reached by
the bot through SLACK_API_URL.

Secrets in these tests carry MARKER, so a test can prove that none of them is ever printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import KNOWLEDGE, ROOT
from tests.fakeslack import JSON, FakeSlack, app_mention_event, json_body, signed_request
from tests.slackbot import ANSWER, QUESTION, mention_text, reads

MARKER = "S3CRET-MARKER"
BOT_TOKEN = f"xoxb-{MARKER}-bot"
APP_TOKEN = f"xapp-{MARKER}-app"
SIGNING_SECRET = f"{MARKER}-signing-secret"
START_TIMEOUT = 30.0  # generous for a slow machine; a healthy start takes about a second


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """A clean environment: the bot's settings are exactly `settings` plus the knowledge folder and log."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "COLUMNS": "200",
        "PYTHONPATH": str(ROOT),
        "KNOWLEDGE_DIR": str(KNOWLEDGE),
        "QUERY_LOG_PATH": str(tmp_path / "queries.db"),
    }
    return env | settings


def run(tmp_path: Path, *args: str, stdin: str = "", **settings: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` to completion, in tmp_path (no .env there)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=environment(tmp_path, **settings),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port() -> int:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Process:
    """A bot process running in the background, with everything it has printed so far."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output: list[str] = []
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace")
            self.output.append(line)
            await self._lines.put(line)

    async def wait_for_line(self, text: str, timeout: float = START_TIMEOUT) -> None:
        """Wait until the process prints a line containing `text` (it prints as it starts up)."""
        async with asyncio.timeout(timeout):
            while text not in await self._lines.get():
                pass

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = START_TIMEOUT) -> int:
        """Send `sig` and wait for the process to exit; its exit status."""
        self.process.send_signal(sig)
        return await self.finish(timeout)

    async def finish(self, timeout: float = START_TIMEOUT) -> int:
        async with asyncio.timeout(timeout):
            status = await self.process.wait()
            await self._reader
        return status

    @property
    def printed(self) -> str:
        return "".join(self.output)


@contextlib.asynccontextmanager
async def bot_process(
    tmp_path: Path, *args: str, launcher: Sequence[str] = (), **settings: str
) -> AsyncIterator[Process]:
    """`python -m bot ARGS` in the background, stdout and stderr together; killed if the test leaves it running.

    `launcher` is a command that runs the bot as its last arguments (e.g. in its own mount namespace)."""
    process = await asyncio.create_subprocess_exec(
        *launcher,
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=tmp_path,
        env=environment(tmp_path, **settings),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    running = Process(process)
    try:
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await running.finish()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        yield fake


def logged_questions(path: Path) -> list[tuple[str, str, str | None]]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT surface, question, error FROM queries ORDER BY time").fetchall()


# --- settings that stop start-up -----------------------------------------------------------


def test_http_mode_without_signing_secret_names_it_and_the_fix(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", "--http", SLACK_BOT_TOKEN=BOT_TOKEN)

    assert result.returncode == 2
    needs = "SLACK_SIGNING_SECRET is empty: HTTP mode needs it (the Signing Secret, from Basic Information > App"
    assert needs + " Credentials)" in result.stderr
    assert "Traceback" not in result.stderr
    assert MARKER not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("setting", "value", "complaint"),
    [
        ("ADMIN_USER_IDS", "alice,U012ABCDEF", "ADMIN_USER_IDS: Value error, Slack user ids look like U012ABCDEF"),
        ("SLACK_API_URL", "slack.com/api", "SLACK_API_URL: Value error, must start with http:// or https://"),
        ("QUERY_LOG_PATH", ".", "cannot open the query log .: unable to open database file; check QUERY_LOG_PATH"),
    ],
)
def test_malformed_setting_is_named_and_no_secret_is_printed(
    tmp_path: Path, setting: str, value: str, complaint: str
) -> None:
    secrets = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    # No Slack listens there: the local settings are checked before the bot goes near the network.
    nowhere = f"http://127.0.0.1:{free_port()}/api/"

    result = run(tmp_path, "serve", "--http", **(secrets | {"SLACK_API_URL": nowhere, setting: value}))

    assert result.returncode == 2
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr
    assert MARKER not in result.stdout + result.stderr


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_token_refused_by_slack_stops_start_up_naming_it(slack: FakeSlack, tmp_path: Path, mode: str) -> None:
    wrong = f"{'xapp' if mode == 'socket' else 'xoxb'}-{MARKER}-wrong"
    settings = {"SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    settings |= {"SLACK_APP_TOKEN": wrong} if mode == "socket" else {"SLACK_BOT_TOKEN": wrong}
    setting = "SLACK_APP_TOKEN" if mode == "socket" else "SLACK_BOT_TOKEN"
    args = ("serve",) if mode == "socket" else ("serve", "--http", "--port", str(free_port()))

    async with bot_process(tmp_path, *args, **settings) as bot:
        status = await bot.finish()

    assert status == 2
    assert f"{setting} was refused by Slack (invalid_auth): set it to" in bot.printed
    assert "Traceback" not in bot.printed
    assert MARKER not in bot.printed
    assert slack.connections == 0


def test_unreachable_slack_is_named(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    settings = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}

    result = run(tmp_path, "serve", SLACK_API_URL=f"http://127.0.0.1:{port}/api/", **settings)

    assert result.returncode == 2
    assert f"cannot reach Slack at http://127.0.0.1:{port}/api/" in result.stderr
    assert "check SLACK_API_URL" in result.stderr
    assert MARKER not in result.stdout + result.stderr


def test_a_token_pasted_into_the_api_url_is_not_shown(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}/api/{BOT_TOKEN}/?token={MARKER}"

    result = run(tmp_path, "serve", SLACK_API_URL=url, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN)

    assert result.returncode == 2
    assert f"cannot reach Slack at http://127.0.0.1:{port}/api/[hidden]/ (" in result.stderr
    assert MARKER not in result.stdout + result.stderr


async def test_secrets_pasted_with_a_trailing_newline_still_work(slack: FakeSlack, tmp_path: Path) -> None:
    port = free_port()
    settings = {
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": f"{BOT_TOKEN}\n",
        "SLACK_SIGNING_SECRET": f" {SIGNING_SECRET}\r\n",
    }
    base = f"http://127.0.0.1:{port}"

    async with bot_process(tmp_path, "serve", "--http", "--host", "127.0.0.1", "--port", str(port), **settings) as bot:
        await bot.wait_for_line(f"listening on {base}/slack/events")
        event = app_mention_event(mention_text(QUESTION))
        delivered = await signed_request(f"{base}/slack/events", json_body(event), JSON, SIGNING_SECRET)
        [answer] = await slack.wait_for("chat.postMessage", 1, ok=True)
        status = await bot.stop(signal.SIGTERM)

    assert delivered.status == 200
    assert ANSWER in reads(answer.params)
    assert status == 0
    assert MARKER not in bot.printed


# --- serving --------------------------------------------------------------------------------


async def test_http_serve_answers_health_and_questions_and_stops_cleanly_on_sigterm(
    slack: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    settings = {"SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    base = f"http://127.0.0.1:{port}"

    async with bot_process(tmp_path, "serve", "--http", "--host", "127.0.0.1", "--port", str(port), **settings) as bot:
        await bot.wait_for_line(f"listening on {base}/slack/events")
        async with aiohttp.ClientSession() as session, session.get(f"{base}/healthz") as response:
            health = (response.status, await response.json())
        event = app_mention_event(mention_text(QUESTION))
        delivered = await signed_request(f"{base}/slack/events", json_body(event), JSON, SIGNING_SECRET)
        # SIGTERM at once: the answer is still being worked on and must not be lost.
        status = await bot.stop(signal.SIGTERM)

    assert health[0] == 200
    assert health[1]["ok"] is True and len(health[1]["index_version"]) == 12
    assert delivered.status == 200
    assert status == 0
    [answer] = slack.calls("chat.postMessage", ok=True)
    assert ANSWER in reads(answer.params)
    assert logged_questions(tmp_path / "queries.db") == [("mention", QUESTION, None)]
    assert "query log flushed and closed" in bot.printed
    assert "Traceback" not in bot.printed
    assert MARKER not in bot.printed


async def test_start_with_socket_mode_tokens_serves_slack(slack: FakeSlack, tmp_path: Path) -> None:
    settings = {"SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}

    async with bot_process(tmp_path, "start", **settings) as bot:
        await slack.wait_connected(timeout=START_TIMEOUT)
        await slack.socket_send("events_api", app_mention_event(mention_text(QUESTION)))
        [answer] = await slack.wait_for("chat.postMessage", ok=True)
        status = await bot.stop(signal.SIGINT)  # Ctrl-C

    assert status == 0
    assert ANSWER in reads(answer.params)
    assert logged_questions(tmp_path / "queries.db") == [("mention", QUESTION, None)]
    assert MARKER not in bot.printed


async def test_sigterm_while_still_connecting_stops_the_bot(slack: FakeSlack, tmp_path: Path) -> None:
    # Slack accepts the app token but hands out a websocket URL that refuses the connection, so Socket
    # Mode keeps retrying: the bot must still stop when told to.
    slack.answer("apps.connections.open", {"ok": True, "url": f"{slack.url.replace('http', 'ws')}/link/?ticket=no"})
    settings = {"SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}

    async with bot_process(tmp_path, "serve", **settings) as bot:
        await slack.wait_for("apps.connections.open", 2, timeout=START_TIMEOUT)  # the token check, then connecting
        status = await bot.stop(signal.SIGTERM, timeout=10)

    assert status == 0
    assert slack.connections == 0
    assert "stopped" in bot.printed
    assert MARKER not in bot.printed


def test_start_without_slack_tokens_chats_in_the_terminal(tmp_path: Path) -> None:
    result = run(tmp_path, "start", stdin=f"{QUESTION}\nquit\n")

    assert result.returncode == 0, result.stderr
    [hint, *answer] = result.stdout.splitlines()
    assert hint.startswith("No Slack tokens in .env (see .env.example): chatting in the terminal instead.")
    assert ANSWER in " ".join(answer)


async def test_sigterm_during_a_burst_answers_and_logs_every_question_slack_was_told_we_took(
    slack: FakeSlack, tmp_path: Path
) -> None:
    # Answers take half a second to post, so SIGTERM arrives with dozens in flight and more arriving.
    burst = 60
    slack.delay_next("chat.postMessage", 0.5, times=burst)
    port = free_port()
    settings = {"SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    # One person's burst into one channel, at the bot's own pace: no per-person limit, no pacing.
    settings |= {"USER_QUESTIONS_PER_MINUTE": "0", "SLACK_CHANNEL_POSTS_PER_SECOND": "0"}
    url = f"http://127.0.0.1:{port}/slack/events"
    events = [app_mention_event(mention_text(f"{QUESTION} ({n})")) for n in range(burst)]

    async def deliver(event: JSON) -> int | None:
        try:
            return (await signed_request(url, json_body(event), JSON, SIGNING_SECRET)).status
        except aiohttp.ClientError:  # refused: the bot has stopped taking questions, and Slack would retry
            return None

    async with bot_process(tmp_path, "serve", "--http", "--host", "127.0.0.1", "--port", str(port), **settings) as bot:
        await bot.wait_for_line("listening on")
        first = await asyncio.gather(*(deliver(e) for e in events[: burst // 2]))
        rest = [asyncio.create_task(deliver(e)) for e in events[burst // 2 :]]
        status = await bot.stop(signal.SIGTERM)
        statuses = [*first, *await asyncio.gather(*rest)]

    taken = {e["event"]["ts"] for e, s in zip(events, statuses, strict=True) if s == 200}
    answered = {call.params["thread_ts"] for call in slack.calls("chat.postMessage", ok=True)}
    with contextlib.closing(sqlite3.connect(tmp_path / "queries.db")) as db:
        logged = {ts for (ts,) in db.execute("SELECT thread_ts FROM queries WHERE error IS NULL")}
    assert status == 0
    assert len(taken) >= burst // 2
    # The rest were turned away at once (503, or the port was closed), so Slack delivers them again.
    assert set(statuses) <= {200, 503, None}
    assert taken <= answered  # every question acknowledged to Slack was answered...
    assert answered == logged  # ...and every answer is in the log
    assert "query log flushed and closed" in bot.printed
