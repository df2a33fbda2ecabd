"""The bot end to end when Slack is slow to answer a post: the asker still gets exactly one answer.

Real: the bot served over HTTP by `bot.serve.running`, its slack_sdk client with a one-second
time-out (SLACK_TIMEOUT_SECONDS=1), the query log. Fake: Slack (tests/fakeslack.py), which holds
the bot's first chat.postMessage past that time-out, having either delivered it or lost it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.slack_client import ANSWER_EVENT_TYPE
from tests.fakeslack import CHANNEL_ID, FakeSlack, app_mention_event
from tests.slackbot import ANSWER, QUESTION, mention_text, reads, serving

SLOW = 2.0  # seconds Slack holds the first post: twice the bot's time-out


@pytest.mark.parametrize("slack_did", ["deliver", "lose"])
async def test_mention_whose_answer_times_out_is_answered_once_and_logged_without_error(
    slack: FakeSlack, tmp_path: Path, slack_did: str
) -> None:
    if slack_did == "deliver":
        slack.answer_late_next("chat.postMessage", SLOW)  # delivered; only Slack's answer is late
    else:
        slack.lose_next("chat.postMessage", SLOW)  # never delivered
    event = app_mention_event(mention_text(QUESTION))

    async with serving(slack, tmp_path, slack_timeout_seconds=1) as bot:
        assert (await bot.event(event)).status == 200
        [row] = await bot.rows()

    [answer] = slack.channel_messages(CHANNEL_ID)
    assert answer["thread_ts"] == event["event"]["ts"]
    assert ANSWER in reads(answer)
    assert answer["metadata"] == {"event_type": ANSWER_EVENT_TYPE, "event_payload": {"key": row.id}}
    assert (row.question, row.thread_ts, row.error) == (QUESTION, event["event"]["ts"], None)
    assert len(slack.calls("conversations.replies")) == 1  # it looked before deciding
    posts = 1 if slack_did == "deliver" else 2
    await slack.wait_for("chat.postMessage", posts, timeout=10)  # the held post's answer comes late
    assert len(slack.calls("chat.postMessage")) == posts
