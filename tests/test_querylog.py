"""The query log: rows land exactly once, survive outages and restarts, and read back whole."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.models import QueryRecord, ResultRef, Stats
from bot.querylog import MIGRATIONS, QueryLog, QueryLogError

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)

FULL = QueryRecord(
    id="0f3c2a9e5d6b4c1a8e7f6a5b4c3d2e1f",
    time=dt.datetime(2025, 3, 3, 9, 15, 30, 123456, tzinfo=dt.UTC),
    team="T01",
    channel="C01",
    user="U01",
    surface="mention",
    question="Who funds the Better Care Fund? 'quotes', \"doubles\" -- ; DROP TABLE queries; 名前",
    thread_ts="1709457330.123456",
    event_id="Ev01",
    results=(
        ResultRef(passage="000-eb80a55c94ec531c-2", score=7.25, relevance=0.8125),
        ResultRef(passage="004-1234abcd-1", score=3.1, relevance=0.4),
    ),
    abstained=False,
    latency_ms=12.5,
    index_version="v3",
    feedback=None,
    error=None,
    unknown_words=("名前", "drop"),
)

# The schema as version 1 shipped it: a database written then must open after any upgrade.
SCHEMA_V1 = """
CREATE TABLE queries (
    id TEXT PRIMARY KEY, time TEXT NOT NULL, team TEXT, channel TEXT, user TEXT,
    surface TEXT NOT NULL CHECK (surface IN ('mention', 'dm', 'thread', 'command')),
    question TEXT NOT NULL, thread_ts TEXT, event_id TEXT UNIQUE, results TEXT NOT NULL DEFAULT '[]',
    abstained INTEGER NOT NULL DEFAULT 0, latency_ms REAL NOT NULL DEFAULT 0, index_version TEXT,
    feedback TEXT CHECK (feedback IN ('up', 'down')), feedback_time TEXT, error TEXT
);
CREATE INDEX queries_time ON queries (time);
CREATE INDEX queries_thread ON queries (channel, thread_ts, time);
PRAGMA user_version = 1;
"""


def ask(question: str = "What is a section 75 agreement?", minutes: float = 0, **fields: object) -> QueryRecord:
    """A logged question asked `minutes` after T0, by U01 in C01 unless told otherwise."""
    values: dict[str, object] = {"channel": "C01", "user": "U01", "surface": "mention"}
    values |= fields
    return QueryRecord.model_validate(
        {"id": uuid.uuid4().hex, "time": T0 + dt.timedelta(minutes=minutes), "question": question} | values
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "queries.db"  # the folder does not exist yet: open() makes it


@pytest.fixture
async def log(path: Path) -> AsyncIterator[QueryLog]:
    async with await QueryLog.open(path, busy_timeout=0.01) as log:
        yield log


@contextlib.contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A second, plain connection to the log, as another process (or an admin's sqlite3 shell) would open."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        yield db


def ids_in(path: Path) -> list[str]:
    with connect(path) as db:
        return [row[0] for row in db.execute("SELECT id FROM queries")]


async def test_a_recorded_question_reads_back_whole_before_and_after_it_is_written(log: QueryLog) -> None:
    log.record(FULL)
    assert await log.get(FULL.id) == FULL  # still queued
    assert await log.flush(timeout=5)
    assert log.pending == 0
    assert await log.get(FULL.id) == FULL
    assert await log.get("no-such-id") is None


async def test_every_model_field_has_a_column(log: QueryLog, path: Path) -> None:
    with connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(queries)")}
    assert set(QueryRecord.model_fields) | {"feedback_time"} == columns


async def test_a_naive_time_is_taken_as_utc(log: QueryLog) -> None:
    log.record(FULL.model_copy(update={"time": FULL.time.replace(tzinfo=None)}))
    assert await log.flush(timeout=5)
    assert await log.get(FULL.id) == FULL


async def test_the_database_uses_wal_and_the_latest_schema(log: QueryLog, path: Path) -> None:
    with connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)


async def test_rows_survive_closing_and_reopening(path: Path) -> None:
    async with await QueryLog.open(path) as log:
        log.record(FULL)
    async with await QueryLog.open(path) as log:
        assert await log.get(FULL.id) == FULL
    assert ids_in(path) == [FULL.id]


async def test_close_writes_queued_rows_and_can_be_called_twice(path: Path) -> None:
    log = await QueryLog.open(path)
    rows = [ask(minutes=n) for n in range(300)]
    for row in rows:
        log.record(row)
    await log.close()
    await log.close()
    assert sorted(ids_in(path)) == sorted(row.id for row in rows)


async def test_a_record_after_close_is_counted_and_reported(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = await QueryLog.open(path)
    await log.close()
    log.record(FULL)
    assert (log.dropped, log.pending) == (1, 0)
    assert "dropping new rows because the log is closed" in caplog.text


async def test_a_version_1_database_is_upgraded_and_keeps_its_rows(path: Path) -> None:
    path.parent.mkdir()
    with connect(path) as db:
        db.executescript(SCHEMA_V1)
        db.execute(
            "INSERT INTO queries (id, time, channel, user, surface, question, abstained, latency_ms)"
            " VALUES ('old1', '2024-01-02T03:04:05.000000+00:00', 'C01', 'U01', 'dm', 'Old question?', 1, 3.5)"
        )
    async with await QueryLog.open(path) as log:
        assert await log.get("old1") == QueryRecord(
            id="old1",
            time=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            channel="C01",
            user="U01",
            surface="dm",
            question="Old question?",
            abstained=True,
            latency_ms=3.5,
        )
        log.record_admin("U09", "stats", allowed=False)  # the table version 2 added
        terminal = ask("What is a section 75 agreement?", surface="terminal", channel=None, user="alice")
        log.record(terminal)  # the surface version 5 allows
        assert await log.flush(timeout=5)
        assert await log.get(terminal.id) == terminal
    with connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        assert db.execute("SELECT user, command, allowed FROM admin_commands").fetchall() == [("U09", "stats", 0)]
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"queries_time", "queries_thread"} <= indexes  # rebuilt with the table


async def test_a_database_from_a_newer_version_is_refused_and_left_alone(path: Path) -> None:
    path.parent.mkdir()
    with connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    newer = rf"newer version of the bot \(schema version 99; this version knows up to {len(MIGRATIONS)}\)"
    with pytest.raises(QueryLogError, match=newer):
        await QueryLog.open(path)
    with connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (99,)
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []


async def test_a_file_that_is_not_a_database_is_refused_by_name(path: Path) -> None:
    path.parent.mkdir()
    path.write_text("not a database, just notes\n" * 100, encoding="utf-8")
    with pytest.raises(QueryLogError, match=r"cannot open the query log .*queries\.db: file is not a database"):
        await QueryLog.open(path)


async def test_many_concurrent_questions_all_land_exactly_once(log: QueryLog, path: Path) -> None:
    rows = [ask(f"question {n}", minutes=n, event_id=f"Ev{n}") for n in range(2000)]

    async def listener(share: list[QueryRecord]) -> None:
        for row in share:
            log.record(row)
            await asyncio.sleep(0)  # let the other listeners and the writer interleave

    async with asyncio.TaskGroup() as group:
        for start in range(50):
            group.create_task(listener(rows[start::50]))
    assert await log.flush(timeout=5)
    written = ids_in(path)
    assert len(written) == 2000
    assert set(written) == {row.id for row in rows}
    assert (log.pending, log.dropped) == (0, 0)


async def test_a_retried_slack_delivery_adds_no_second_row(log: QueryLog, path: Path) -> None:
    first = ask(event_id="Ev42")
    log.record(first)  # still queued
    assert not await log.claim(ask(event_id="Ev42"))  # Slack retried: the app must not answer again
    log.record(ask(event_id="Ev42"))  # even a row recorded regardless is not written twice
    assert await log.flush(timeout=5)
    assert not await log.claim(ask(event_id="Ev42"))  # written now
    assert ids_in(path) == [first.id]


async def test_a_claimed_question_is_committed_before_its_answer_and_finished_after(log: QueryLog, path: Path) -> None:
    row = ask(event_id="Ev7", error="not sent yet")
    assert await log.claim(row)
    with connect(path) as db:  # committed when claim returns: a process killed now still has it
        assert db.execute("SELECT id, latency_ms, error FROM queries").fetchall() == [(row.id, 0.0, "not sent yet")]
    log.finish(row.id, 12.5, None)
    assert await log.flush(timeout=5)
    assert await log.get(row.id) == row.model_copy(update={"latency_ms": 12.5, "error": None})


async def test_a_finish_nobody_flushes_still_reaches_the_database(log: QueryLog, path: Path) -> None:
    row = ask(event_id="Ev8", error="not sent yet")
    assert await log.claim(row)
    log.finish(row.id, 3.5, None)  # no question follows to share a transaction with: it goes alone, soon
    async with asyncio.timeout(5):
        while True:
            with connect(path) as db:
                written = db.execute("SELECT latency_ms, error FROM queries").fetchall() == [(3.5, None)]
            if written and log.pending == 0:  # the writer takes a row off its queue just after the commit
                break
            await asyncio.sleep(0.02)


async def test_a_claim_survives_a_restart_so_a_late_retry_is_not_answered(path: Path) -> None:
    async with await QueryLog.open(path) as log:
        assert await log.claim(ask(event_id="Ev9"))
    async with await QueryLog.open(path) as log:
        assert not await log.claim(ask(event_id="Ev9"))
        assert await log.claim(ask(event_id="Ev10"))
    assert len(ids_in(path)) == 2


async def test_claims_during_an_outage_answer_without_waiting_and_are_written_later(log: QueryLog, path: Path) -> None:
    rows = [ask(f"question {n}", event_id=f"Ev{n}") for n in range(20)]
    with connect(path) as locker:
        locker.execute("BEGIN EXCLUSIVE")
        started = time.perf_counter()
        assert await log.claim(rows[0], wait=0.2)  # gives up waiting: the answer goes out
        for row in rows[1:]:
            assert await log.claim(row, wait=0.2)
        assert time.perf_counter() - started < 1.0  # only the first waited: the outage was then known
        assert not await log.claim(rows[5])  # still recognised as a retry, from the queue
        locker.execute("ROLLBACK")
    assert await log.flush(timeout=5)
    assert sorted(ids_in(path)) == sorted(row.id for row in rows)


async def test_feedback_only_from_the_asker_and_a_second_click_changes_it(log: QueryLog, path: Path) -> None:
    row = ask(user="U01")
    log.record(row)
    assert await log.set_feedback(row.id, "U01", "up") == "recorded"  # the row was still queued
    assert await log.set_feedback(row.id, "U01", "up") == "unchanged"
    assert await log.set_feedback(row.id, "U01", "down") == "changed"
    assert await log.set_feedback(row.id, "U02", "up") == "not_yours"
    assert await log.set_feedback("no-such-id", "U01", "up") == "not_found"
    assert await log.get(row.id) == row.model_copy(update={"feedback": "down"})
    with connect(path) as db:
        [(count, voted)] = db.execute("SELECT count(*), feedback_time FROM queries").fetchall()
    assert count == 1
    assert dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(voted) < dt.timedelta(seconds=5)


async def test_a_follow_up_finds_the_latest_question_in_its_thread(log: QueryLog) -> None:
    first = ask("What is the BCF?", minutes=0, thread_ts="100.1")
    other_thread = ask("Unrelated", minutes=1, thread_ts="200.2")
    other_channel = ask("Elsewhere", minutes=2, channel="C02", thread_ts="100.1")
    for row in (first, other_thread, other_channel):
        log.record(row)
    assert await log.flush(timeout=5)
    follow_up = ask("What is the BCF? who pays", minutes=3, surface="thread", thread_ts="100.1")
    log.record(follow_up)
    assert await log.thread_question("C01", "100.1") == follow_up  # queued, and newer than the written one
    assert await log.flush(timeout=5)
    assert await log.thread_question("C01", "100.1") == follow_up
    assert await log.thread_question("C01", "999.9") is None


async def test_while_the_database_is_locked_answers_go_on_and_nothing_is_lost(
    log: QueryLog, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.querylog")
    earlier = ask("asked before the lock", minutes=-1, thread_ts="1.1")
    log.record(earlier)
    assert await log.flush(timeout=5)
    rows = [ask(f"question {n}", minutes=n) for n in range(100)]
    with connect(path) as locker:
        locker.execute("BEGIN EXCLUSIVE")
        started = time.perf_counter()
        for row in rows:
            log.record(row)
        assert time.perf_counter() - started < 0.05  # accepting questions never waits for the database
        await asyncio.sleep(0.4)  # several write attempts and retries
        assert locker.execute("SELECT count(*) FROM queries").fetchone() == (1,)
        assert log.pending == 100
        started = time.perf_counter()
        assert await log.get(rows[0].id) == rows[0]
        assert await log.thread_question("C01", "1.1") == earlier
        assert time.perf_counter() - started < 0.1  # reads do not queue behind the stuck writer
        assert not await log.flush(timeout=0.05)
        locker.execute("ROLLBACK")
    assert await log.flush(timeout=5)
    assert sorted(ids_in(path)) == sorted([earlier.id, *(row.id for row in rows)])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per outage, not once per retry
    assert "cannot be written (database is locked): keeping rows in memory and retrying" in warnings[0]
    assert "writing again after" in caplog.text


async def test_a_read_only_database_keeps_rows_queued_until_it_is_writable(
    log: QueryLog, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # chmod 0o444 cannot stand in here: tests may run as root, whom permissions do not stop, and a file
    # made read-only after opening is still written through the open handle. query_only makes SQLite
    # refuse writes on the log's own connection with the same error a read-only file gives.
    await log._db.execute("PRAGMA query_only = ON")
    rows = [ask(f"question {n}", minutes=n) for n in range(20)]
    for row in rows:
        log.record(row)
    assert not await log.flush(timeout=0.3)
    assert (log.pending, ids_in(path)) == (20, [])
    assert "attempt to write a readonly database" in caplog.text
    await log._db.execute("PRAGMA query_only = OFF")
    assert await log.flush(timeout=5)
    assert sorted(ids_in(path)) == sorted(row.id for row in rows)


async def test_a_full_queue_drops_new_rows_counting_and_reporting_them(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [ask(f"question {n}", minutes=n) for n in range(8)]
    async with await QueryLog.open(path, max_queue=5, busy_timeout=0.01) as log:
        with connect(path) as locker:
            locker.execute("BEGIN EXCLUSIVE")
            for row in rows:
                log.record(row)
            assert (log.pending, log.dropped) == (5, 3)
            locker.execute("ROLLBACK")
        assert await log.flush(timeout=5)
    assert sorted(ids_in(path)) == sorted(row.id for row in rows[:5])  # the rows accepted first are kept
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"query log {path}: dropping new rows because the queue is full (5 rows waiting for the database)",
        f"query log {path}: 3 rows dropped while the queue was full",
    ]


async def test_a_vote_during_an_outage_is_refused_with_a_reason(
    log: QueryLog, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.querylog.FEEDBACK_WAIT", 0.1)  # how long a vote waits for its queued question
    row = ask()
    with connect(path) as locker:
        locker.execute("BEGIN EXCLUSIVE")
        log.record(row)
        with pytest.raises(QueryLogError, match=r"could not save the vote: the query log .* is not accepting writes"):
            await log.set_feedback(row.id, "U01", "up")
        locker.execute("ROLLBACK")
    assert await log.flush(timeout=5)
    with connect(path) as locker:
        locker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(QueryLogError, match=r"could not save the vote in the query log .*: database is locked"):
            await log.set_feedback(row.id, "U01", "up")
        locker.execute("ROLLBACK")
    assert await log.set_feedback(row.id, "U01", "up") == "recorded"


async def test_a_row_the_database_refuses_is_reported_and_does_not_block_the_rest(
    log: QueryLog, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [ask(f"question {n}", minutes=n) for n in range(10)]
    # SQLite stores NaN as NULL: NOT NULL refuses it
    bad = rows[4].model_copy(update={"latency_ms": float("nan"), "question": "Who is Zebedee Quarmby?"})
    for row in [*rows[:4], bad, *rows[5:]]:
        log.record(row)
    assert await log.flush(timeout=5)
    assert sorted(ids_in(path)) == sorted(row.id for row in rows if row is not rows[4])
    assert log.dropped == 1
    assert (
        f"dropping a row the database refuses (NOT NULL constraint failed: queries.latency_ms): question {bad.id}"
        in caplog.text
    )
    assert bad.question not in caplog.text  # a log line never holds what was asked


async def test_admin_attempts_are_logged_whether_allowed_or_not(log: QueryLog, path: Path) -> None:
    log.record_admin("U01", "stats", allowed=True)
    log.record_admin("U99", "reload", allowed=False)
    assert await log.flush(timeout=5)
    with connect(path) as db:
        assert db.execute("SELECT user, command, allowed FROM admin_commands ORDER BY id").fetchall() == [
            ("U01", "stats", 1),
            ("U99", "reload", 0),
        ]


async def test_stats_count_the_period_and_rank_questions(log: QueryLog) -> None:
    rows = [
        ask("Too old to count", minutes=-10, abstained=True, error="boom", feedback="up"),
        ask("What is  the BCF?", minutes=1, feedback="up"),
        ask("what is the bcf?", minutes=2, feedback="down"),
        ask("Who chairs the ICB?", minutes=3, abstained=True),
        ask("What is the  BCF ?", minutes=4),  # a different question: the space before "?" stays
        ask("Who chairs the ICB?", minutes=5, error="search failed"),
        ask("Is there a dental contract?", minutes=6, abstained=True),
        ask("Cheese?", minutes=7, abstained=True),
    ]
    for row in rows:
        log.record(row)
    assert await log.flush(timeout=5)
    assert await log.stats(T0, top=3, unanswered=2) == Stats(
        since=T0,
        questions=7,
        abstained=3,
        errors=1,
        feedback_up=1,
        feedback_down=1,
        top_questions=(("what is the bcf?", 2), ("Who chairs the ICB?", 2), ("Cheese?", 1)),
        unanswered=((T0 + dt.timedelta(minutes=7), "Cheese?"), (T0 + dt.timedelta(minutes=6), rows[6].question)),
    )
    assert await log.stats(T0 + dt.timedelta(days=1)) == Stats(
        since=T0 + dt.timedelta(days=1), questions=0, abstained=0, errors=0, feedback_up=0, feedback_down=0
    )


async def test_recent_filters_and_lists_newest_first(log: QueryLog) -> None:
    a = ask("a", minutes=1, user="U01", channel="C01")
    b = ask("b", minutes=2, user="U02", channel="C01", abstained=True)
    c = ask("c", minutes=3, user="U01", channel="C02", feedback="down")
    d = ask("d", minutes=4, user="U02", channel="C02", abstained=True, feedback="up")
    for row in (a, b, c, d):
        log.record(row)
    assert await log.flush(timeout=5)
    assert await log.recent() == [d, c, b, a]
    assert await log.recent(limit=2) == [d, c]
    assert await log.recent(since=T0 + dt.timedelta(minutes=2)) == [d, c, b]
    assert await log.recent(unanswered=True) == [d, b]
    assert await log.recent(feedback="down") == [c]
    assert await log.recent(user="U01") == [c, a]
    assert await log.recent(channel="C02", unanswered=True) == [d]
