"""How fast the bot posts into a channel, and how often one person may ask. Pure: the caller hands in the time.

`Pacer` spaces the bot's posts per channel as Slack limits them (about one message a second per
channel, short bursts allowed): a token bucket per channel, `burst` posts at once, then `per_second`.
Channels never wait for each other. `UserLimit` counts each person's questions over a sliding
minute, says how long until they may ask again, and whether to tell them (at most once a minute,
so a flooder is not answered with a flood of notes). Times are `time.monotonic()` seconds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

PACE_BURST = 2
"""Posts a channel may get at once before pacing starts: Slack allows short bursts, and a 429 costs more than a wait."""

WINDOW_SECONDS = 60.0
FORGET_AFTER = 10_000  # channels or people remembered before the ones with nothing pending are forgotten


class Pacer:
    """When each post may go, per channel: `reserve` books the next slot and says how long to wait for it."""

    def __init__(self, per_second: float, burst: int = PACE_BURST) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a pacer needs per_second > 0 and burst >= 1")
        self.interval = 1.0 / per_second
        self.slack = (burst - 1) * self.interval  # how far ahead of the steady rate a burst may run
        self._due: dict[str, float] = {}  # per channel: when the steady rate would allow the next post

    def reserve(self, channel: str, now: float) -> float:
        """Book the next post to `channel`; seconds to wait before sending it (0: send now)."""
        if len(self._due) > FORGET_AFTER:
            self._due = {c: due for c, due in self._due.items() if due > now}
        due = max(self._due.get(channel, now), now)
        at = max(now, due - self.slack)
        self._due[channel] = due + self.interval
        return at - now

    def hold(self, channel: str, until: float) -> None:
        """Slack refused a post to `channel` until `until` (Retry-After): later bookings start there, one at a time."""
        self._due[channel] = max(self._due.get(channel, until), until + self.slack)


@dataclass(frozen=True)
class Verdict:
    """Whether a person may ask now; if not, how long until they may, and whether to tell them so."""

    allowed: bool
    retry_in: float = 0.0
    tell: bool = False


class UserLimit:
    """At most `per_window` questions from one person in any `window` seconds; refused questions do not count."""

    def __init__(self, per_window: int, window: float = WINDOW_SECONDS) -> None:
        if per_window < 1:
            raise ValueError("a limit needs per_window >= 1")
        self.per_window = per_window
        self.window = window
        self._asked: dict[str, deque[float]] = {}
        self._told: dict[str, float] = {}

    def check(self, user: str, now: float) -> Verdict:
        """Count a question from `user` if they are within the limit; otherwise say when they may ask again."""
        if len(self._asked) > FORGET_AFTER:
            self._forget(now)
        asked = self._asked.setdefault(user, deque())
        while asked and asked[0] <= now - self.window:
            asked.popleft()
        if len(asked) < self.per_window:
            asked.append(now)
            return Verdict(allowed=True)
        told = self._told.get(user)
        tell = told is None or now - told >= self.window
        if tell:
            self._told[user] = now
        return Verdict(allowed=False, retry_in=asked[0] + self.window - now, tell=tell)

    def _forget(self, now: float) -> None:
        old = now - self.window
        self._asked = {u: times for u, times in self._asked.items() if times and times[-1] > old}
        self._told = {u: at for u, at in self._told.items() if at > old}
