"""A busy hour compressed: 1,000 questions from 50 people at once, with Slack delivering one in five twice.

Real: the Bolt app served by `bot.serve.running` over real HTTP, its SQLite query log (read here
straight from the file), the real knowledge folder. Fake: Slack's servers only (tests/fakeslack.py).

Slack retries a delivery it thinks timed out (`X-Slack-Retry-Num: 1`, `X-Slack-Retry-Reason:
http_timeout`), with the same event and event_id. Here a retry arrives while the first delivery is
still being answered, right after it was acknowledged, or long after it was answered. Whatever the
timing, each question gets exactly one answer, in the right place, and exactly one row in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiohttp
import yaml

from bot import reply
from tests.conftest import ROOT
from tests.fakeslack import (
    JSON,
    FakeSlack,
    HttpReply,
    JsonDict,
    app_mention_event,
    dm_event,
    http_request,
    json_body,
    slack_headers,
)
from tests.slackbot import buttons, mention_text, serving

USERS = 50
QUESTIONS_PER_USER = 20  # 1,000 in all
RETRY_EVERY = 5  # one delivery in five is sent again
CHANNELS = 5  # the users' @mentions go to a handful of shared channels; their DMs each to their own
ANSWER_TIMEOUT = 120.0  # for all the answers; a hang fails the test, a healthy run needs a fraction

Retry = Literal["during", "after", "later"]


@dataclass(frozen=True)
class Question:
    user: str
    text: str
    where: Literal["mention", "dm"]
    event: JsonDict  # the Events API body Slack delivers
    retry: Retry | None  # when Slack delivers it again, if it does

    @property
    def event_id(self) -> str:
        return str(self.event["event_id"])

    @property
    def channel(self) -> str:
        return str(self.event["event"]["channel"])

    @property
    def thread_ts(self) -> str | None:
        """Where the answer belongs: a mention's own thread; a DM is answered in the DM, not in a thread."""
        return str(self.event["event"]["ts"]) if self.where == "mention" else None


def plain_questions() -> list[str]:
    """The evaluation questions (on-topic and off-topic), those the log keeps exactly as typed."""
    data = yaml.safe_load((ROOT / "tests" / "questions.yaml").read_text(encoding="utf-8"))
    return [q["q"] for q in data["questions"] if q["q"].isascii() and " ".join(q["q"].split()) == q["q"]]


def plan() -> dict[str, list[Question]]:
    """Each user's questions in the order they ask them: mentions and DMs mixed; every fifth question
    (counted across all users) delivered twice, the retry's timing cycling through during/after/later."""
    texts = plain_questions()
    timings: tuple[Retry, ...] = ("during", "after", "later")
    asked: dict[str, list[Question]] = {}
    number = 0
    for u in range(USERS):
        user = f"U{u:04d}"
        asked[user] = []
        for n in range(QUESTIONS_PER_USER):
            text = texts[number % len(texts)]
            if (u + n) % 2:
                where: Literal["mention", "dm"] = "dm"
                event = dm_event(text, user=user, channel=f"D{u:04d}")
            else:
                where = "mention"
                event = app_mention_event(mention_text(text), user=user, channel=f"C{u % CHANNELS:04d}")
            retry = timings[number // RETRY_EVERY % len(timings)] if number % RETRY_EVERY == 0 else None
            asked[user].append(Question(user, text, where, event, retry))
            number += 1
    return asked


def log_rows(path: Path) -> list[tuple[str, str | None, str, str | None, str | None, str | None, str, str | None]]:
    """(id, event_id, surface, channel, thread_ts, user, question, error) of every logged question, from the file."""
    with contextlib.closing(sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)) as db:
        sql = "SELECT id, event_id, surface, channel, thread_ts, user, question, error FROM queries"
        return db.execute(sql).fetchall()


async def test_thousand_questions_from_fifty_users_with_retries_are_each_answered_and_logged_once(
    slack: FakeSlack, tmp_path: Path
) -> None:
    asked = plan()
    questions = {q.event_id: q for qs in asked.values() for q in qs}
    replies: list[HttpReply] = []
    later: list[Question] = []

    async with serving(slack, tmp_path) as bot:

        async def deliver(session: aiohttp.ClientSession, question: Question, retry: bool) -> HttpReply:
            body = json_body(question.event)
            headers = slack_headers(body, JSON, retry_num=1 if retry else None, retry_reason="http_timeout")
            answer = await http_request(bot.events_url, body, headers, session=session)
            replies.append(answer)
            return answer

        async def person(user: str) -> None:
            """One user asking their questions one after another, each as soon as Slack acknowledged the last;
            Slack delivers each on the user's own keep-alive connections."""
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
                for question in asked[user]:
                    if question.retry == "during":
                        await asyncio.gather(deliver(session, question, False), deliver(session, question, True))
                    else:
                        await deliver(session, question, False)
                        if question.retry == "after":
                            await deliver(session, question, True)  # acknowledged; its answer may be in flight
                        elif question.retry == "later":
                            later.append(question)

        await asyncio.gather(*(person(user) for user in asked))
        await slack.wait_for("chat.postMessage", len(questions), timeout=ANSWER_TIMEOUT)
        await bot.settle()
        async with aiohttp.ClientSession() as session:  # long after the answers: Slack's last retries
            await asyncio.gather(*(deliver(session, question, True) for question in later))
        await bot.settle()

        posts = slack.calls("chat.postMessage")
        rows = log_rows(Path(bot.settings.query_log_path))

    retries = sum(q.retry is not None for q in questions.values())
    assert retries == len(questions) // RETRY_EVERY == 200
    assert len(replies) == len(questions) + retries
    assert Counter(r.status for r in replies) == {200: len(replies)}

    # Exactly one log row per question, none failed.
    assert Counter(row[1] for row in rows) == Counter(list(questions))
    assert [row for row in rows if row[7] is not None] == []
    by_query = {row[0]: row for row in rows}

    # Exactly one answer per question, in the right place: each answer's buttons name the question it
    # answers, whose log row names the event that asked it.
    assert all(call.ok for call in posts)
    answered = Counter(reply.parse_action_value(buttons(call.params)[reply.ACTION_VOTE_UP])[0] for call in posts)
    assert answered == Counter(list(by_query))
    for call in posts:
        query_id, _ = reply.parse_action_value(buttons(call.params)[reply.ACTION_VOTE_UP])
        _, event_id, surface, channel, thread_ts, user, text, _ = by_query[query_id]
        question = questions[str(event_id)]
        assert (call.params["channel"], call.params.get("thread_ts")) == (question.channel, question.thread_ts)
        assert (surface, channel, thread_ts, user, text) == (
            question.where,
            question.channel,
            question.thread_ts,
            question.user,
            question.text,
        )
