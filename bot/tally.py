"""Log lines for events that can come by the thousand (refused requests, closed connections): the first
in full, then at most one summary line per interval, counted by kind, instead of one line each.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

SUMMARY_SECONDS = 60.0  # at most one summary line per this many seconds


class Tally:
    """Say the first event in full; count the ones after it by kind, and say how many at the end of each interval.

    An interval with nothing to count ends the run: the next event is said in full again.
    Use from the event loop's thread; `close` says what is still counted."""

    def __init__(
        self, logger: logging.Logger, summary: str, every: float = SUMMARY_SECONDS, level: int = logging.INFO
    ) -> None:
        self._logger = logger
        self._level = level
        self._summary = summary  # e.g. "refused {count} more requests to /slack/events": kinds and counts follow
        self._every = every
        self._counts: collections.Counter[str] = collections.Counter()
        self._timer: asyncio.TimerHandle | None = None
        self._since = 0.0  # when (time.monotonic) the current interval began

    def add(self, kind: str, message: str, *args: object) -> None:
        """One event of `kind`; `message % args` is its line when it is said in full."""
        if self._timer is None:
            self._logger.log(self._level, message, *args)
            self._since = time.monotonic()
            self._timer = asyncio.get_running_loop().call_later(self._every, self._summarise)
        else:
            self._counts[kind] += 1

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._summarise(again=False)

    def _summarise(self, again: bool = True) -> None:
        self._timer = None
        if not self._counts:
            return
        kinds = ", ".join(f"{kind} ×{n}" for kind, n in sorted(self._counts.items()))
        summary = self._summary.format(count=sum(self._counts.values()))
        self._logger.log(self._level, "%s in the last %.0f s: %s", summary, time.monotonic() - self._since, kinds)
        self._counts.clear()
        if again:
            self._since = time.monotonic()
            self._timer = asyncio.get_running_loop().call_later(self._every, self._summarise)
