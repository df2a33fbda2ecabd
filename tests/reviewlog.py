"""A small, real query log for the review tests (tests/test_review.py, tests/test_datasette.py).

Each question is answered by the real engine over the real knowledge folder, so its passages, abstention
and unknown words are what the bot would log, and the rows are written through the real QueryLog.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from pathlib import Path

from bot.models import QueryRecord, ResultRef
from bot.querylog import QueryLog
from bot.search import Index

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)  # a Monday
DAY = 24 * 60  # minutes
SINCE = "2025-03-01"  # after OLD, before everything else
OLD = "recipe for banana bread"
ERROR = "search failed: RuntimeError"
FAILED = "Is the Better Care Fund ringfenced?"  # logged with ERROR: the search failed
MARKUP = "What does [bold]ICS[/bold] mean in <https://example.org|links> — café?"
# Asked before the knowledge base had any council article (unknown_words as stored then): "councils"
# is no gap now, however often it was logged.
COUNCILS = "What do councils charge nurses for parking?"

# (minutes after T0, user, channel, surface, question, feedback)
QUESTIONS: tuple[tuple[int, str, str, str, str, str | None], ...] = (
    (0, "U01", "C01", "mention", "How many CCGs overspent in 2017-18?", "up"),
    (30, "U02", "C01", "mention", "Where can nurses park at the hospital? parking permits", None),
    (60, "U02", "D01", "dm", "What is the parking policy for hospital staff?", None),
    (DAY, "U03", "C02", "thread", "overspent parking charges", "down"),
    (DAY + 30, "U03", "C02", "command", "What did Lorraine O'Reilly say about salami slicing?", None),
    (DAY + 60, "U01", "C02", "mention", "how many   CCGs  overspent in 2017-18?", None),
    (2 * DAY, "U01", "C01", "mention", MARKUP, None),
    (2 * DAY + 30, "U02", "C01", "mention", FAILED, None),
    (2 * DAY + 60, "U01", "C01", "mention", "overspent parking", None),  # unknown words, but answered, no 👎
    (2 * DAY + 90, "U03", "C01", "mention", COUNCILS, None),
    (-12 * DAY, "U01", "C01", "mention", OLD, None),
)


def record(index: Index, question: str, when: dt.datetime, **fields: object) -> QueryRecord:
    """The row the bot logs for `question`, answered by the real engine."""
    values: dict[str, object] = {"team": "T01", "surface": "mention", "index_version": index.version}
    if question == FAILED:
        values |= {"error": ERROR, "latency_ms": 3.0}
    else:
        answer = index.search(question)
        values |= {
            "results": tuple(
                ResultRef(passage=h.passage.id, score=round(h.score, 6), relevance=h.relevance) for h in answer.hits
            ),
            "abstained": answer.abstained,
            "unknown_words": answer.unknown,
            "latency_ms": round(answer.took_ms, 3) + 150.0,  # plus Slack's round trip
        }
    if question == COUNCILS:
        values["unknown_words"] = ("councils", *index.unknown_words(question))
    values |= fields
    return QueryRecord.model_validate({"id": uuid.uuid4().hex, "time": when, "question": question} | values)


def standard_rows(index: Index) -> list[QueryRecord]:
    return [
        record(index, q, T0 + dt.timedelta(minutes=m), user=u, channel=c, surface=s, feedback=f)
        for m, u, c, s, q, f in QUESTIONS
    ]


async def write_log(path: Path, rows: Iterable[QueryRecord], user_key: bytes | None = None) -> Path:
    """Write `rows` to a new log at `path` through QueryLog, as the bot does, and close it: each question
    is recorded without its vote, which its asker then casts, so the vote has its time as in Slack."""
    async with await QueryLog.open(path, user_key=user_key) as log:
        rows = list(rows)
        for row in rows:
            log.record(row.model_copy(update={"feedback": None}))
        assert await log.flush(timeout=10)
        for row in rows:
            if row.feedback:
                assert row.user and await log.set_feedback(row.id, row.user, row.feedback) == "recorded"
    return path
