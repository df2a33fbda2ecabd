"""How many HTTP connections the bot may hold open. Behaviour under load is tested end to end:
tests/test_faults.py (hundreds of stalled connections) and tests/test_hostile.py (a stalled header)."""

from __future__ import annotations

import resource

from bot.connections import (
    ACCEPT_BATCHES,
    BACKLOG,
    MAX_CONNECTIONS,
    MIN_CONNECTIONS,
    RESERVED_FILES,
    connection_limit,
)


def test_the_cap_leaves_files_for_the_rest_of_the_bot_and_for_a_burst_of_accepts() -> None:
    # asyncio accepts a batch of up to BACKLOG at each wake-up, and a connection closed at the cap frees
    # its file a turn later: a few batches hold files beyond the cap.
    assert connection_limit(256) == 256 - RESERVED_FILES - ACCEPT_BATCHES * BACKLOG == 64
    assert connection_limit(1024) == 1024 - RESERVED_FILES - ACCEPT_BATCHES * BACKLOG


def test_the_cap_stays_within_its_bounds() -> None:
    assert connection_limit(100) == MIN_CONNECTIONS
    assert connection_limit(1_048_576) == MAX_CONNECTIONS


def test_the_cap_follows_the_process_open_file_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    expected = MAX_CONNECTIONS if soft == resource.RLIM_INFINITY else connection_limit(soft)
    assert connection_limit() == expected
