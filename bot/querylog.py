"""The query log: every question asked, its answer and feedback, and admin command attempts, in SQLite.

`record` never waits for the database: rows go on a bounded in-memory queue that one background task
writes in batches, retrying with backoff while the database is locked, read-only or full.

A question from Slack is `claim`ed before its answer is posted: its row is committed first (waiting at
most CLAIM_WAIT), so a bot killed mid-burst still has it on restart, and a retried delivery of the
same event is recognised and not answered twice. `finish` then adds the answer's latency and outcome.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import itertools
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, NamedTuple, Self

import aiosqlite

from bot.models import QueryRecord, ResultRef, Stats, Vote, count
from bot.privacy import pseudonym

logger = logging.getLogger("bot.querylog")

FeedbackResult = Literal["recorded", "changed", "unchanged", "not_found", "not_yours"]

MAX_QUEUE = 10_000  # rows held in memory while the database cannot be written
BATCH = 500  # rows per transaction
RETRY_FIRST, RETRY_MAX = 0.05, 5.0  # seconds between write attempts during an outage, doubling
FEEDBACK_WAIT = 2.0  # seconds a vote waits for its question to reach the database
CLOSE_WAIT = 10.0  # seconds close() waits for queued rows to be written
CLAIM_WAIT = 0.5  # seconds an answer waits for its question's row to commit; during an outage it does not wait
# Seconds a finished question's update may wait to share the next question's transaction: each transaction
# costs the event loop a few round trips to the database thread, so fewer of them leave more for answering.
FINISH_DELAY = 0.1

# Each step moves the schema up one version (PRAGMA user_version). Never edit a released step: add one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: one row per question. Results are a JSON column, not a child table: they are written once,
        # with their question, and always read with it; json_each() still serves per-passage reports.
        """CREATE TABLE queries (
            id TEXT PRIMARY KEY,
            time TEXT NOT NULL,  -- UTC, fixed-width ISO 8601, so text order is time order
            team TEXT,
            channel TEXT,
            user TEXT,
            surface TEXT NOT NULL CHECK (surface IN ('mention', 'dm', 'thread', 'command')),
            question TEXT NOT NULL,
            thread_ts TEXT,
            event_id TEXT UNIQUE,  -- SQLite allows any number of NULLs in a UNIQUE column
            results TEXT NOT NULL DEFAULT '[]',  -- [{"passage": id, "score": x, "relevance": y}, ...]
            abstained INTEGER NOT NULL DEFAULT 0,
            latency_ms REAL NOT NULL DEFAULT 0,
            index_version TEXT,
            feedback TEXT CHECK (feedback IN ('up', 'down')),
            feedback_time TEXT,
            error TEXT
        )""",
        "CREATE INDEX queries_time ON queries (time)",
        "CREATE INDEX queries_thread ON queries (channel, thread_ts, time)",
    ),
    (  # 2: admin command attempts, refused ones included
        """CREATE TABLE admin_commands (
            id INTEGER PRIMARY KEY,
            time TEXT NOT NULL,
            user TEXT NOT NULL,
            command TEXT NOT NULL,
            allowed INTEGER NOT NULL
        )""",
        "CREATE INDEX admin_commands_time ON admin_commands (time)",
    ),
    (  # 3: the question's words that no article contained when it was asked, for the "gaps" report
        "ALTER TABLE queries ADD COLUMN unknown_words TEXT NOT NULL DEFAULT '[]'",  # a JSON list of strings
    ),
    (  # 4: the question as typed, when `question` (as searched) differs: a follow-up read with its thread
        "ALTER TABLE queries ADD COLUMN typed TEXT",
    ),
    (  # 5: questions asked in the terminal chat (surface 'terminal'). SQLite cannot change a CHECK constraint,
        # so the table is rebuilt, columns in the same order (https://www.sqlite.org/lang_altertable.html).
        """CREATE TABLE queries_5 (
            id TEXT PRIMARY KEY,
            time TEXT NOT NULL,
            team TEXT,
            channel TEXT,
            user TEXT,
            surface TEXT NOT NULL CHECK (surface IN ('mention', 'dm', 'thread', 'command', 'terminal')),
            question TEXT NOT NULL,
            thread_ts TEXT,
            event_id TEXT UNIQUE,
            results TEXT NOT NULL DEFAULT '[]',
            abstained INTEGER NOT NULL DEFAULT 0,
            latency_ms REAL NOT NULL DEFAULT 0,
            index_version TEXT,
            feedback TEXT CHECK (feedback IN ('up', 'down')),
            feedback_time TEXT,
            error TEXT,
            unknown_words TEXT NOT NULL DEFAULT '[]',
            typed TEXT
        )""",
        "INSERT INTO queries_5 SELECT * FROM queries",
        "DROP TABLE queries",
        "ALTER TABLE queries_5 RENAME TO queries",
        "CREATE INDEX queries_time ON queries (time)",
        "CREATE INDEX queries_thread ON queries (channel, thread_ts, time)",
    ),
)

LOG_TABLES = ("queries", "admin_commands")  # the tables the migrations make
# The columns that make a QueryRecord: all but feedback_time.
COLUMNS = tuple(
    "id time team channel user surface question thread_ts event_id results abstained latency_ms index_version"
    " feedback error unknown_words typed".split()
)
SELECT = f"SELECT {', '.join(COLUMNS)} FROM queries"
# DO NOTHING, not OR IGNORE: only a duplicate (a retried Slack delivery) is skipped; a row breaking any other
# constraint raises, and is reported rather than silently ignored.
INSERT = f"INSERT INTO queries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) ON CONFLICT DO NOTHING"
INSERT_ADMIN = "INSERT INTO admin_commands (time, user, command, allowed) VALUES (?, ?, ?, ?)"
FINISH = "UPDATE queries SET latency_ms = ?, error = ? WHERE id = ?"


class QueryLogError(Exception):
    """The query log cannot be opened, or a vote cannot be saved; the message says why."""


class Health(NamedTuple):
    """The log's state, for the bot's health endpoints."""

    writable: bool  # False from a failed write until a write succeeds again
    queued: int  # rows waiting in memory to be written
    dropped: int  # rows lost since the log opened (the queue was full, or the database refused them)


class _AdminAttempt(NamedTuple):
    time: str
    user: str
    command: str
    allowed: bool


class _Claim(NamedTuple):
    row: QueryRecord
    new: asyncio.Future[bool]  # after the commit: False if a row with its event_id was there already


class _Finish(NamedTuple):
    query_id: str
    latency_ms: float
    error: str | None


_Item = QueryRecord | _AdminAttempt | _Claim | _Finish


def _named(item: _Item) -> str:
    """Which row `item` is, for a log line: never the question or the user, which logs must not hold."""
    if isinstance(item, _AdminAttempt):
        return f"an /ask-admin attempt at {item.time}"
    if isinstance(item, _Finish):
        return f"the outcome of question {item.query_id}"
    return f"question {(item.row if isinstance(item, _Claim) else item).id}"


class QueryLog:
    """The query log. Open with `await QueryLog.open(path)`; call `record` from the event loop's thread."""

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        max_queue: int,
        user_key: bytes | None = None,
    ) -> None:
        self.path = path
        self._user_key = user_key
        self._db = writer  # the writer task, votes and migrations
        self._reader = reader  # reads, so an answer never waits behind a write stuck on a lock
        self._max_queue = max_queue
        self._queue: collections.deque[_Item] = collections.deque()
        # The Slack event ids of the questions in the queue, counted: a claim checks it at once, where a
        # scan of the queue would cost most when the queue is longest (a burst, an outage).
        self._queued_events: collections.Counter[str] = collections.Counter()
        self._accepted = 0  # rows ever queued
        self._done = 0  # rows ever written; flush() waits for it to catch up with _accepted
        self._dropped = 0
        self._dropping = 0  # rows dropped since the queue last had room
        self._outage: float | None = None  # when (time.monotonic) writes started failing
        self._closed = False
        self._wake = asyncio.Event()
        self._late: asyncio.TimerHandle | None = None  # wakes the writer for rows that may wait (FINISH_DELAY)
        self._progress = asyncio.Condition()
        self._write_lock = asyncio.Lock()  # one transaction at a time on the writer connection
        self._task = asyncio.create_task(self._write_forever(), name="querylog-writer")

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        max_queue: int = MAX_QUEUE,
        busy_timeout: float = 1.0,
        user_key: bytes | None = None,
    ) -> QueryLog:
        """Open (or create) the log at `path`, upgrading an older schema, and start the writer.

        With `user_key`, user ids are stored and looked up as their pseudonyms (bot/privacy.py)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            async with contextlib.AsyncExitStack() as stack:
                writer = await stack.enter_async_context(aiosqlite.connect(path, isolation_level=None))
                await _configure(writer, busy_timeout)
                await writer.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
                await _migrate(writer, path)
                reader = await stack.enter_async_context(aiosqlite.connect(path, isolation_level=None))
                await _configure(reader, busy_timeout)
                await reader.execute("PRAGMA query_only = ON")
                stack.pop_all()
        except sqlite3.Error as exc:
            raise QueryLogError(f"cannot open the query log {path}: {exc}; check QUERY_LOG_PATH") from exc
        return cls(path, writer, reader, max_queue, user_key)

    # Writing

    def record(self, row: QueryRecord) -> None:
        """Queue a question for writing; returns at once and never raises (a full queue drops it, loudly)."""
        self._enqueue(self._stored(row))

    async def claim(self, row: QueryRecord, wait: float = CLAIM_WAIT) -> bool:
        """Log a question before it is answered: False if its Slack event already has a row (a retried
        delivery, perhaps from before a restart), so it must not be answered again.

        Waits at most `wait` seconds for the row to commit, and not at all while the database is failing:
        the answer matters more than the check. Then it answers True and the row stays queued as usual."""
        row = self._stored(row)
        if row.event_id is not None and row.event_id in self._queued_events:
            return False
        new = asyncio.get_running_loop().create_future()
        if not self._enqueue(_Claim(row, new)) or self._outage is not None:
            return True
        try:
            return await asyncio.wait_for(asyncio.shield(new), wait)
        except TimeoutError:
            return True

    def finish(self, query_id: str, latency_ms: float, error: str | None) -> None:
        """Complete a claimed question's row once its answer is delivered (or not: `error` says why)."""
        self._enqueue(_Finish(query_id, latency_ms, error), wait=FINISH_DELAY)

    def _stored(self, row: QueryRecord) -> QueryRecord:
        """`row` as it is kept: its time in UTC (so times compare, in memory and as text), its user hashed if set up."""
        if row.time.utcoffset() != dt.timedelta(0):
            row = row.model_copy(update={"time": _utc(row.time)})
        if self._user_key is not None and row.user is not None:
            row = row.model_copy(update={"user": self.pseudonym(row.user)})
        return row

    def record_admin(self, user: str, command: str, allowed: bool) -> None:
        """Queue an admin command attempt, allowed or refused, stamped with the current time."""
        self._enqueue(_AdminAttempt(_iso(dt.datetime.now(dt.UTC)), self.pseudonym(user), command, allowed))

    def pseudonym(self, user: str) -> str:
        """`user` as the log stores it: the id itself, or its keyed hash when user ids are hashed."""
        return user if self._user_key is None else pseudonym(user, self._user_key)

    def asked_by(self, row: QueryRecord, user: str | None) -> bool:
        """Whether Slack user `user` asked the logged question `row`."""
        return user is not None and row.user == self.pseudonym(user)

    async def prune(self, before: dt.datetime) -> int:
        """Delete the questions and admin commands logged before `before`; how many rows went."""
        try:
            async with self._write_lock, _transaction(self._db):
                gone = 0
                for table in LOG_TABLES:  # our own names, not input
                    cursor = await self._db.execute(f"DELETE FROM {table} WHERE time < ?", (_iso(before),))
                    gone += cursor.rowcount
        except sqlite3.Error as exc:
            raise QueryLogError(f"could not delete old rows from the query log {self.path}: {exc}") from exc
        if gone:
            logger.info("query log %s: deleted %s from before %s", self.path, count(gone, "row"), _iso(before))
        return gone

    @property
    def pending(self) -> int:
        """Rows accepted but not yet written."""
        return len(self._queue)

    @property
    def dropped(self) -> int:
        """Rows refused because the queue was full or the log closed (each episode is logged as an error)."""
        return self._dropped

    @property
    def health(self) -> Health:
        return Health(self._outage is None, self.pending, self._dropped)

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every row queued so far is written; False if `timeout` seconds pass first."""
        target = self._accepted
        self._wake.set()  # rows that could wait are wanted now
        if self._task.done():
            return self._done >= target
        try:
            async with asyncio.timeout(timeout), self._progress:
                await self._progress.wait_for(lambda: self._done >= target)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float | None = CLOSE_WAIT) -> None:
        """Write what is queued (waiting at most `timeout` seconds), then close. Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if not await self.flush(timeout):
            logger.error("query log %s: closing with %s not written", self.path, count(self.pending, "row"))
        self._task.cancel()
        await asyncio.wait([self._task])
        if self._late is not None:
            self._late.cancel()
        for item in self._queue:  # nobody may wait on a claim that will never be written
            if isinstance(item, _Claim) and not item.new.done():
                item.new.set_result(True)
        await self._reader.close()
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _enqueue(self, item: _Item, wait: float = 0.0) -> bool:
        """Queue `item` to be written within `wait` seconds (with whatever comes meanwhile); False if it was dropped.

        Policy when full: drop the NEW row, so rows already accepted (and promised to flush) survive;
        count every drop and log an error when dropping starts and when it stops."""
        if self._closed or len(self._queue) >= self._max_queue:
            self._dropped += 1
            self._dropping += 1
            if self._dropping == 1:
                why = (
                    "the log is closed"
                    if self._closed
                    else f"the queue is full ({count(len(self._queue), 'row')} waiting for the database)"
                )
                logger.error("query log %s: dropping new rows because %s", self.path, why)
            return False
        self._queue.append(item)
        event = _event_id(item)
        if event is not None:
            self._queued_events[event] += 1
        self._accepted += 1
        if not wait:
            self._wake.set()
        elif self._late is None:
            self._late = asyncio.get_running_loop().call_later(wait, self._wake_late)
        return True

    def _wake_late(self) -> None:
        self._late = None
        self._wake.set()

    async def _write_forever(self) -> None:
        """Drain the queue in batches while the log is open; a batch that fails stays queued and is retried."""
        delay, size = RETRY_FIRST, BATCH
        while True:
            await self._wake.wait()
            batch = list(itertools.islice(self._queue, size))
            if not batch:
                self._wake.clear()
                continue
            try:
                await self._write(batch)
            except sqlite3.IntegrityError as exc:  # a row the schema refuses would block every row behind it
                if len(batch) > 1:
                    size = 1  # find it by writing one row at a time
                    continue
                logger.error(
                    "query log %s: dropping a row the database refuses (%s): %s", self.path, exc, _named(batch[0])
                )
                self._dropped += 1
                if isinstance(batch[0], _Claim):
                    batch[0].new.set_result(True)  # answer it anyway
            except Exception as exc:  # the writer must survive anything: if it died, every later row would be lost
                if self._outage is None:
                    self._outage = time.monotonic()
                    logger.warning(
                        "query log %s cannot be written (%s): keeping rows in memory and retrying", self.path, exc
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            delay, size = RETRY_FIRST, BATCH
            for _ in batch:
                event = _event_id(self._queue.popleft())
                if event is not None:
                    self._queued_events[event] -= 1
                    if not self._queued_events[event]:
                        del self._queued_events[event]
            self._report_recovery()
            async with self._progress:
                self._done += len(batch)
                self._progress.notify_all()

    async def _write(self, batch: list[_Item]) -> None:
        """One transaction for the batch; claims learn whether their event was logged before only after it commits."""
        claims = [item for item in batch if isinstance(item, _Claim)]
        questions = [_params(question) for item in batch if (question := _question(item)) is not None]
        finished = [(item.latency_ms, item.error, item.query_id) for item in batch if isinstance(item, _Finish)]
        attempts = [item for item in batch if isinstance(item, _AdminAttempt)]
        refused: set[str] = set()  # claims whose event was logged already: their rows were not inserted
        async with self._write_lock, _transaction(self._db):
            if questions:
                inserted = (await self._db.executemany(INSERT, questions)).rowcount
                if claims and inserted < len(questions):  # rare (a retry): find out which rows went in
                    ids = [claim.row.id for claim in claims]
                    sql = f"SELECT id FROM queries WHERE id IN ({', '.join('?' * len(ids))})"
                    written = {found for (found,) in await self._db.execute_fetchall(sql, ids)}
                    refused = set(ids) - written
            for sql, rows in ((FINISH, finished), (INSERT_ADMIN, attempts)):  # after the inserts they may update
                if rows:
                    await self._db.executemany(sql, rows)
        for claim in claims:
            if not claim.new.done():  # its waiter may have given up
                claim.new.set_result(claim.row.id not in refused)

    def _report_recovery(self) -> None:
        if self._outage is not None:
            seconds, self._outage = time.monotonic() - self._outage, None
            logger.info(
                "query log %s: writing again after %.1f s; %s still queued",
                self.path,
                seconds,
                count(self.pending, "row"),
            )
        if self._dropping:
            logger.error("query log %s: %s dropped while the queue was full", self.path, count(self._dropping, "row"))
            self._dropping = 0

    # Reading: straight from the database, plus the queue where a just-asked question must be found.

    async def get(self, query_id: str) -> QueryRecord | None:
        """The question logged under this id, written or still queued."""
        for row in self._queued():
            if row.id == query_id:
                return row
        found = await self._fetch(f"{SELECT} WHERE id = ?", (query_id,))
        return found[0] if found else None

    async def thread_question(self, channel: str, thread_ts: str) -> QueryRecord | None:
        """The latest question logged in this thread: a thread with one is a thread the bot answered."""
        queued = [row for row in self._queued() if row.channel == channel and row.thread_ts == thread_ts]
        sql = f"{SELECT} WHERE channel = ? AND thread_ts = ? ORDER BY time DESC LIMIT 1"
        written = await self._fetch(sql, (channel, thread_ts))
        return max([*written, *queued], key=lambda row: row.time, default=None)

    async def set_feedback(self, query_id: str, user: str, vote: Vote) -> FeedbackResult:
        """Save the asker's vote on an answer; a second click changes it. Raises QueryLogError if it can't be saved."""
        if any(row.id == query_id for row in self._queued()) and not await self.flush(FEEDBACK_WAIT):
            raise QueryLogError(f"could not save the vote: the query log {self.path} is not accepting writes")
        try:
            async with self._write_lock, _transaction(self._db):
                cursor = await self._db.execute("SELECT user, feedback FROM queries WHERE id = ?", (query_id,))
                found = await cursor.fetchone()
                if found is None:
                    return "not_found"
                asker, before = found
                if asker != self.pseudonym(user):
                    return "not_yours"
                if before == vote:
                    return "unchanged"
                sql = "UPDATE queries SET feedback = ?, feedback_time = ? WHERE id = ?"
                await self._db.execute(sql, (vote, _iso(dt.datetime.now(dt.UTC)), query_id))
                return "recorded" if before is None else "changed"
        except sqlite3.Error as exc:
            raise QueryLogError(f"could not save the vote in the query log {self.path}: {exc}") from exc

    async def stats(self, since: dt.datetime, top: int = 5, unanswered: int = 5) -> Stats:
        """The log summarised from `since` on (rows still queued are not counted)."""
        start = (_iso(since),)
        sql = """SELECT count(*), count(*) FILTER (WHERE abstained), count(error),
            count(*) FILTER (WHERE feedback = 'up'), count(*) FILTER (WHERE feedback = 'down')
            FROM queries WHERE time >= ?"""
        [(questions, abstained, errors, up, down)] = await self._read(sql, start)
        # Grouped in Python: SQL cannot collapse runs of whitespace inside a question.
        asked = await self._read("SELECT question FROM queries WHERE time >= ? ORDER BY time", start)
        counts: collections.Counter[str] = collections.Counter()
        wording: dict[str, str] = {}
        for (question,) in asked:
            text = " ".join(question.split())
            counts[text.casefold()] += 1
            wording[text.casefold()] = text  # the latest wording stands for the group
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
        sql = "SELECT time, question FROM queries WHERE time >= ? AND abstained ORDER BY time DESC LIMIT ?"
        latest = await self._read(sql, (*start, unanswered))
        return Stats(
            since=_utc(since),
            questions=questions,
            abstained=abstained,
            errors=errors,
            feedback_up=up,
            feedback_down=down,
            top_questions=tuple((wording[key], n) for key, n in ranked),
            unanswered=tuple((dt.datetime.fromisoformat(when), question) for when, question in latest),
        )

    async def recent(
        self,
        limit: int = 50,
        since: dt.datetime | None = None,
        unanswered: bool = False,
        feedback: Vote | None = None,
        user: str | None = None,
        channel: str | None = None,
    ) -> list[QueryRecord]:
        """Logged questions, newest first, optionally filtered (rows still queued are not included)."""
        conditions = {
            "time >= ?": _iso(since) if since else None,
            "abstained = ?": True if unanswered else None,
            "feedback = ?": feedback,
            "user = ?": self.pseudonym(user) if user else None,
            "channel = ?": channel,
        }
        chosen = {condition: value for condition, value in conditions.items() if value is not None}
        where = f"WHERE {' AND '.join(chosen)}" if chosen else ""
        return await self._fetch(f"{SELECT} {where} ORDER BY time DESC LIMIT ?", (*chosen.values(), limit))

    def _queued(self) -> Iterator[QueryRecord]:
        # Rows leave the queue only after their transaction commits, so a read that looks here first
        # and then in the database never misses a row.
        return (question for item in self._queue if (question := _question(item)) is not None)

    async def _read(self, sql: str, params: Iterable[object] = ()) -> list[Any]:
        """Rows for a query; a database failure becomes QueryLogError, which callers handle."""
        try:
            return list(await self._reader.execute_fetchall(sql, tuple(params)))
        except sqlite3.Error as exc:
            raise QueryLogError(f"could not read the query log {self.path}: {exc}") from exc

    async def _fetch(self, sql: str, params: Iterable[object]) -> list[QueryRecord]:
        return [_from_row(row) for row in await self._read(sql, tuple(params))]

    # Reading for review (`python -m bot queries`): a read-only view of a log the bot may be writing meanwhile.

    @classmethod
    async def open_read_only(cls, path: Path | str, *, user_key: bytes | None = None) -> QueryLog:
        """Open an existing log for reading only: never creates, upgrades or writes the file, so an admin
        can review the live log (or a copy they may not write) without touching it. Do not `record` on it.

        With `user_key`, a user filter takes the Slack id and finds its pseudonym's rows."""
        path = Path(path)
        if not path.is_file():
            raise QueryLogError(
                f"there is no query log at {path}: the bot creates it when it starts, in Slack or in the terminal "
                "(python -m bot start, serve or chat); to review a log elsewhere, pass --db or set QUERY_LOG_PATH"
            )
        try:
            # mode=ro: SQLite refuses every write, and will not create the file if it vanishes meanwhile. (To read
            # a WAL database it may still add the -wal and -shm files beside it, as any reader does.)
            db = await aiosqlite.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise QueryLogError(f"cannot open the query log {path}: {exc}; check QUERY_LOG_PATH") from exc
        # One connection for both roles; max_queue=0 drops any record().
        log = cls(path, db, db, max_queue=0, user_key=user_key)
        try:
            [(version,)] = await log._read("PRAGMA user_version")
            latest = len(MIGRATIONS)
            if version == 0:
                raise QueryLogError(f"{path} is not a query log ({await log._what_it_has()}): check QUERY_LOG_PATH")
            if version < latest:
                raise QueryLogError(
                    f"the query log {path} has schema version {version}, older than this bot's {latest}: "
                    "start the bot once (python -m bot serve) to upgrade it, then review it"
                )
            if version > latest:
                raise _too_new(path, version, "upgrade the bot to review it")
        except BaseException:
            await log.close()
            raise
        return log

    async def _what_it_has(self) -> str:
        """What a database that is not a query log holds, in words: its tables, and the log's it lacks."""
        found = [
            name for (name,) in await self._read("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        if not found:
            return "it has no tables"
        lacks = [table for table in LOG_TABLES if table not in found]
        has = f"it has {count(len(found), 'table')}: {', '.join(found)}"
        if lacks:
            return f"{has}; it lacks the log's {' and '.join(lacks)}"
        return f"{has}, but no schema version: the bot did not write it"

    async def asked_times(self, since: dt.datetime) -> list[dt.datetime]:
        """When each question from `since` on was asked (UTC), oldest first: for questions-per-day counts."""
        rows = await self._read("SELECT time FROM queries WHERE time >= ? ORDER BY time", (_iso(since),))
        return [dt.datetime.fromisoformat(when) for (when,) in rows]

    async def gap_questions(self, since: dt.datetime) -> list[QueryRecord]:
        """Unanswered or down-voted questions from `since` on that had words no article contained, newest
        first: the rows of the "gaps" report. Only these are read, since they are a small share of the log."""
        sql = f"""{SELECT} WHERE time >= ? AND (abstained OR feedback = 'down') AND unknown_words != '[]'
            ORDER BY time DESC"""
        return await self._fetch(sql, (_iso(since),))


async def _configure(db: aiosqlite.Connection, busy_timeout: float) -> None:
    # PRAGMA takes no ? parameters; the value is our own number, never input.
    await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    await db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a power cut loses at most the last commits
    await db.execute("PRAGMA foreign_keys = ON")
    await db.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten, not left in free pages


def _too_new(path: Path, version: int, remedy: str) -> QueryLogError:
    return QueryLogError(
        f"the query log {path} was written by a newer version of the bot (schema version {version}; "
        f"this version knows up to {len(MIGRATIONS)}): {remedy}"
    )


async def _migrate(db: aiosqlite.Connection, path: Path) -> None:
    """Bring the schema up to date, one transaction per step; refuse a file from a newer version of the bot."""
    latest = len(MIGRATIONS)
    while True:
        async with _transaction(db):  # re-read the version under the write lock: another process may migrate too
            [(version,)] = await db.execute_fetchall("PRAGMA user_version")
            if version > latest:
                raise _too_new(path, version, "upgrade the bot, or set QUERY_LOG_PATH to another file")
            if version == latest:
                return
            for statement in MIGRATIONS[version]:
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {version + 1}")
        logger.info("query log %s: schema upgraded to version %d", path, version + 1)


@contextlib.asynccontextmanager
async def _transaction(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error; taking the write lock first means a busy database
    fails at the start, not halfway through."""
    await db.execute("BEGIN IMMEDIATE")
    try:
        yield
        await db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
            with contextlib.suppress(sqlite3.Error):
                await db.execute("ROLLBACK")
        raise


def _question(item: _Item) -> QueryRecord | None:
    """The question's row a queued item holds (a claim holds one), or None."""
    if isinstance(item, _Claim):
        return item.row
    return item if isinstance(item, QueryRecord) else None


def _event_id(item: _Item) -> str | None:
    """The Slack event id of a queued question, if it has one."""
    question = _question(item)
    return question.event_id if question is not None else None


def _utc(moment: dt.datetime) -> dt.datetime:
    """The same moment in UTC; a naive time is taken to be UTC already."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return _utc(moment).isoformat(timespec="microseconds")


def _params(row: QueryRecord) -> tuple[object, ...]:
    values = row.model_dump()
    values["time"] = _iso(row.time)
    values["results"] = json.dumps(values["results"])
    values["unknown_words"] = json.dumps(values["unknown_words"], ensure_ascii=False)
    return tuple(values[name] for name in COLUMNS)


def _from_row(row: Iterable[object]) -> QueryRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    values["time"] = dt.datetime.fromisoformat(str(values["time"]))
    values["results"] = tuple(ResultRef.model_validate(ref) for ref in json.loads(str(values["results"])))
    values["unknown_words"] = tuple(json.loads(str(values["unknown_words"])))
    return QueryRecord.model_validate(values)
