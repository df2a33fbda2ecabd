"""The terminal chat's questions in the query log, without ever holding up the chat.

The chat waits on the keyboard, so the query log (bot/querylog.py, asyncio) runs on an event loop
of its own in a background thread: `record` hands a row over and returns at once, and the log's
own queue, batching and retries do the rest. A log that cannot be opened or written is reported
once, as a note the chat prints between answers, and the chat goes on; at the end the log gets a
moment to write what is queued, never the ten seconds the Slack bot gives it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import getpass
import logging
import threading
import uuid
from pathlib import Path

from bot.models import Answer, QueryRecord, result_refs
from bot.querylog import QueryLog, QueryLogError

CLOSE_WAIT = 1.0  # seconds the chat waits, as it ends, for queued rows to be written
_QUERYLOG_LOGGER = logging.getLogger("bot.querylog")


def local_user() -> str | None:
    """The local account's name: who asks in the terminal (None if the system cannot say)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name, and no passwd entry for the uid
        return None


class TerminalLog:
    """The query log as the terminal chat writes it. Hashes user names exactly as Slack user ids are
    hashed (`user_key`, HASH_USER_IDS), since the same QueryLog stores them."""

    def __init__(self, path: Path, user_key: bytes | None, user: str | None) -> None:
        self.path = path
        self.user = user
        self._problem: str | None = None  # the first thing that went wrong
        self._told = False  # whether the chat has printed it
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="terminal-query-log", daemon=True)
        self._thread.start()
        _QUERYLOG_LOGGER.addFilter(self._capture)
        self._opened: concurrent.futures.Future[QueryLog | None] = asyncio.run_coroutine_threadsafe(
            self._open(user_key), self._loop
        )

    async def _open(self, user_key: bytes | None) -> QueryLog | None:
        try:
            return await QueryLog.open(self.path, user_key=user_key)
        except (QueryLogError, OSError) as exc:
            self._report(str(exc))
            return None

    def record(self, answer: Answer, typed: str, index_version: str) -> None:
        """Log a question the chat answered; returns at once, whatever state the log is in."""
        row = QueryRecord(
            id=uuid.uuid4().hex,
            time=dt.datetime.now(dt.UTC),
            user=self.user,
            surface="terminal",
            question=answer.question,
            typed=typed if typed != answer.question else None,
            results=result_refs(answer.hits),
            abstained=answer.abstained,
            unknown_words=answer.unknown,
            latency_ms=answer.took_ms,
            index_version=index_version,
        )
        asyncio.run_coroutine_threadsafe(self._record(row), self._loop)

    async def _record(self, row: QueryRecord) -> None:
        log = await asyncio.wrap_future(self._opened)
        if log is not None:
            log.record(row)

    def news(self) -> str | None:
        """What went wrong with the log, the first time it is asked after it happened; else None."""
        if self._problem is None or self._told:
            return None
        self._told = True
        return f"Query log: {self._problem}. The chat goes on."

    def close(self, wait: float = CLOSE_WAIT) -> str | None:
        """Give queued rows `wait` seconds to be written, then stop; what went wrong, if not told yet."""

        async def finish() -> None:
            log = await asyncio.wrap_future(self._opened)
            if log is not None:
                await log.close(timeout=wait)

        try:
            asyncio.run_coroutine_threadsafe(finish(), self._loop).result(timeout=wait + 2)
        except (TimeoutError, concurrent.futures.TimeoutError):
            self._report(f"the query log {self.path} did not close in time")
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=1)
            _QUERYLOG_LOGGER.removeFilter(self._capture)
        return self.news()

    def _report(self, problem: str) -> None:
        if self._problem is None:
            self._problem = problem

    def _capture(self, record: logging.LogRecord) -> bool:
        """The query log's own log lines, kept out of the chat: a warning or error becomes the one note."""
        if record.levelno >= logging.WARNING:
            self._report(record.getMessage())
        return False
