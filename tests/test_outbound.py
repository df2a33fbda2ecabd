"""What leaves the bot for Slack, end to end: private answers kept private.

Real: the Bolt app served by `bot.serve.running` over real HTTP, its slack_sdk client, a real SQLite
query log, the real knowledge folder. Fake: Slack's servers only (tests/fakeslack.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import reply
from tests.fakeslack import FakeSlack
from tests.slackbot import Bot, click_payload, reads, serving

OTHER_USER = "U999"


@pytest.fixture
async def bot(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    async with serving(slack, tmp_path) as running:
        yield running


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
