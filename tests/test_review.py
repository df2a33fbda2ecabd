"""Reviewing the query log: `python -m bot queries` and `queries summary`, as an admin runs them.

The command-line tests run the real command in its own process (in an empty folder, so no .env is read)
on a real log written through QueryLog, with questions answered by the real engine (tests/reviewlog.py),
and check what the admin sees. The pure report logic (bot/review.py) is tested directly as well.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from bot import review
from bot.models import QueryRecord, ResultRef, format_date
from bot.privacy import pseudonym
from bot.querylog import QueryLog, QueryLogError
from bot.search import Index
from tests.conftest import KNOWLEDGE, ROOT
from tests.reviewlog import (
    COUNCILS,
    ERROR,
    FAILED,
    MARKUP,
    OLD,
    QUESTIONS,
    SINCE,
    T0,
    record,
    standard_rows,
    write_log,
)

BY_USER = {u: [q for _, user, _, _, q, _ in QUESTIONS if user == u] for u in ("U01", "U02", "U03")}
NEWEST_FIRST = [q for *_, q, _ in sorted(QUESTIONS, reverse=True)]
UTC = dt.UTC


def run(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in tmp_path (no .env there), with only the settings given; times shown in UTC."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "COLUMNS": "200",
        "PYTHONPATH": str(ROOT),
        "TZ": "UTC",
        "KNOWLEDGE_DIR": str(KNOWLEDGE),
        "QUERY_LOG_PATH": str(tmp_path / "queries.db"),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env | settings,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


@pytest.fixture
async def logged(tmp_path: Path, index: Index) -> list[QueryRecord]:
    """tmp_path/queries.db holding the standard questions (tests/reviewlog.py); returns its rows."""
    rows = standard_rows(index)
    await write_log(tmp_path / "queries.db", rows)
    return rows


def table_rows(output: str) -> dict[str, list[str]]:
    """The rows of a `queries` table by question: time, surface, user, channel, question, answered, vote, ms.
    A cell wrapped over several lines is joined up again."""
    rows: list[list[str]] = []
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells[0] or not rows:
            rows.append(cells)
        else:  # the same row, continued
            rows[-1] = [" ".join(filter(None, pair)) for pair in zip(rows[-1], cells, strict=True)]
    return {cells[4]: cells for cells in rows}


def table_questions(output: str) -> list[str]:
    """The question of each row of a `queries` table, in order."""
    return list(table_rows(output))


# --- python -m bot queries ----------------------------------------------------------------------------


def test_queries_lists_every_question_newest_first_with_what_was_answered(
    tmp_path: Path, logged: list[QueryRecord]
) -> None:
    result = run(tmp_path, "queries")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert table_questions(out) == [" ".join(q.split()) for q in NEWEST_FIRST]
    rows = table_rows(out)
    first = rows["How many CCGs overspent in 2017-18?"]
    assert first[:4] == ["2025-03-03 09:00", "mention", "U01", "C01"]
    assert first[5:7] == ["000-eb80a55c94ec531c-2", "👍"] and int(first[7]) >= 150
    assert rows[OLD][0] == "2025-02-19 09:00" and rows[OLD][5] == "nothing found"
    assert rows[FAILED][5] == f"error: {ERROR}" and rows[FAILED][7] == "3"
    assert rows["overspent parking charges"][6] == "👎"
    assert rows["What is the parking policy for hospital staff?"][1:4] == ["dm", "U02", "D01"]
    assert "11 questions, newest first" in out


def test_markup_in_a_question_is_shown_as_typed(tmp_path: Path, logged: list[QueryRecord]) -> None:
    result = run(tmp_path, "queries", "--unanswered", "--user", "U01", "--since", SINCE)
    assert table_questions(result.stdout) == [MARKUP]  # "[bold]" would vanish if rich read it as markup


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--unanswered"], [COUNCILS, MARKUP, NEWEST_FIRST[7], NEWEST_FIRST[8], OLD]),
        (["--unanswered", "--since", SINCE], [COUNCILS, MARKUP, NEWEST_FIRST[7], NEWEST_FIRST[8]]),
        (["--feedback", "down"], ["overspent parking charges"]),
        (["--feedback", "up"], ["How many CCGs overspent in 2017-18?"]),
        (["--user", "U03"], BY_USER["U03"][::-1]),
        (["--channel", "D01"], ["What is the parking policy for hospital staff?"]),
        (["--channel", "C02", "--since", "2025-03-04T09:30"], NEWEST_FIRST[4:6]),  # local time, here UTC
        (["--since", "2025-03-05T10:00:00+00:00"], [COUNCILS, "overspent parking"]),
        (["--limit", "2"], NEWEST_FIRST[:2]),
    ],
)
def test_filters_show_the_matching_questions_and_no_others(
    tmp_path: Path, logged: list[QueryRecord], options: list[str], expected: list[str]
) -> None:
    result = run(tmp_path, "queries", *options)
    assert result.returncode == 0, result.stderr
    assert table_questions(result.stdout) == [" ".join(q.split()) for q in expected]


async def test_with_hashed_user_ids_user_takes_the_slack_id_and_shows_only_pseudonyms(
    tmp_path: Path, index: Index
) -> None:
    key = "review-test-key-of-at-least-32-characters"
    await write_log(tmp_path / "queries.db", standard_rows(index), user_key=key.encode())

    result = run(tmp_path, "queries", "--user", "U02", HASH_USER_IDS="true", USER_ID_HASH_KEY=key)

    assert result.returncode == 0, result.stderr
    assert table_questions(result.stdout) == [" ".join(q.split()) for q in reversed(BY_USER["U02"])]
    assert "U02" not in result.stdout.replace("--user U02", "")
    assert {cells[2] for cells in table_rows(result.stdout).values()} == {pseudonym("U02", key.encode())}


def test_a_full_page_says_how_to_see_more(tmp_path: Path, logged: list[QueryRecord]) -> None:
    assert (
        "2 questions, newest first (the latest 2: --limit shows more)"
        in run(tmp_path, "queries", "--limit", "2").stdout
    )


def test_times_are_shown_in_the_local_time_zone(tmp_path: Path, logged: list[QueryRecord]) -> None:
    result = run(tmp_path, "queries", "--feedback", "up", TZ="EST5")  # POSIX for UTC-5, no tz database needed
    assert "2025-03-03 04:00" in result.stdout


def test_no_match_says_so_and_succeeds(tmp_path: Path, logged: list[QueryRecord]) -> None:
    result = run(tmp_path, "queries", "--since", "7d", "--feedback", "down")  # the log is from 2025
    assert result.returncode == 0
    assert result.stdout.startswith("No questions match (since ") and "feedback 👎" in result.stdout
    as_json = run(tmp_path, "queries", "--user", "U99", "--json")
    as_csv = run(tmp_path, "queries", "--user", "U99", "--csv")
    assert (as_json.returncode, json.loads(as_json.stdout)) == (0, [])
    assert "No questions match (user U99)" in as_json.stderr
    assert list(csv.reader(io.StringIO(as_csv.stdout.removeprefix("\ufeff")))) == [list(review.CSV_COLUMNS)]


async def test_json_has_the_rows_with_stable_keys_even_while_the_bot_writes(tmp_path: Path, index: Index) -> None:
    rows = standard_rows(index)
    path = tmp_path / "queries.db"
    async with await QueryLog.open(path) as bot_log:  # the bot is running, its log open and in WAL mode
        for row in rows:
            bot_log.record(row)
        assert await bot_log.flush(timeout=10)
        result = run(tmp_path, "queries", "--json", "--unanswered", "--since", SINCE)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    expected = sorted((r for r in rows if r.abstained and r.time >= T0), key=lambda r: r.time, reverse=True)
    assert [item["id"] for item in data] == [r.id for r in expected]
    assert all(list(item) == list(review.record_json(expected[0])) for item in data)
    first = data[0]
    assert first["question"] == COUNCILS and first["answered"] is None and first["abstained"] is True
    assert first["time"] == "2025-03-05T10:30:00+00:00"
    assert first["unknown_words"] == ["councils", "charge", "nurses", "parking"]
    answered = json.loads(run(tmp_path, "queries", "--json", "--feedback", "up").stdout)[0]
    assert answered["answered"] == "000-eb80a55c94ec531c-2" == answered["results"][0]["passage"]
    assert answered["feedback"] == "up" and answered["user"] == "U01"


async def test_csv_round_trips_and_cannot_run_formulas(tmp_path: Path, index: Index) -> None:
    formulas = ["=1+2", "+SUM(A1:A9)", "-2+3+cmd|' /C calc'!A0", "@SUM(1,1)", '  =HYPERLINK("http://x","y")', "\t=1"]
    plain = 'Budget: £213m, "ringfenced"?\nSecond line; 名前'
    rows = [record(index, q, T0 + dt.timedelta(minutes=n), user="U01") for n, q in enumerate([*formulas, plain])]
    await write_log(tmp_path / "queries.db", rows)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "queries", "--csv"],
        cwd=tmp_path,
        env={**os.environ, "KNOWLEDGE_DIR": str(KNOWLEDGE), "QUERY_LOG_PATH": str(tmp_path / "queries.db")},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    raw = result.stdout
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark: Excel then reads "£" as "£"
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert list(table[0]) == list(review.CSV_COLUMNS)
    by_id = {line["id"]: line for line in table}
    assert len(table) == len(rows)
    for row in rows:
        cells = by_id[row.id]
        question = cells["question"]
        if row.question == plain:
            assert question == plain  # commas, quotes, a line break and Unicode survive whole
        else:
            assert question == "'" + row.question  # shown as text, never evaluated
        assert cells["time_utc"] == f"{row.time:%Y-%m-%d %H:%M:%S}"
        assert cells["user"] == "U01" and cells["abstained"] in {"yes", "no"}
        assert not any(value.lstrip(" ").startswith(("=", "+", "-", "@", "\t")) for value in cells.values())


def test_missing_log_is_an_error_naming_the_setting_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "queries.db"
    for args in (["queries"], ["queries", "summary"], ["queries", "--json"]):
        result = run(tmp_path, *args, QUERY_LOG_PATH=str(missing))
        assert (result.returncode, result.stdout) == (2, "")
        assert f"error: there is no query log at {missing}: the bot creates it when it starts" in result.stderr
    assert not missing.parent.exists()


def test_an_old_log_is_not_upgraded_by_reviewing(tmp_path: Path) -> None:
    path = tmp_path / "queries.db"
    with contextlib.closing(sqlite3.connect(path)) as db:  # a log from before the unknown_words column
        db.executescript("CREATE TABLE queries (id TEXT PRIMARY KEY, time TEXT NOT NULL); PRAGMA user_version = 2;")
    before = path.read_bytes()
    result = run(tmp_path, "queries")
    assert result.returncode == 2
    assert "schema version 2, older than this bot's 5: start the bot once" in result.stderr
    assert path.read_bytes() == before


def test_bad_options_are_errors_that_say_what_is_accepted(tmp_path: Path, logged: list[QueryRecord]) -> None:
    since = run(tmp_path, "queries", "--since", "last week")
    assert since.returncode == 2 and "error: --since 'last week' is neither a duration nor a date" in since.stderr
    assert "7d, 24h or 30m" in since.stderr
    summary = run(tmp_path, "queries", "summary", "--unanswered", "--limit", "3")
    assert summary.returncode == 2 and "--limit, --unanswered: only for the list of questions" in summary.stderr
    assert run(tmp_path, "queries", "--limit", "0").returncode == 2
    assert run(tmp_path, "queries", "--feedback", "sideways").returncode == 2


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--since", "1000000000d"], "error: --since '1000000000d' is too far back or ahead"),
        (["--since", "9999-12-31T23:59:59-12:00"], "error: --since '9999-12-31T23:59:59-12:00' is too far back"),
        (["--since", "0001-01-01"], "error: --since '0001-01-01' is too far back or ahead"),
        (["summary", "--since", "1000000000d"], "error: --since '1000000000d' is too far back or ahead"),
        (["--limit", "99999999999999999999"], "error: argument --limit: must be at most 9,223,372,036,854,775,807"),
    ],
)
def test_out_of_range_options_are_one_line_errors(
    tmp_path: Path, logged: list[QueryRecord], args: list[str], complaint: str
) -> None:
    result = run(tmp_path, "queries", *args)
    assert result.returncode == 2
    assert complaint in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr and result.stdout == ""


# --- python -m bot queries summary -----------------------------------------------------------------------


def test_summary_shows_totals_days_most_asked_and_gaps(tmp_path: Path, logged: list[QueryRecord]) -> None:
    result = run(tmp_path, "queries", "summary", "--since", SINCE)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Since 1 Mar 2025: 10 questions, 4 unanswered (40%), 1 error, feedback 👍 1 / 👎 1." in out
    days = [" ".join(line.split()[:6]) for line in out.splitlines() if line.strip().startswith(("Mon", "Tue", "Wed"))]
    assert days == ["Mon 3 Mar 2025 3 " + "█" * 22, "Tue 4 Mar 2025 3 " + "█" * 22, "Wed 5 Mar 2025 4 " + "█" * 30]
    most = [line for line in out.splitlines() if "how many CCGs overspent in 2017-18?" in line]
    assert "│     2 │" in most[0]  # asked twice, with other capitals and spacing the second time
    gaps = out[out.index("Gaps: words of unanswered or 👎 questions") :]
    words = [line.split("│")[1].strip() for line in gaps.splitlines() if line.startswith("│")]
    assert words[:3] == ["parking", "hospital", "nurses"]  # 4 questions, then 2 each
    assert "councils" not in words  # logged as unknown, but the knowledge base has it now
    assert "banana" not in words  # asked before --since
    parking = next(line for line in gaps.splitlines() if line.startswith("│ parking"))
    assert "│         4 │ What do councils charge nurses for parking?" in parking  # the latest example
    assert "python -m bot queries --unanswered" in out


def test_summary_json_has_the_figures(tmp_path: Path, logged: list[QueryRecord]) -> None:
    data = json.loads(run(tmp_path, "queries", "summary", "--since", SINCE, "--json").stdout)
    assert data["since"] == "2025-03-01T00:00:00+00:00"
    assert (data["questions"], data["unanswered"], data["abstention_rate"], data["errors"]) == (10, 4, 0.4, 1)
    assert data["feedback"] == {"up": 1, "down": 1}
    assert data["per_day"] == [
        {"day": "2025-03-03", "questions": 3},
        {"day": "2025-03-04", "questions": 3},
        {"day": "2025-03-05", "questions": 4},
    ]
    assert data["most_asked"][0] == {"question": "how many CCGs overspent in 2017-18?", "times": 2}
    assert [(g["word"], g["questions"]) for g in data["gaps"]] == [
        ("parking", 4),
        ("hospital", 2),
        ("nurses", 2),
        *((word, 1) for word in ["bold", "café", "charge", "charges", "https", "links", "org", "park", "permits"]),
    ]


async def test_summary_covers_the_last_30_days_by_default(tmp_path: Path, index: Index) -> None:
    now = dt.datetime.now(UTC)
    rows = [
        record(index, OLD, now - dt.timedelta(days=31)),
        record(index, "recipe for jam", now - dt.timedelta(days=1)),
    ]
    await write_log(tmp_path / "queries.db", rows)
    result = run(tmp_path, "queries", "summary")
    assert ": 1 question, 1 unanswered (100%), 0 errors" in result.stdout
    since = format_date((now - dt.timedelta(days=30)).date())
    assert f"Since {since}:" in result.stdout
    assert "jam" in result.stdout and "banana" not in result.stdout


def test_summary_without_the_knowledge_base_shows_the_words_as_logged(
    tmp_path: Path, logged: list[QueryRecord]
) -> None:
    result = run(tmp_path, "queries", "summary", "--since", SINCE, KNOWLEDGE_DIR=str(tmp_path / "missing"))
    assert result.returncode == 0, result.stderr
    note = " ".join(result.stdout.split())
    assert "The knowledge base could not be loaded (knowledge folder" in note
    assert "the gaps are the words as logged when asked." in note
    assert "│ councils" in result.stdout


# --- reading the log without writing it --------------------------------------------------------------------


async def test_the_read_only_log_refuses_to_create_upgrade_or_write(tmp_path: Path, index: Index) -> None:
    with pytest.raises(QueryLogError, match=r"there is no query log at .*QUERY_LOG_PATH"):
        await QueryLog.open_read_only(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    (tmp_path / "empty.db").touch()
    with pytest.raises(QueryLogError, match="is not a query log"):
        await QueryLog.open_read_only(tmp_path / "empty.db")
    path = await write_log(tmp_path / "queries.db", [record(index, OLD, T0)])
    log = await QueryLog.open_read_only(path)
    try:
        with pytest.raises(QueryLogError, match="readonly"):
            await log._read("DELETE FROM queries")
        assert [row.question for row in await log.recent()] == [OLD]
    finally:
        await log.close()


async def test_review_reads_count_times_and_gap_questions(tmp_path: Path, logged: list[QueryRecord]) -> None:
    log = await QueryLog.open_read_only(tmp_path / "queries.db")
    try:
        since = dt.datetime(2025, 3, 1, tzinfo=UTC)
        times = await log.asked_times(since)
        candidates = await log.gap_questions(since)
    finally:
        await log.close()
    assert times == sorted(row.time for row in logged if row.time >= since)
    expected = [r for r in logged if r.time >= since and r.unknown_words and (r.abstained or r.feedback == "down")]
    assert candidates == sorted(expected, key=lambda row: row.time, reverse=True)


# --- bot/review.py, pure ---------------------------------------------------------------------------------


NOW = dt.datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - dt.timedelta(days=7)),
        ("24h", NOW - dt.timedelta(hours=24)),
        ("30m", NOW - dt.timedelta(minutes=30)),
        (" 2W ", NOW - dt.timedelta(weeks=2)),
        ("2025-03-01T09:00+00:00", dt.datetime(2025, 3, 1, 9, tzinfo=UTC)),
        ("2025-03-01T09:00Z", dt.datetime(2025, 3, 1, 9, tzinfo=UTC)),
        ("2025-03-01", dt.datetime(2025, 3, 1).astimezone(UTC)),  # local midnight
    ],
)
def test_since_accepts_durations_and_iso_dates(text: str, expected: dt.datetime) -> None:
    assert review.parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "7", "d7", "7 days", "yesterday", "2025-13-01", "1y"])
def test_since_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape("use e.g. 7d, 24h or 30m")):
        review.parse_since(text, NOW)


@pytest.mark.parametrize(
    "text", ["1000000000d", "99999999999999999999m", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00+14:00"]
)
def test_since_too_far_back_or_ahead_is_refused_in_words(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"--since {text!r} is too far back or ahead")):
        review.parse_since(text, NOW)


def row(question: str = "q", minutes: int = 0, **fields: object) -> QueryRecord:
    values = {"id": f"{question}-{minutes}", "time": T0 + dt.timedelta(minutes=minutes), "surface": "dm"}
    return QueryRecord.model_validate(values | {"question": question} | fields)


REF = ResultRef(passage="000-eb80a55c94ec531c-2", score=7.0, relevance=0.5)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"results": (REF,)}, "000-eb80a55c94ec531c-2"),
        ({"abstained": True}, "nothing found"),
        ({"error": "search failed: KeyError"}, "error: search failed: KeyError"),
        ({"results": (REF,), "error": "Slack refused: channel_not_found"}, f"{REF.passage}; error: Slack refused: "),
        ({}, "nothing shown"),
    ],
)
def test_answered_says_what_the_bot_showed(fields: dict[str, object], expected: str) -> None:
    assert review.answered(row(**fields)).startswith(expected)


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "  =1", " @x"])
def test_spreadsheet_safe_disarms_formulas(text: str) -> None:
    assert review.spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["", "What is a section 75 agreement?", "café = coffee", "£213m", "1-2"])
def test_spreadsheet_safe_leaves_text_alone(text: str) -> None:
    assert review.spreadsheet_safe(text) == text


def test_gaps_count_questions_rank_most_first_and_drop_words_now_known() -> None:
    rows = [
        row("parking permits", 0, abstained=True, unknown_words=("parking", "permits")),
        row("Parking charges", 5, feedback="down", unknown_words=("Parking", "charges", "councils")),
        row("hospital parking", 9, abstained=True, unknown_words=("hospital", "parking")),
        row("parking again", 7, abstained=True, unknown_words=("parking", "parking")),  # counted once
        row("answered, no vote", 8, unknown_words=("parking", "zebra")),  # not a gap question
        row("voted up", 10, feedback="up", unknown_words=("zebra",)),
    ]
    asked: list[str] = []

    def still_missing(word: str) -> bool:
        asked.append(word)
        return word != "councils"  # the knowledge base gained it

    found = review.gaps(rows, still_missing, top=3)
    assert [(g.word, g.questions, g.example) for g in found] == [
        ("parking", 4, "hospital parking"),  # the latest question with it
        ("charges", 1, "Parking charges"),
        ("hospital", 1, "hospital parking"),
    ]
    assert found[0].last_asked == T0 + dt.timedelta(minutes=9)
    assert sorted(asked) == sorted({"parking", "permits", "charges", "councils", "hospital"})  # once a word
    assert review.gaps([], still_missing) == []


def test_per_day_groups_by_local_day_and_shows_quiet_days() -> None:
    times = [T0, T0 + dt.timedelta(hours=1), T0 + dt.timedelta(days=2), T0 - dt.timedelta(hours=6)]
    assert review.per_day(times, UTC) == [
        (dt.date(2025, 3, 3), 3),
        (dt.date(2025, 3, 4), 0),
        (dt.date(2025, 3, 5), 1),
    ]
    new_york = dt.timezone(dt.timedelta(hours=-5))  # 03:00 UTC on 3 March is the evening of 2 March there
    assert review.per_day([T0 - dt.timedelta(hours=6)], new_york) == [(dt.date(2025, 3, 2), 1)]
    assert review.per_day([]) == []


def render(renderable: object) -> str:
    console = Console(width=160, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_table_shows_questions_as_typed_never_as_markup() -> None:
    tricky = "[bold red]Who[/bold red] pays? :thumbsup: <@U123> *bold* `code` \\[x] 名前 🏥"
    text = render(review.questions_table([row(tricky, abstained=True)], tz=UTC))
    assert tricky in text and "nothing found" in text and "2025-03-03 09:00" in text


def render_at(width: int, rows: list[QueryRecord]) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(review.questions_table(rows, tz=UTC, width=width))
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_the_table_fits_the_terminal_and_gives_the_question_the_room(width: int) -> None:
    rows = [
        row("What do councils charge community nurses for parking at the hospital?", results=(REF,), feedback="up"),
        row("short", 1, error="Slack refused the message: channel_not_found", latency_ms=1234.5),
    ]
    rows = [r.model_copy(update={"user": "U012ABCDEF", "channel": "C0123ABCDEF"}) for r in rows]
    lines = render_at(width, rows)
    assert all(Console().measure(line).maximum <= width for line in lines)  # nothing spills over
    assert all(line.count("│") == len(review.HEADERS) + 1 for line in lines if line.startswith("│"))  # all columns
    assert "1,234 │" in "".join(lines)  # the last column, whole
    if width >= 100:
        assert all(name in lines[1] for name in review.HEADERS)
    if width >= 120:  # room for the time, the ids and the passage id on one line each
        assert "│ 2025-03-03 09:00 │" in lines[3] and f"│ {REF.passage} " in lines[3]
    if width >= 200:
        assert "What do councils charge community nurses for parking at the hospital?" in lines[3]


def test_a_long_question_is_cut_on_one_line() -> None:
    text = review.one_line("why\n\n  " + "council " * 100, 40)
    assert len(text) == 40 and text.startswith("why council") and text.endswith("…")
    assert review.one_line("short  one", 40) == "short one"


def test_csv_quotes_cells_and_keeps_columns_in_order() -> None:
    text = review.records_csv([row("=cmd", error="boom", results=(REF,), unknown_words=("a", "b"))])
    header, cells = list(csv.reader(io.StringIO(text)))
    assert header == list(review.CSV_COLUMNS)
    values = dict(zip(header, cells, strict=True))
    assert values["question"] == "'=cmd" and values["results"] == REF.passage and values["unknown_words"] == "a b"
    assert values["answered"] == f"{REF.passage}; error: boom" and values["time_utc"] == "2025-03-03 09:00:00"
