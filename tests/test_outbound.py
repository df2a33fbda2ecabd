"""What leaves the bot for Slack, end to end: paced so no answer is lost to a rate limit, limited per
person so one flooder cannot crowd others out, never carrying a secret, private answers kept private.

Real: the Bolt app served by `bot.serve.running` over real HTTP, its slack_sdk client, a real SQLite
query log, the real knowledge folder (or a copy). Fake: Slack's servers only (tests/fakeslack.py),
here limiting posts per channel as Slack does.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import reply
from bot.querylog import QueryLog
from tests.conftest import KNOWLEDGE
from tests.fakeslack import (
    BOT_TOKEN,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    SIGNING_SECRET,
    USER_ID,
    Call,
    FakeSlack,
    JsonDict,
    app_mention_event,
    dm_event,
)
from tests.slackbot import (
    ANSWER,
    NEW_ARTICLE,
    NEW_ARTICLE_TEXT,
    QUESTION,
    Bot,
    click_payload,
    mention_text,
    reads,
    serving,
)

FLOODER = "U666"
OTHERS = ("U701", "U702", "U703", "U704")
OTHER_USER = "U999"
ANSWERS_SECONDS = 60.0  # generous: a healthy run answers everyone here in a few seconds
SLOW_DOWN = re.compile(r"You're asking faster than I can answer\. Please try again in (\d+) s\.")


@pytest.fixture
async def bot(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    async with serving(slack, tmp_path) as running:
        yield running


def posts_in_thread(slack: FakeSlack, thread_ts: str) -> list[Call]:
    return [call for call in slack.calls("chat.postMessage", ok=True) if call.params.get("thread_ts") == thread_ts]


async def mention(bot: Bot, question: str, user: str = USER_ID) -> JsonDict:
    event = app_mention_event(mention_text(question), user=user)
    assert (await bot.event(event)).status == 200
    return event


# --- a flooded channel -------------------------------------------------------------------------


async def test_one_person_flooding_a_channel_costs_nobody_else_their_answer(slack: FakeSlack, tmp_path: Path) -> None:
    slack.limit_posts_per_channel(per_second=2)
    async with serving(slack, tmp_path, user_questions_per_minute=3, slack_channel_posts_per_second=1.0) as bot:
        flood = [app_mention_event(mention_text(f"{QUESTION} ({n})"), user=FLOODER) for n in range(60)]
        await asyncio.gather(*(bot.event(event) for event in flood))
        await asyncio.sleep(1.0)  # the scenario: the others ask a second after the flood
        others = [await mention(bot, QUESTION, user) for user in OTHERS]
        assert await bot.running.listeners.idle(ANSWERS_SECONDS), "answers still being sent"
        rows = await bot.rows()

    for event in others:  # every other asker has their answer, in their own thread
        [answer] = posts_in_thread(slack, event["event"]["ts"])
        assert ANSWER in reads(answer.params)
    # Every question has its row; none was lost to Slack's rate limit.
    assert sorted(row.event_id or "" for row in rows) == sorted(e["event_id"] for e in [*flood, *others])
    assert [row.error for row in rows if row.user in OTHERS] == [None] * 4
    flooder = [row for row in rows if row.user == FLOODER]
    assert sum(row.error is None for row in flooder) == 3
    refused = [row.error for row in flooder if row.error is not None]
    assert len(refused) == 57
    assert set(refused) == {"not answered: more than 3 questions in a minute from this person"}
    assert not [row for row in rows if row.error and "could not be delivered" in row.error]
    assert all(call.status in (200, 429) for call in slack.calls("chat.postMessage"))
    # The flooder is told once, where only they see it, and the channel is not flooded with notes.
    [note] = slack.calls("chat.postEphemeral", ok=True)
    assert (note.params["channel"], note.params["user"]) == (CHANNEL_ID, FLOODER)
    seconds = SLOW_DOWN.search(reads(note.params))
    assert seconds is not None and 1 <= int(seconds[1]) <= 60
    assert len(slack.calls("chat.postMessage", ok=True)) == 3 + len(OTHERS)


async def test_the_question_limit_holds_on_every_surface_and_each_refusal_is_logged(
    slack: FakeSlack, tmp_path: Path
) -> None:
    async with serving(slack, tmp_path, user_questions_per_minute=1) as bot:
        _, first_url = await bot.command(QUESTION)
        [answered] = await bot.responses(first_url)
        _, second_url = await bot.command(QUESTION)
        [refused] = await bot.responses(second_url)
        await mention(bot, QUESTION)  # over the limit too: refused without another note
        await mention(bot, "")  # and no usage note either: empty mentions would fill the channel too
        await bot.event(dm_event(QUESTION))
        other = await mention(bot, QUESTION, OTHER_USER)
        [other_answer] = await bot.posts()
        rows = await bot.rows()

    assert ANSWER in reads(answered.params)
    assert refused.params["response_type"] == "ephemeral"
    seconds = SLOW_DOWN.search(reads(refused.params))
    assert seconds is not None and 1 <= int(seconds[1]) <= 60
    assert ANSWER not in reads(refused.params)
    assert other_answer.params["thread_ts"] == other["event"]["ts"]
    assert slack.calls("chat.postEphemeral") == []  # one note a minute, and it went with the refused /ask
    why = "not answered: more than 1 question in a minute from this person"
    logged = sorted((row.surface, row.user, row.channel, row.question, row.error or "") for row in rows)
    assert logged == sorted(
        [
            ("command", USER_ID, CHANNEL_ID, QUESTION, ""),
            ("command", USER_ID, CHANNEL_ID, QUESTION, why),
            ("dm", USER_ID, DM_CHANNEL_ID, QUESTION, why),
            ("mention", OTHER_USER, CHANNEL_ID, QUESTION, ""),
            ("mention", USER_ID, CHANNEL_ID, "", why),
            ("mention", USER_ID, CHANNEL_ID, QUESTION, why),
        ]
    )


async def test_at_shutdown_an_answer_still_waiting_out_a_rate_limit_gives_up_and_its_row_says_so(
    slack: FakeSlack, tmp_path: Path
) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=600)  # far longer than shutdown waits
    async with serving(slack, tmp_path, slack_channel_posts_per_second=1.0) as bot:
        await mention(bot, QUESTION)
        await slack.wait_for("chat.postMessage", ok=False)

    async with await QueryLog.open_read_only(bot.settings.query_log_path) as log:
        [row] = await log.recent()
    assert row.error is not None and "the bot stopped before Slack would take this message" in row.error
    assert slack.calls("chat.postMessage", ok=True) == []


# --- secrets -----------------------------------------------------------------------------------


async def test_no_secret_reaches_slack_even_from_an_article_that_contains_one(slack: FakeSlack, tmp_path: Path) -> None:
    knowledge = Path(shutil.copytree(KNOWLEDGE, tmp_path / "knowledge"))
    leaky = NEW_ARTICLE_TEXT.replace(
        "a veto over contracts that affect its own residents.",
        f"a veto over contracts that affect its own residents. The hub's keys are {BOT_TOKEN} and {SIGNING_SECRET}.",
    )
    (knowledge / NEW_ARTICLE).write_text(leaky, encoding="utf-8")
    question = "What keys does the Wombat Commissioning Framework hub use?"
    async with serving(slack, tmp_path, knowledge_dir=knowledge) as bot:
        await mention(bot, question)
        _, response_url = await bot.command(question)
        [posted] = await bot.posts()
        [private] = await bot.responses(response_url)
        share_url = slack.response_url()
        await bot.click(click_payload(private.params, reply.ACTION_SHARE, response_url=share_url, ephemeral=True))
        [shared, _] = await bot.responses(share_url, 2)

    for message in (posted.params, private.params, shared.params):
        assert "14 pilot councils" in reads(message)  # the article was shown...
        sent = json.dumps(message)
        assert BOT_TOKEN not in sent and SIGNING_SECRET not in sent  # ...without the secrets in it


# --- private answers ---------------------------------------------------------------------------


async def test_more_results_of_someone_elses_private_answer_reveal_nothing(bot: Bot) -> None:
    secret_question = "How many CCGs overspent in 2017-18 in my own trust?"
    _, response_url = await bot.command(secret_question)
    [answer] = await bot.responses(response_url)
    click_url = bot.slack.response_url()

    payload = click_payload(answer.params, reply.ACTION_MORE, response_url=click_url, user=OTHER_USER, ephemeral=True)
    await bot.click(payload)

    [note] = await bot.responses(click_url)
    assert note.params["response_type"] == "ephemeral"
    assert "in my own trust" not in reads(note.params)
    assert "*4.*" not in note.params.get("text", "") and not note.params.get("blocks")
    assert bot.slack.calls("chat.postMessage") == []
