"""SQL functions for deploy/datasette.yaml's canned queries, so Datasette reads the log as the bot does.

Datasette loads this file with `--plugins-dir deploy/datasette_plugins` (README, "Reviewing the query
log"). Each connection Datasette opens gets:

- `since_utc(text)`: a *since* field read by the command line's own parser (`bot.review.parse_since`:
  7d, 24h, 30m, 2w, 2025-03-01, 2025-03-01T09:00, a time with a zone), as UTC ISO text to compare with
  the log's `time`; '' for an empty field (the whole log). Anything else is an error, never an empty page.
- `passage_title(id)`, `passage_text(id)`: the passage a logged result names, as the knowledge folder
  (KNOWLEDGE_DIR, as the bot reads it) has it now; NULL for a passage no longer there. The folder is
  read the first time a page needs it, and again when a passage is asked for that it does not have.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

from datasette import hookimpl

from bot import corpus, review
from bot.config import Settings
from bot.models import Passage

RELOAD_AFTER = 60.0  # seconds: a missing passage re-reads the folder at most this often


def since_utc(text: str | None) -> str:
    """The start of the period `text` names, as UTC ISO text; '' (the whole log) for no text.

    The log stores fixed-width ISO times with microseconds; `review.utc_iso` may leave them out, and
    '+' sorts before '.', so `time >= since_utc(...)` still keeps a row logged in the cutoff's second."""
    if text is None or not text.strip():
        return ""
    return review.utc_iso(review.parse_since(text, dt.datetime.now(dt.UTC)))


class Passages:
    """The knowledge folder's passages by id, read when first needed (Datasette runs queries in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Passage] | None = None
        self._read_at = 0.0

    def get(self, passage_id: str) -> Passage | None:
        with self._lock:
            stale = time.monotonic() - self._read_at > RELOAD_AFTER
            if self._by_id is None or (passage_id not in self._by_id and stale):
                folder = Settings().knowledge_dir
                self._by_id = {p.id: p for p in corpus.load(folder).passages}
                self._read_at = time.monotonic()
            return self._by_id.get(passage_id)


PASSAGES = Passages()


def passage_title(passage_id: str | None) -> str | None:
    passage = PASSAGES.get(passage_id) if passage_id else None
    return passage.article.citation() if passage else None


def passage_text(passage_id: str | None) -> str | None:
    passage = PASSAGES.get(passage_id) if passage_id else None
    return passage.text if passage else None


def add_functions(conn: sqlite3.Connection) -> None:
    """Register the functions on `conn` (Datasette's hook below; the tests call it on a plain connection)."""
    conn.create_function("since_utc", 1, since_utc)
    conn.create_function("passage_title", 1, passage_title)
    conn.create_function("passage_text", 1, passage_text)


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    add_functions(conn)
