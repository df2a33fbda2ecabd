"""Tally: the first event of a flood said in full, then one count per interval by kind."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.tally import Tally

EVERY = 0.2  # seconds: a short interval, so the test sees it end
SETTLE = 10.0  # generous: how long the test waits for a summary due after EVERY


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "test.tally"]


async def until_said(caplog: pytest.LogCaptureFixture, count: int) -> list[str]:
    async with asyncio.timeout(SETTLE):
        while len(said(caplog)) < count:
            await asyncio.sleep(EVERY / 4)
    return said(caplog)


async def test_a_flood_is_one_line_then_a_count_by_kind(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.tally")
    tally = Tally(logging.getLogger("test.tally"), "refused {count} more requests", every=EVERY)

    for n in range(1000):
        tally.add("401" if n % 10 else "413", "refused request %d", n)

    assert said(caplog) == ["refused request 0"]
    summary = (await until_said(caplog, 2))[1]
    assert summary.startswith("refused 999 more requests in the last ")
    assert summary.endswith(" s: 401 ×900, 413 ×99")
    tally.close()


async def test_after_a_quiet_interval_the_next_event_is_said_in_full(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.tally")
    tally = Tally(logging.getLogger("test.tally"), "{count} more", every=EVERY)

    tally.add("a", "first")
    # An interval with nothing to count ends the run. (Not a guess: the loop runs timers in the order
    # they fall due, so the tally's, due at EVERY, has run by the time this sleep ends.)
    await asyncio.sleep(EVERY * 3)
    tally.add("a", "second")
    tally.add("b", "third")
    tally.close()  # says what is still counted

    assert said(caplog)[:2] == ["first", "second"]
    assert said(caplog)[2].startswith("1 more in the last ") and said(caplog)[2].endswith(": b ×1")
    assert len(said(caplog)) == 3


async def test_warnings_stay_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.tally")
    tally = Tally(logging.getLogger("test.tally"), "{count} more", every=EVERY, level=logging.WARNING)
    tally.add("x", "crowded")
    tally.add("x", "crowded")
    tally.close()

    assert [(r.levelno, r.getMessage().split(" in ")[0]) for r in caplog.records] == [
        (logging.WARNING, "crowded"),
        (logging.WARNING, "1 more"),
    ]
