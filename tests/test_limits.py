"""Pacing posts per channel and limiting questions per person: pure, with the time handed in."""

from __future__ import annotations

import pytest

from bot.limits import Pacer, UserLimit, Verdict


def test_a_channel_gets_a_burst_then_one_post_a_second() -> None:
    pacer = Pacer(per_second=1.0, burst=2)

    waits = [pacer.reserve("C1", now=100.0) for _ in range(5)]

    assert waits == [0.0, 0.0, 1.0, 2.0, 3.0]


def test_channels_never_wait_for_each_other() -> None:
    pacer = Pacer(per_second=1.0, burst=2)
    for _ in range(10):
        pacer.reserve("C1", now=100.0)

    assert pacer.reserve("C2", now=100.0) == 0.0
    assert pacer.reserve("D1", now=100.0) == 0.0


def test_a_quiet_channel_gets_its_burst_back() -> None:
    pacer = Pacer(per_second=2.0, burst=2)
    assert [pacer.reserve("C1", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.5]

    assert [pacer.reserve("C1", now=10.0) for _ in range(3)] == [0.0, 0.0, 0.5]


def test_after_a_rate_limit_the_channel_waits_retry_after_then_goes_one_at_a_time() -> None:
    pacer = Pacer(per_second=1.0, burst=3)
    pacer.reserve("C1", now=0.0)

    pacer.hold("C1", until=5.0)

    assert [pacer.reserve("C1", now=1.0) for _ in range(3)] == [4.0, 5.0, 6.0]
    assert pacer.reserve("C2", now=1.0) == 0.0


@pytest.mark.parametrize(("per_second", "burst"), [(0.0, 2), (-1.0, 2), (1.0, 0)])
def test_a_pacer_that_could_never_post_is_refused(per_second: float, burst: int) -> None:
    with pytest.raises(ValueError, match="per_second > 0"):
        Pacer(per_second, burst)


def test_a_person_over_the_limit_is_told_when_to_ask_again_once_a_minute() -> None:
    limit = UserLimit(per_window=2, window=60.0)

    verdicts = [limit.check("U1", now) for now in (0.0, 10.0, 20.0, 30.0, 45.0)]

    assert verdicts == [
        Verdict(allowed=True),
        Verdict(allowed=True),
        Verdict(allowed=False, retry_in=40.0, tell=True),
        Verdict(allowed=False, retry_in=30.0, tell=False),
        Verdict(allowed=False, retry_in=15.0, tell=False),
    ]
    assert limit.check("U1", 60.0) == Verdict(allowed=True)  # the first question has left the minute
    assert limit.check("U1", 65.0) == Verdict(allowed=False, retry_in=5.0, tell=False)
    assert limit.check("U1", 70.0) == Verdict(allowed=True)
    assert limit.check("U1", 71.0) == Verdict(allowed=False, retry_in=49.0, tell=False)
    assert limit.check("U1", 80.0) == Verdict(allowed=False, retry_in=40.0, tell=True)  # a minute after the note


def test_refused_questions_do_not_count_and_people_are_counted_apart() -> None:
    limit = UserLimit(per_window=1, window=60.0)
    limit.check("U1", 0.0)
    for second in range(1, 60):
        assert not limit.check("U1", float(second)).allowed

    assert limit.check("U2", 30.0).allowed
    assert limit.check("U1", 60.0).allowed  # a flood of refused questions did not push the window on
