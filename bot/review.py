"""The query log as an admin reviews it: `python -m bot queries` and `python -m bot queries summary`.

Pure: turns logged rows into tables, JSON, CSV and summaries, and never reads the log, the clock or the
knowledge base itself; bot/__main__.py does the I/O and passes in what it read (and "now"). Times are
stored in UTC and shown in the local time zone (`tz=None`), since that is the admin's day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bot.models import QueryRecord, Stats, Vote, count, format_date

MAX_QUESTION = 300  # characters of a question shown in the table; --json and --csv have it whole
BAR_WIDTH = 30  # characters of the longest questions-per-day bar
FEEDBACK = {"up": "👍", "down": "👎"}
_DURATION = re.compile(r"(\d+)\s*([wdhm])", re.IGNORECASE)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "time_utc",
    "surface",
    "team",
    "channel",
    "user",
    "question",
    "answered",
    "results",
    "abstained",
    "feedback",
    "latency_ms",
    "error",
    "unknown_words",
    "index_version",
    "id",
)


# --- options ----------------------------------------------------------------------------------------


def period_start(text: str | None, now: dt.datetime, option: str = "--since") -> dt.datetime:
    """Where the period of `queries summary` and `/ask-admin stats` starts: `text` as `parse_since` reads
    it, or `Stats.PERIOD` back from `now`. Raises ValueError naming `option` and saying what is accepted."""
    return parse_since(text if text and text.strip() else Stats.PERIOD, now, option)


def parse_since(text: str, now: dt.datetime, option: str = "--since") -> dt.datetime:
    """`--since`: a duration back from `now` (7d, 24h, 30m, 2w) or an ISO date or time (2025-03-01,
    2025-03-01T09:00, 2025-03-01T09:00+00:00). A date or time without a zone is local time.
    Raises ValueError naming `option` (what was given) and saying what is accepted."""
    text = text.strip()
    duration = _DURATION.fullmatch(text)
    if duration:
        amount, unit = int(duration[1]), duration[2].lower()
        try:
            return now - dt.timedelta(**{_UNITS[unit]: amount})
        except OverflowError:
            raise _too_far(text, option) from None
    try:
        moment = dt.datetime.fromisoformat(text)  # a bare date is midnight at its start
    except ValueError:
        raise ValueError(
            f"{option} {text!r} is neither a duration nor a date: use e.g. 7d, 24h or 30m (days, hours, minutes), "
            "or a date such as 2025-03-01 or 2025-03-01T09:00"
        ) from None
    try:
        return moment.astimezone(dt.UTC)  # a naive time is taken as local time
    except (OverflowError, ValueError):  # in UTC it falls before the year 1 or after 9999
        raise _too_far(text, option) from None


def _too_far(text: str, option: str) -> ValueError:
    return ValueError(f"{option} {text!r} is too far back or ahead: give a date between the years 1 and 9999")


def describe_filters(
    since: dt.datetime | None,
    unanswered: bool = False,
    feedback: Vote | None = None,
    user: str | None = None,
    channel: str | None = None,
    tz: dt.tzinfo | None = None,
) -> str:
    """The filters in words, for the line that says nothing matched them."""
    parts = [f"since {short_time(since, tz)}"] if since else []
    if unanswered:
        parts.append("unanswered")
    if feedback:
        parts.append(f"feedback {FEEDBACK[feedback]}")
    parts += [f"user {user}"] if user else []
    parts += [f"channel {channel}"] if channel else []
    return ", ".join(parts) or "the log is empty"


# --- one row --------------------------------------------------------------------------------------------


def short_time(moment: dt.datetime, tz: dt.tzinfo | None = None) -> str:
    """'2025-03-03 09:15' in `tz` (None: the local time zone)."""
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M}"


def answered(row: QueryRecord) -> str:
    """What the bot answered, in a few words: the first passage shown, 'nothing found', or the error."""
    parts = [row.results[0].passage] if row.results else []
    if row.abstained and not row.error:
        parts.append("nothing found")
    if row.error:
        parts.append(f"error: {row.error}")
    return "; ".join(parts) or "nothing shown"


def one_line(text: str, limit: int) -> str:
    """`text` on one line (runs of whitespace collapsed), cut to `limit` characters with '…'."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def utc_iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def record_json(row: QueryRecord) -> dict[str, Any]:
    """One logged question for `--json`: stable keys, time in ISO 8601 UTC, `answered` the first passage or null."""
    return {
        "id": row.id,
        "time": utc_iso(row.time),
        "surface": row.surface,
        "team": row.team,
        "channel": row.channel,
        "user": row.user,
        "question": row.question,
        "typed": row.typed,  # as typed, when a follow-up was read with what came before
        "answered": row.results[0].passage if row.results else None,
        "results": [ref.model_dump() for ref in row.results],
        "abstained": row.abstained,
        "feedback": row.feedback,
        "latency_ms": row.latency_ms,
        "error": row.error,
        "unknown_words": list(row.unknown_words),
        "index_version": row.index_version,
        "thread_ts": row.thread_ts,
        "event_id": row.event_id,
    }


def records_json(rows: Iterable[QueryRecord]) -> str:
    return json.dumps([record_json(row) for row in rows], ensure_ascii=False, indent=2)


def spreadsheet_safe(value: str) -> str:
    """`value` as text a spreadsheet will show, not run: a leading quote disarms a would-be formula
    (`=HYPERLINK(...)`, `+1`, `@SUM(...)`), also after leading spaces, which some spreadsheets skip."""
    return "'" + value if value.lstrip(" ").startswith(_FORMULA_START) else value


def records_csv(rows: Iterable[QueryRecord]) -> str:
    """CSV with a header row, one question a row; every text cell is made formula-safe.
    Times are UTC as '2025-03-03 09:15:30', a form spreadsheets read as a date and time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # quotes as needed, \r\n line ends (RFC 4180, what Excel writes)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        text = {
            "surface": row.surface,
            "team": row.team or "",
            "channel": row.channel or "",
            "user": row.user or "",
            "question": row.question,
            "answered": answered(row),
            "results": " ".join(ref.passage for ref in row.results),
            "feedback": row.feedback or "",
            "error": row.error or "",
            "unknown_words": " ".join(row.unknown_words),
            "index_version": row.index_version or "",
            "id": row.id,
        }
        cells: dict[str, object] = {name: spreadsheet_safe(value) for name, value in text.items()}
        cells |= {
            "time_utc": f"{row.time.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}",
            "abstained": "yes" if row.abstained else "no",
            "latency_ms": round(row.latency_ms, 1),
        }
        writer.writerow([cells[name] for name in CSV_COLUMNS])
    return buffer.getvalue()


# --- the list of questions ----------------------------------------------------------------------------


HEADERS = ("Time", "Surface", "User", "Channel", "Question", "Answered", "Vote", "ms")
TIME, QUESTION, ANSWERED = (HEADERS.index(name) for name in ("Time", "Question", "Answered"))
MAX_ANSWERED = 24  # columns of the Answered cell: a passage id fits, an error wraps
# When the question is short of room: the time wraps after the date, then the answer narrows.
NARROWER = ((TIME, 10), (ANSWERED, 12))
MIN_QUESTION = 16  # below this, every column gives way (rich narrows them all)


def questions_table(
    rows: Sequence[QueryRecord], limit: int | None = None, tz: dt.tzinfo | None = None, width: int | None = None
) -> Table:
    """The questions as a table, newest first as given. Every cell is a Text, so a question containing
    `[bold]` or other rich markup is shown as typed, never interpreted. Given the terminal's `width`, the
    question gets the room the other columns leave at their natural width (rich alone would narrow the
    widest column first, squeezing the question as narrow as a user id)."""
    cells = [
        [
            Text(short_time(row.time, tz)),
            Text(row.surface),
            Text(row.user or ""),
            Text(row.channel or ""),
            Text(one_line(row.question, MAX_QUESTION)),
            Text(answered(row), style="red" if row.error else "yellow" if row.abstained else ""),
            Text(FEEDBACK[row.feedback] if row.feedback else ""),
            Text(f"{row.latency_ms:,.0f}"),
        ]
        for row in rows
    ]
    widths: list[int | None] = [None] * len(HEADERS)
    if width:
        natural = [max(len(header), *(line[i].cell_len for line in cells)) for i, header in enumerate(HEADERS)]
        natural[ANSWERED] = min(natural[ANSWERED], MAX_ANSWERED)
        borders = 3 * len(HEADERS) + 1  # a rule and a space either side of each cell
        room = width - borders - sum(natural) + natural[QUESTION]
        for column, narrow in NARROWER:
            if room < min(MIN_QUESTION, natural[QUESTION]) and natural[column] > narrow:
                room += natural[column] - narrow
                natural[column] = widths[column] = narrow
        if room >= min(MIN_QUESTION, natural[QUESTION]):
            widths[QUESTION] = min(natural[QUESTION], room)
        else:
            widths = [None] * len(HEADERS)
    shown = f"{count(len(rows), 'question')}, newest first"
    if limit is not None and len(rows) >= limit:
        shown += f" (the latest {limit:,}: --limit shows more)"
    table = Table(caption=shown, caption_justify="left")
    for i, header in enumerate(HEADERS):
        table.add_column(
            header,
            overflow="fold",  # an id or a long word breaks rather than disappearing behind '…'
            justify="right" if header == "ms" else "center" if header == "Vote" else "left",
            width=widths[i],
            max_width=MAX_ANSWERED if i == ANSWERED else None,
            no_wrap=header in ("Vote", "ms"),  # a number broken over two lines reads as two numbers
        )
    for line in cells:
        table.add_row(*line)
    return table


# --- the summary --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """A word the knowledge base lacks, from unanswered or down-voted questions."""

    word: str
    questions: int  # how many such questions had it
    example: str  # the latest of them
    last_asked: dt.datetime


def is_gap_question(row: QueryRecord) -> bool:
    """A question whose words tell what the knowledge base lacks: the bot found nothing, or the asker said 👎."""
    return row.abstained or row.feedback == "down"


def gaps(rows: Iterable[QueryRecord], still_missing: Callable[[str], bool], top: int = 20) -> list[Gap]:
    """Words of unanswered or down-voted questions that no article contained when asked (`unknown_words`)
    and `still_missing(word)` says none contains now, counted once per question, most questions first
    (then alphabetically), each with the latest question that had it. `still_missing` is asked once a word."""
    missing: dict[str, bool] = {}
    counts: dict[str, int] = {}
    latest: dict[str, QueryRecord] = {}
    for row in rows:
        if not is_gap_question(row):
            continue
        for word in dict.fromkeys(w.casefold() for w in row.unknown_words):
            if word not in missing:
                missing[word] = still_missing(word)
            if not missing[word]:
                continue
            counts[word] = counts.get(word, 0) + 1
            if word not in latest or row.time > latest[word].time:
                latest[word] = row
    ranked = sorted(counts, key=lambda word: (-counts[word], word))[:top]
    return [Gap(w, counts[w], " ".join(latest[w].question.split()), latest[w].time) for w in ranked]


def per_day(times: Iterable[dt.datetime], tz: dt.tzinfo | None = None) -> list[tuple[dt.date, int]]:
    """Questions per local day, oldest first, from the first day with a question to the last; the days
    between with none are included (as 0), so quiet days show in the chart."""
    counts: dict[dt.date, int] = {}
    for moment in times:
        day = moment.astimezone(tz).date()
        counts[day] = counts.get(day, 0) + 1
    if not counts:
        return []
    first, last = min(counts), max(counts)
    return [(day, counts.get(day, 0)) for day in (first + dt.timedelta(n) for n in range((last - first).days + 1))]


def summary_view(
    stats: Stats,
    days: Sequence[tuple[dt.date, int]],
    found: Sequence[Gap],
    note: str | None = None,
    tz: dt.tzinfo | None = None,
) -> RenderableType:
    """`queries summary` for the terminal: totals, a questions-per-day chart, the most asked questions,
    and the gaps. `note` explains anything missing (such as a knowledge base that could not be loaded)."""
    since = format_date(stats.since.astimezone(tz).date())
    parts: list[RenderableType] = [
        Text(f"Since {since}: {stats.totals()}.", style="bold"),
        Text(""),
    ]
    if days:
        most = max(n for _, n in days)
        chart = Table(title="Questions per day", title_justify="left", show_header=False, box=None)
        chart.add_column("Day", no_wrap=True)
        chart.add_column("Questions", justify="right")
        chart.add_column("Bar", no_wrap=True)
        for day, n in days:
            bar = "█" * max(1, round(n * BAR_WIDTH / most)) if n else ""
            chart.add_row(Text(f"{day:%a} {format_date(day)}"), Text(f"{n:,}"), Text(bar, style="cyan"))
        parts += [chart, Text("")]
    if stats.top_questions:
        asked = Table(title="Most asked", title_justify="left")
        asked.add_column("Times", justify="right")
        asked.add_column("Question", overflow="fold")
        for question, n in stats.top_questions:
            asked.add_row(Text(f"{n:,}"), Text(one_line(question, MAX_QUESTION)))
        parts += [asked, Text("")]
    title = "Gaps: words of unanswered or 👎 questions that no article contains"
    if note:
        parts.append(Text(note, style="yellow"))
    if found:
        table = Table(title=title, title_justify="left")
        table.add_column("Word", overflow="fold")
        table.add_column("Questions", justify="right")
        table.add_column("Example (latest)", overflow="fold")
        for gap in found:
            table.add_row(Text(gap.word), Text(f"{gap.questions:,}"), Text(one_line(gap.example, MAX_QUESTION)))
        parts.append(table)
    else:
        parts.append(Text(f"{title}: none.", style="dim"))
    if stats.abstained:
        parts.append(Text("The unanswered questions: python -m bot queries --unanswered", style="dim"))
    return Group(*parts)


def summary_json(stats: Stats, days: Sequence[tuple[dt.date, int]], found: Sequence[Gap]) -> str:
    """`queries summary --json`: the same figures, machine-readable."""
    data = {
        "since": utc_iso(stats.since),
        "questions": stats.questions,
        "unanswered": stats.abstained,
        "abstention_rate": round(stats.abstention_rate, 4),
        "errors": stats.errors,
        "feedback": {"up": stats.feedback_up, "down": stats.feedback_down},
        "per_day": [{"day": day.isoformat(), "questions": n} for day, n in days],
        "most_asked": [{"question": q, "times": n} for q, n in stats.top_questions],
        "gaps": [
            {"word": g.word, "questions": g.questions, "example": g.example, "last_asked": utc_iso(g.last_asked)}
            for g in found
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2)
