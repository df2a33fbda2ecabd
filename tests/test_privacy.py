"""Privacy: user ids stored as keyed hashes when asked for, and rows deleted after the retention period.

Real: bot/privacy.py, the query log on a real SQLite file, and the bot served over HTTP against the
fake Slack (tests/slackbot.py) for what users notice: voting and sharing still work for the asker.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import uuid
from pathlib import Path

import pytest

from bot import reply
from bot.config import SettingsError, load_settings
from bot.models import QueryRecord
from bot.privacy import pseudonym
from bot.querylog import QueryLog
from bot.serve import prune_daily
from tests.fakeslack import USER_ID, FakeSlack, app_mention_event
from tests.slackbot import ANSWER, QUESTION, click_payload, mention_text, posted, reads, serving, shown

KEY = "k" * 40
OTHER_USER = "U999"
NOW = dt.datetime.now(dt.UTC)


def row(days_ago: float, user: str = USER_ID, question: str = "What is a section 75 agreement?") -> QueryRecord:
    return QueryRecord(
        id=uuid.uuid4().hex,
        time=NOW - dt.timedelta(days=days_ago),
        channel="C01",
        user=user,
        surface="mention",
        question=question,
    )


def file_bytes(path: Path) -> bytes:
    """Everything SQLite keeps on disk for the log: the database and any write-ahead log."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def stored_users(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return [user for (user,) in db.execute("SELECT user FROM queries UNION ALL SELECT user FROM admin_commands")]


# --- pseudonyms ---------------------------------------------------------------------------


def test_a_pseudonym_is_stable_keyed_and_does_not_contain_the_id() -> None:
    first = pseudonym(USER_ID, KEY.encode())
    assert first == pseudonym(USER_ID, KEY.encode())  # the same person is recognisable across questions
    assert first != pseudonym(OTHER_USER, KEY.encode())
    assert first != pseudonym(USER_ID, b"another key of forty characters........")
    assert USER_ID not in first and first.startswith("h-")


async def test_hashed_log_never_stores_the_user_id_but_still_finds_the_users_questions(tmp_path: Path) -> None:
    path = tmp_path / "queries.db"
    asked = row(0)
    async with await QueryLog.open(path, user_key=KEY.encode()) as log:
        log.record(asked)
        log.record(row(0, user=OTHER_USER))
        log.record_admin(USER_ID, "stats", allowed=False)
        assert await log.flush(5)
        assert [r.id for r in await log.recent(user=USER_ID)] == [asked.id]  # --user takes the real id
        assert await log.set_feedback(asked.id, OTHER_USER, "down") == "not_yours"
        assert await log.set_feedback(asked.id, USER_ID, "up") == "recorded"
    users = stored_users(path)
    assert len(users) == 3 and all(u.startswith("h-") for u in users)
    assert USER_ID.encode() not in file_bytes(path) and OTHER_USER.encode() not in file_bytes(path)


async def test_with_hashing_the_asker_can_still_vote_and_share_and_nobody_else_can(
    slack: FakeSlack, tmp_path: Path
) -> None:
    async with serving(slack, tmp_path, hash_user_ids=True, user_id_hash_key=KEY) as bot:
        _, response_url = await bot.command(QUESTION)
        [answer] = await bot.responses(response_url)
        other_url = bot.slack.response_url()
        await bot.click(
            click_payload(answer.params, reply.ACTION_SHARE, response_url=other_url, user=OTHER_USER, ephemeral=True)
        )
        [refused] = await bot.responses(other_url)
        share_url = bot.slack.response_url()
        await bot.click(click_payload(answer.params, reply.ACTION_SHARE, response_url=share_url, ephemeral=True))
        shared, _ = await bot.responses(share_url, 2)

        await bot.event(app_mention_event(mention_text(QUESTION)))
        [mention] = await bot.posts()
        vote_url = bot.slack.response_url()
        await bot.click(click_payload(posted(mention), reply.ACTION_VOTE_DOWN, response_url=vote_url))
        [voted] = await bot.responses(vote_url)
        rows = await bot.rows()

    assert "Only the person who asked can share" in refused.params["text"]
    assert f"Shared by <@{USER_ID}>" in shown(shared.params) and ANSWER in reads(shared.params)
    assert "marked as not helpful 👎" in shown(voted.params)
    assert [r.feedback for r in rows] == [None, "down"]
    assert {r.user for r in rows} == {pseudonym(USER_ID, KEY.encode())}
    assert USER_ID.encode() not in file_bytes(tmp_path / "queries.db")


def test_hashing_without_a_long_enough_key_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASH_USER_IDS", "true")
    with pytest.raises(SettingsError, match=r"USER_ID_HASH_KEY must be set to 32 or more.*secrets.token_hex"):
        load_settings(_env_file=None)
    monkeypatch.setenv("USER_ID_HASH_KEY", "short-SECRET")
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None)
    assert "USER_ID_HASH_KEY" in str(error.value) and "short-SECRET" not in str(error.value)


# --- retention ----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "days"), [("30", 30), ("", None)])
def test_retention_is_in_days_and_empty_keeps_rows_forever(
    monkeypatch: pytest.MonkeyPatch, value: str, days: int | None
) -> None:
    monkeypatch.setenv("LOG_RETENTION_DAYS", value)
    assert load_settings(_env_file=None).log_retention_days == days


def test_a_retention_of_zero_days_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_RETENTION_DAYS", "0")
    with pytest.raises(SettingsError, match=r"LOG_RETENTION_DAYS: .*greater than or equal to 1"):
        load_settings(_env_file=None)


async def test_prune_deletes_questions_and_admin_commands_before_the_cutoff_only(tmp_path: Path) -> None:
    path = tmp_path / "queries.db"
    old, recent = row(400, question="An old question about pooled budgets?"), row(10)
    async with await QueryLog.open(path) as log:
        log.record(old)
        log.record(recent)
        log.record_admin(USER_ID, "stats", allowed=True)
        assert await log.flush(5)
        assert await log.prune(NOW - dt.timedelta(days=30)) == 1
        assert [r.id for r in await log.recent()] == [recent.id]
        assert await log.prune(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)) == 2  # the question and the admin row
        assert await log.recent() == []
    assert b"An old question about pooled budgets?" not in file_bytes(path)


async def test_the_bot_deletes_expired_rows_at_start_up(slack: FakeSlack, tmp_path: Path) -> None:
    old, recent = row(40), row(20)
    async with await QueryLog.open(tmp_path / "queries.db") as log:
        log.record(old)
        log.record(recent)

    async with serving(slack, tmp_path, log_retention_days=30) as bot:
        assert [r.id for r in await bot.rows()] == [recent.id]


async def test_expired_rows_are_deleted_again_while_the_bot_runs(tmp_path: Path) -> None:
    async with await QueryLog.open(tmp_path / "queries.db") as log:
        pruning = asyncio.create_task(prune_daily(log, days=30, every=0.05))
        try:
            expired, kept = row(31), row(29)
            log.record(expired)
            log.record(kept)
            assert await log.flush(5), "the rows never reached the database"
            async with asyncio.timeout(10):
                while await log.get(expired.id) is not None:
                    await asyncio.sleep(0.05)
        finally:
            pruning.cancel()
    assert absent(tmp_path / "queries.db", expired.id)
    assert not absent(tmp_path / "queries.db", kept.id)  # only what is older than the retention goes


def absent(path: Path, query_id: str) -> bool:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT count(*) FROM queries WHERE id = ?", (query_id,)).fetchone() == (0,)
