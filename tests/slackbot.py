"""Helpers for the end-to-end tests of the Slack bot (tests/test_app.py, tests/test_socket_mode.py).

What is real: the Bolt app from bot/app.py, started by `bot.serve.running` exactly as `python -m
bot serve` starts it (real HTTP on a local port, or Socket Mode over a real websocket), a real
SQLite query log in the test's tmp folder, and the real knowledge folder (or a copy of it, for the
tests that change it). What is fake: Slack's own servers, tests/fakeslack.py, which the bot's real
slack_sdk client reaches through SLACK_API_URL and which records every call for the assertions.

`serving(...)` starts the bot; `Bot` sends it what Slack sends (signed events, slash commands,
button clicks) and reads what users and admins see: the recorded Slack calls and the query log.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.config import Settings, load_settings
from bot.inbound import EVENTS_PATH
from bot.models import QueryRecord
from bot.search import DEFAULT_MIN_RELEVANCE
from bot.serve import HEALTH_PATH, Running, running
from tests.conftest import KNOWLEDGE
from tests.fakeslack import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER_ID,
    CHANNEL_ID,
    FORM,
    JSON,
    RESPONSE_URL,
    SIGNING_SECRET,
    USER_ID,
    Call,
    FakeSlack,
    HttpReply,
    block_actions_payload,
    form_body,
    interactive_body,
    json_body,
    signed_request,
    slash_command_form,
)
from tests.mrkdwn import unescape

JsonDict = dict[str, Any]

QUESTION = "How many CCGs overspent in 2017-18?"
ANSWER = "75 of 207 CCGs"  # in the passage that answers QUESTION
NAO_TITLE = "Spending watchdog concern at proportion of CCGs failing to function effectively"
NAO_FILE = "000_eb80a55c94ec531c.txt"
NAO_PASSAGE = "000-eb80a55c94ec531c-2"
# An article no other file mentions, for the tests that add one to a copy of the knowledge folder.
NEW_ARTICLE = "005_wombat_commissioning.txt"
NEW_ARTICLE_TEXT = """Wombat Commissioning Framework launched for rural councils

The Department announced the Wombat Commissioning Framework, a scheme that lets rural councils pool
their commissioning budgets for community transport and meals on wheels.

Under the framework, 14 pilot councils will share a commissioning hub from April, and each will keep
a veto over contracts that affect its own residents.
"""
NEW_ARTICLE_ANSWER = (
    "lets rural councils pool"  # in the sentence that answers "What is the Wombat Commissioning Framework?"
)
SETTLE_SECONDS = 10.0  # how long `settle` lets listeners finish; a hang fails the test, nothing waits this long


def bot_settings(slack: FakeSlack, tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a bot that talks to `slack`, logs to tmp_path, and reads the real knowledge folder.

    Every setting is given, so neither a developer's .env nor the environment changes a test."""
    values: dict[str, object] = {
        "_env_file": None,
        "knowledge_dir": KNOWLEDGE,
        "results": 3,
        "min_relevance": DEFAULT_MIN_RELEVANCE,
        "slack_bot_token": BOT_TOKEN,
        "slack_app_token": APP_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "slack_timeout_seconds": 10,
        # Off unless a test is about them: fifty questions in one channel would take fifty seconds.
        "slack_channel_posts_per_second": 0,
        "user_questions_per_minute": 0,
        "query_log_path": tmp_path / "queries.db",
        "save_index": True,
        "index_path": None,
        "admin_user_ids": "",
        "workspace_admins_are_admins": False,
        "log_retention_days": 365,
        "hash_user_ids": False,
        "user_id_hash_key": None,
        "log_level": "INFO",
        "log_format": "text",
        "watch_knowledge": False,
        "watch_debounce_seconds": 2.0,
    }
    return load_settings(**(values | overrides))


@contextlib.asynccontextmanager
async def serving(slack: FakeSlack, tmp_path: Path, *, http: bool = True, **overrides: object) -> AsyncIterator[Bot]:
    """The bot, started as `python -m bot serve [--http]` starts it, on a free port, until the block ends."""
    settings = bot_settings(slack, tmp_path, **overrides)
    async with running(settings, http=http, port=0) as bot:
        if not http:
            await slack.wait_connected()
        yield Bot(slack, bot, settings)


@dataclass
class Bot:
    """A running bot and the fake Slack it talks to, with what a test needs to play Slack's part."""

    slack: FakeSlack
    running: Running
    settings: Settings

    # -- what Slack sends over HTTP ---------------------------------------------------------

    @property
    def events_url(self) -> str:
        assert self.running.url is not None, "an HTTP-mode bot"
        return self.running.url + EVENTS_PATH

    @property
    def health_url(self) -> str:
        assert self.running.url is not None, "an HTTP-mode bot"
        return self.running.url + HEALTH_PATH

    async def event(self, payload: Mapping[str, Any], *, retry_num: int | None = None) -> HttpReply:
        """Deliver an Events API payload, signed, as Slack does; the bot answers 200 at once and works after."""
        return await signed_request(self.events_url, json_body(payload), JSON, retry_num=retry_num)

    async def command(
        self, text: str, *, command: str = "/ask", user: str = USER_ID, channel: str | None = None
    ) -> tuple[HttpReply, str]:
        """Run a slash command; returns Slack's HTTP exchange with the bot and the command's response_url."""
        url = self.slack.response_url()
        fields = slash_command_form(text, response_url=url, command=command, user_id=user)
        if channel is not None:
            fields["channel_id"] = channel
        return await signed_request(self.events_url, form_body(fields), FORM), url

    async def click(self, payload: Mapping[str, Any]) -> HttpReply:
        """Deliver a button click (see `click_payload`)."""
        return await signed_request(self.events_url, interactive_body(payload), FORM)

    # -- what users and admins see ----------------------------------------------------------

    async def posts(self, count: int = 1) -> list[Call]:
        """The first `count` successful chat.postMessage calls, waiting for them."""
        return (await self.slack.wait_for("chat.postMessage", count, ok=True))[:count]

    async def responses(self, url: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """What the bot posted to one response_url, waiting until there are at least `count` posts."""
        path = urlsplit(url).path
        async with asyncio.timeout(timeout):
            wanted = 1
            while True:
                calls = await self.slack.wait_for(RESPONSE_URL, wanted, timeout=timeout)
                mine = [call for call in calls if call.path == path]
                if len(mine) >= count:
                    return mine
                wanted = len(calls) + 1

    def responses_now(self, url: str) -> list[Call]:
        path = urlsplit(url).path
        return [call for call in self.slack.calls(RESPONSE_URL) if call.path == path]

    async def settle(self) -> None:
        """Let every listener that has started finish, and the query log write what they logged.

        Bolt starts an event's listener before it sends the HTTP 200, so after a delivery this
        also waits for the work the delivery caused (including deciding to say nothing)."""
        assert await self.running.listeners.idle(SETTLE_SECONDS), "listeners still running"
        assert await self.running.log.flush(SETTLE_SECONDS), "query log not flushed"

    async def rows(self) -> list[QueryRecord]:
        """The query log as an admin reads it, oldest first, once every answer in flight has finished."""
        await self.settle()
        return list(reversed(await self.running.log.recent(limit=1000)))

    def admin_attempts(self) -> list[tuple[str, str, bool]]:
        """(user, command, allowed) for each /ask-admin attempt, read from the SQLite file read-only."""
        path = Path(self.settings.query_log_path).resolve()
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT user, command, allowed FROM admin_commands ORDER BY id").fetchall()
        return [(user, command, bool(allowed)) for user, command, allowed in rows]

    async def health(self) -> tuple[int, JsonDict]:
        async with aiohttp.ClientSession() as session, session.get(self.health_url) as response:
            return response.status, await response.json()


# -- reading messages -----------------------------------------------------------------------


def texts(message: Mapping[str, Any]) -> Iterator[str]:
    """Every piece of text in a posted message: the fallback `text` and each text in its blocks."""

    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    yield item
                else:
                    yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    if isinstance(message.get("text"), str):
        yield message["text"]
    yield from walk(message.get("blocks") or [])


def shown(message: Mapping[str, Any]) -> str:
    """All the message's text as one string, for `in` checks."""
    return "\n".join(texts(message))


def block_texts(message: Mapping[str, Any]) -> str:
    """The mrkdwn Slack shows for a message: its blocks' text, or its `text` when it has no blocks."""
    if not message.get("blocks"):
        return str(message.get("text", ""))
    return "\n".join(texts({"blocks": message["blocks"]}))


def reads(message: Mapping[str, Any]) -> str:
    """What a reader sees of a message: `block_texts` without bold or code markers, entities shown as characters."""
    return unescape(block_texts(message).replace("*", "").replace("`", ""))


_MARKUP = re.compile(r"<([^<>]*)>")


def markup(message: Mapping[str, Any]) -> set[str]:
    """Slack markup in a message other than links: `<@U…>`, `<!channel>`, `<#C…>` and the like."""
    found = set()
    for text in texts(message):
        for match in _MARKUP.finditer(text):
            if not match[1].startswith(("http://", "https://")):
                found.add(match[0])
    return found


def buttons(message: Mapping[str, Any]) -> dict[str, str]:
    """action_id -> value of every button in the message."""
    return {
        element["action_id"]: element.get("value", "")
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("type") == "button"
    }


def click_payload(
    message: Mapping[str, Any],
    action_id: str,
    *,
    response_url: str,
    user: str = USER_ID,
    value: str | None = None,
    ephemeral: bool = False,
) -> JsonDict:
    """A click on one of a message's buttons, as Slack sends it: the button's own value unless `value`
    forges one; for a message in a channel Slack includes the message (blocks too), for an ephemeral
    one it does not. `message` is what the bot posted (a Call's params)."""
    channel = str(message.get("channel") or CHANNEL_ID)
    ts = str(message.get("ts") or "")
    payload = block_actions_payload(
        action_id,
        buttons(message)[action_id] if value is None else value,
        response_url=response_url,
        user=user,
        channel=channel,
        message_ts=ts or None,
        block_id="answer_actions",
    )
    if ephemeral:
        payload["container"]["is_ephemeral"] = True
        del payload["message"]
    else:
        payload["message"] |= {"text": message.get("text", ""), "blocks": message.get("blocks", [])}
    return payload


def posted(call: Call) -> JsonDict:
    """A chat.postMessage call as the message Slack stored: its params plus the ts Slack gave it."""
    return dict(call.params) | {"ts": call.response.get("ts")}


def mention_text(question: str) -> str:
    """An @mention as Slack sends it."""
    return f"<@{BOT_USER_ID}> {question}"
