"""The data that flows through the bot: frozen, validated, easy to print as JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bot.characters import printable

# A file's name as shown wherever it goes (citations, reports, the terminal, logs): a name can hold
# any character but "/" and NUL, a newline or a right-to-left override included, so its invisible
# characters are written as escapes. The file is opened by the name its folder listing gave.
FileName = Annotated[str, AfterValidator(printable)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Article(Frozen):
    """One cleaned article from the knowledge folder."""

    source: FileName  # file name relative to the knowledge folder, e.g. "000_eb80.txt"
    slug: str  # stable id stem used in passage ids
    title: str
    published: dt.date | None = None
    publisher: str | None = None
    url: str | None = None
    author: str | None = None  # from a PDF's, Word document's or web page's metadata
    pages: int | None = None  # a PDF's pages
    sections: int | None = None  # how many headings the passages fall under (Word, web pages)
    digest: str = ""  # a fingerprint of the cleaned text and metadata: a reload compares it to say what changed

    def citation(self) -> str:
        """'Title (3 Nov 2017, Publisher)' with whatever is known."""
        extra = [x for x in (format_date(self.published), self.publisher) if x]
        return f"{self.title} ({', '.join(extra)})" if extra else self.title

    def extent(self) -> str:
        """'12 pages', '4 sections', or '' for a text article."""
        if self.pages is not None:
            return count(self.pages, "page")
        return count(self.sections, "section") if self.sections else ""


class Passage(Frozen):
    """A retrievable unit: one to a few paragraphs of one article."""

    id: str  # "<article slug>-<number>"
    article: Article
    number: int  # 1-based position within the article
    text: str
    heading: str | None = None  # the section heading this passage falls under, if not in its text
    page: int | None = None  # the PDF page it is on, from 1
    section: str | None = None  # the heading of the Word or web page section it is in

    def place(self) -> str | None:
        """Where in its document the passage is, for a citation: 'p. 12', or the section's heading."""
        return f"p. {self.page}" if self.page is not None else self.section

    @property
    def indexed_text(self) -> str:
        """What the search index reads: the text under its heading (so a passage of Lorraine
        O'Reilly's column is found by her role even when her byline is in the passage before)."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


Strength = Literal["direct match", "partial match"]  # whether a hit's answer holds the question's ideas


class Hit(Frozen):
    """A passage that answers a question, with why it was chosen."""

    passage: Passage
    score: float  # BM25 score, comparable only within one index
    relevance: float  # share of the question's weight this passage matches, 0..1
    excerpt: str  # verbatim text shown to the user (<= 1,000 characters)
    highlights: tuple[tuple[int, int], ...]  # character spans in `excerpt` to emphasise
    matched: tuple[str, ...]  # query terms found in the passage
    answer: tuple[int, int] | None = None  # the span of `excerpt` that answers: whole sentences (bot/pinpoint.py)
    strength: Strength = "partial match"  # "direct match": the answer holds most of the question's ideas

    def strength_note(self) -> str:
        """The match strength as every surface shows it."""
        return self.strength.capitalize()


class Answer(Frozen):
    """What the engine found for one question."""

    question: str
    terms: tuple[str, ...]  # the words the question was searched for, as typed
    corrected: str | None = None  # the question with its misspellings corrected, when it had some (what was searched)
    hits: tuple[Hit, ...]
    offset: int = 0  # how many better hits were skipped (for "more results")
    more: bool = False  # whether further relevant hits exist after these
    took_ms: float = 0.0
    unknown: tuple[str, ...] = ()  # the question's words no article contains (gaps in the knowledge base)
    missing: tuple[str, ...] = ()  # of those, the question's subject as typed ("PFI"): why nothing answers

    @property
    def abstained(self) -> bool:
        return not self.hits

    @property
    def searched(self) -> str:
        """The question as searched: a follow-up read with its conversation, misspellings corrected."""
        return self.corrected or self.question

    def searching_for(self, typed: str | None = None) -> str | None:
        """ "Searching for: ..." when the question searched is not what was `typed` (a follow-up read with
        its conversation, a corrected spelling), worded the same in Slack and the terminal; else None.
        `typed` None: what was typed is `question` (only a spelling correction is then said)."""
        typed = self.question if typed is None else typed
        if " ".join(typed.split()).casefold() == " ".join(self.searched.split()).casefold():
            return None
        return f"Searching for: {self.searched}"

    def not_mentioned(self) -> str | None:
        """'Nothing in the knowledge base mentions PFI.' when the question's subject is missing."""
        return f"Nothing in the knowledge base mentions {', '.join(self.missing)}." if self.missing else None

    def nothing_found(self) -> str:
        """The first line of a reply that found nothing, in Slack and the terminal alike."""
        return self.not_mentioned() or "Nothing in the knowledge base answers that."


class LoadProblem(Frozen):
    """A file in the knowledge folder that was skipped or only partly understood."""

    source: FileName
    message: str
    skipped: bool = True


Surface = Literal["mention", "dm", "thread", "command", "terminal"]  # "terminal": python -m bot chat
Vote = Literal["up", "down"]


class ResultRef(Frozen):
    """One result of a logged question: which passage, how it scored."""

    passage: str  # passage id, e.g. "000-eb80a55c94ec531c-2"
    score: float
    relevance: float


def result_refs(hits: Sequence[Hit]) -> tuple[ResultRef, ...]:
    """An answer's hits as its query-log row keeps them."""
    return tuple(ResultRef(passage=h.passage.id, score=round(h.score, 6), relevance=h.relevance) for h in hits)


class QueryRecord(Frozen):
    """One row of the query log: a question, where it came from and what the bot answered."""

    id: str  # chosen by the app before answering (uuid4 hex), so buttons can name it
    time: dt.datetime  # UTC, timezone-aware
    team: str | None = None
    channel: str | None = None
    user: str | None = None
    surface: Surface
    question: str  # as searched (after Slack markup is removed and a follow-up read with its thread)
    thread_ts: str | None = None  # the thread the answer went to, for follow-ups
    event_id: str | None = None  # Slack's event id, for de-duplicating retried deliveries
    results: tuple[ResultRef, ...] = ()
    abstained: bool = False
    latency_ms: float = 0.0
    index_version: str | None = None
    feedback: Vote | None = None
    error: str | None = None  # what went wrong, in words, if the answer failed
    unknown_words: tuple[str, ...] = ()  # the question's words no article contained (Answer.unknown)
    typed: str | None = None  # the question as typed, when the one searched differs (a follow-up)


class Stats(Frozen):
    """The query log summarised over a period, for `/ask-admin stats` and `queries summary`."""

    since: dt.datetime
    questions: int
    abstained: int
    errors: int
    feedback_up: int
    feedback_down: int
    top_questions: tuple[tuple[str, int], ...] = ()  # (question, times asked), most first
    unanswered: tuple[tuple[dt.datetime, str], ...] = ()  # latest abstained questions, newest first

    # The period `queries summary` and `/ask-admin stats` cover unless told otherwise (`--since 7d`,
    # `/ask-admin stats 7d`): a month, long enough for the knowledge base's gaps to show where a few
    # questions are asked a day. PERIOD_HELP says what else a period may be, in the same words everywhere.
    PERIOD: ClassVar[str] = "30d"
    PERIOD_WORDS: ClassVar[str] = "the last 30 days"
    PERIOD_HELP: ClassVar[str] = "7d, 24h, 30m, 2w, or a date such as 2025-03-01"

    @property
    def abstention_rate(self) -> float:
        return self.abstained / self.questions if self.questions else 0.0

    def totals(self) -> str:
        """The figures in one line, worded the same in Slack (`/ask-admin stats`) and the terminal."""
        return (
            f"{count(self.questions, 'question')}, {self.abstained:,} unanswered ({self.abstention_rate:.0%}), "
            f"{count(self.errors, 'error')}, feedback 👍 {self.feedback_up:,} / 👎 {self.feedback_down:,}"
        )


class ReloadReport(Frozen):
    """What a reload of the knowledge folder changed."""

    ok: bool
    error: str | None = None  # why the reload failed; the old index is still in use
    added: tuple[str, ...] = ()  # article sources
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    articles: int = 0
    passages: int = 0
    problems: tuple[LoadProblem, ...] = Field(default=())
    seconds: float = 0.0
    version: str | None = None  # the index version now in use

    # The wording shared by the log line (bot/watch.py) and the Slack reply (bot/reply.py).
    NOTHING_CHANGED: ClassVar[str] = "no articles added, removed or changed"

    def totals(self) -> str:
        """'5 articles, 26 passages'."""
        return f"{count(self.articles, 'article')}, {count(self.passages, 'passage')}"

    def changes(self) -> list[tuple[str, tuple[str, ...]]]:
        """(what happened, to which sources) for each kind of change there was: added, removed, changed."""
        return [
            (label, names)
            for label, names in (("added", self.added), ("removed", self.removed), ("changed", self.changed))
            if names
        ]

    def still_answering(self) -> str:
        """After a failed reload: from what the bot still answers."""
        version = f" (index version {self.version})" if self.version else ""
        return f"still answering from the previous index{version}"


def format_date(value: dt.date | None) -> str | None:
    """'3 Nov 2017', the way UK news sites write dates."""
    return f"{value.day} {value:%b %Y}" if value else None


def count(n: int, noun: str) -> str:
    """'1 article', '1,204 articles'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
