"""The same Slack bot over Socket Mode: envelopes in over a websocket, acks back, answers by Web API.

Real: the Bolt app started by `bot.serve.running(..., http=False)` with Bolt's own
AsyncSocketModeHandler, which opens its connection with `apps.connections.open` (app-level token)
and then talks over a real websocket; a real SQLite query log; the real knowledge folder. Fake:
Slack's servers (tests/fakeslack.py), which hand out their own ws:// URL, push envelopes, collect
the acks and record every Web API call and response_url post.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import reply
from tests.fakeslack import (
    APP_TOKEN,
    CHANNEL_ID,
    USER_ID,
    FakeSlack,
    app_mention_event,
    slash_command_form,
)
from tests.slackbot import (
    ANSWER,
    QUESTION,
    Bot,
    buttons,
    click_payload,
    mention_text,
    posted,
    reads,
    serving,
    shown,
)


@pytest.fixture
async def bot(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    """The bot in Socket Mode (no signing secret: Socket Mode needs none), connected to the fake."""
    async with serving(slack, tmp_path, http=False, slack_signing_secret=None) as running:
        yield running


async def test_connects_with_the_app_token(bot: Bot) -> None:
    opened = bot.slack.calls("apps.connections.open")

    assert opened and all(call.ok and call.token == APP_TOKEN for call in opened)
    assert bot.slack.connections == 1
    assert bot.running.url is None  # no HTTP endpoint in Socket Mode


async def test_mention_is_acked_and_answered_in_its_thread(bot: Bot) -> None:
    event = app_mention_event(mention_text(QUESTION))

    ack = await bot.slack.socket_send("events_api", event)

    [call] = await bot.posts()
    [row] = await bot.rows()
    assert ack["envelope_id"]
    assert (call.params["channel"], call.params["thread_ts"]) == (CHANNEL_ID, event["event"]["ts"])
    assert ANSWER in reads(call.params)
    assert (row.surface, row.question, row.event_id) == ("mention", QUESTION, event["event_id"])


async def test_retried_envelope_is_answered_once(bot: Bot) -> None:
    event = app_mention_event(mention_text(QUESTION))

    await bot.slack.socket_send("events_api", event)
    await bot.posts()
    retry_ack = await bot.slack.socket_send("events_api", event, retry_attempt=1, retry_reason="timeout")

    assert retry_ack["envelope_id"]  # acked, so Slack stops retrying
    assert len(await bot.rows()) == 1
    assert len(bot.slack.calls("chat.postMessage")) == 1


async def test_slash_command_is_acked_then_answered_privately(bot: Bot) -> None:
    response_url = bot.slack.response_url()

    ack = await bot.slack.socket_send("slash_commands", slash_command_form(QUESTION, response_url=response_url))

    [answer] = await bot.responses(response_url)
    [row] = await bot.rows()
    assert set(ack) == {"envelope_id"}  # an empty ack: the answer follows
    assert answer.params["response_type"] == "ephemeral"
    assert ANSWER in reads(answer.params)
    assert reply.ACTION_SHARE in buttons(answer.params)
    assert (row.surface, row.user) == ("command", USER_ID)


async def test_empty_slash_command_gets_the_usage_hint_in_the_ack(bot: Bot) -> None:
    response_url = bot.slack.response_url()

    ack = await bot.slack.socket_send("slash_commands", slash_command_form("", response_url=response_url))

    await bot.settle()
    assert "`/ask` and your question" in shown(ack["payload"])
    assert bot.responses_now(response_url) == []
    assert await bot.rows() == []


async def test_button_click_is_acked_and_recorded(bot: Bot) -> None:
    await bot.slack.socket_send("events_api", app_mention_event(mention_text(QUESTION)))
    [call] = await bot.posts()
    click_url = bot.slack.response_url()

    ack = await bot.slack.socket_send(
        "interactive", click_payload(posted(call), reply.ACTION_VOTE_UP, response_url=click_url)
    )

    [update] = await bot.responses(click_url)
    [row] = await bot.rows()
    assert ack["envelope_id"]
    assert update.params["replace_original"] is True
    assert "marked as helpful 👍" in reads(update.params)
    assert row.feedback == "up"
