"""The data that flows through the bot: frozen, validated, easy to print as JSON."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Article(Frozen):
    """One cleaned article from the knowledge folder."""

    source: str  # file name relative to the knowledge folder, e.g. "000_eb80.txt"
    slug: str  # stable id stem used in passage ids
    title: str
    published: dt.date | None = None
    publisher: str | None = None
    url: str | None = None
    paragraphs: tuple[str, ...]

    def citation(self) -> str:
        """'Title (3 Nov 2017, Publisher)' with whatever is known."""
        extra = [x for x in (format_date(self.published), self.publisher) if x]
        return f"{self.title} ({', '.join(extra)})" if extra else self.title


class Passage(Frozen):
    """A retrievable unit: one to a few paragraphs of one article."""

    id: str  # "<article slug>-<number>"
    article: Article
    number: int  # 1-based position within the article
    text: str
    heading: str | None = None  # the section heading this passage falls under, if not in its text

    @property
    def indexed_text(self) -> str:
        """What the search index reads: the text under its heading (so a passage of Lorraine
        O'Reilly's column is found by her role even when her byline is in the passage before)."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


class Hit(Frozen):
    """A passage that answers a question, with why it was chosen."""

    passage: Passage
    score: float  # BM25 score, comparable only within one index
    relevance: float  # share of the question's weight this passage matches, 0..1
    excerpt: str  # verbatim text shown to the user (<= 1,000 characters)
    highlights: tuple[tuple[int, int], ...]  # character spans in `excerpt` to emphasise
    matched: tuple[str, ...]  # query terms found in the passage


class Answer(Frozen):
    """What the engine found for one question."""

    question: str
    terms: tuple[str, ...]  # the words the question was searched for, as typed
    hits: tuple[Hit, ...]
    offset: int = 0  # how many better hits were skipped (for "more results")
    more: bool = False  # whether further relevant hits exist after these
    took_ms: float = 0.0

    @property
    def abstained(self) -> bool:
        return not self.hits


class LoadProblem(Frozen):
    """A file in the knowledge folder that was skipped or only partly understood."""

    source: str
    message: str
    skipped: bool = True


def format_date(value: dt.date | None) -> str | None:
    """'3 Nov 2017', the way UK news sites write dates."""
    return f"{value.day} {value:%b %Y}" if value else None
