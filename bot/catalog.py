"""The index's passages, stored compactly: what a hit shows and cites. Pure.

A knowledge base of a million passages cannot afford a Python object per passage: a pydantic
`Passage` costs about a kilobyte before its text, and CPython stores most article text at two
bytes a character (a single curly quote or £ is enough). The catalog keeps every passage's text
once, as UTF-8 in one byte array with an array of end offsets, and which article each passage belongs
to as an array; a `Passage` is made only for the few passages an answer shows. The same arrays are
what the saved index (bot/store.py) writes and reads back, without converting anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np
import numpy.typing as npt

from bot.models import Article, Passage

Int32s = npt.NDArray[np.int32]
Int64s = npt.NDArray[np.int64]
Bytes = npt.NDArray[np.uint8]


class Catalog(Sequence[Passage]):
    """Passages by position (the BM25 index's document number), and the articles they come from."""

    def __init__(
        self,
        articles: tuple[Article, ...],
        article_of: Int32s,
        text: Bytes,
        text_ends: Int64s,
        headings: Bytes,
        heading_ends: Int64s,
        pages: Int32s,
        sections: Bytes,
        section_ends: Int64s,
    ) -> None:
        n = len(article_of)
        if len(text_ends) != n or len(heading_ends) != n or len(pages) != n or len(section_ends) != n:
            raise ValueError("catalog arrays differ in length")
        grouped = not n or (int(article_of[0]) >= 0 and int(article_of[-1]) < len(articles))
        if not grouped or bool(np.any(np.diff(article_of) < 0)):
            raise ValueError("catalog's passages are not grouped by article, in order")
        for ends, blob in ((text_ends, text), (heading_ends, headings), (section_ends, sections)):
            if n and (int(ends[-1]) != len(blob) or bool(np.any(np.diff(ends) < 0)) or int(ends[0]) < 0):
                raise ValueError("catalog text offsets are out of order or do not match the text")
        self.articles = articles
        self.article_of = article_of
        self.text = text
        self.text_ends = text_ends
        self.headings = headings
        self.heading_ends = heading_ends
        self.pages = pages  # 0: not a PDF
        self.sections = sections
        self.section_ends = section_ends
        # Passages are numbered from 1 within their article, in order; an article's first
        # passage is the first position where article_of takes its value.
        firsts = np.full(len(articles), -1, dtype=np.int64)
        changes = np.flatnonzero(np.diff(article_of, prepend=-1)) if n else np.empty(0, dtype=np.int64)
        firsts[article_of[changes]] = changes
        self._first = firsts

    @classmethod
    def of(cls, articles: Sequence[Article], passages: Sequence[Passage]) -> Catalog:
        """The catalog of passages loaded from the knowledge folder: each article's passages
        together, in the articles' order and numbered from 1, as bot.corpus makes them."""
        position = {a.source: i for i, a in enumerate(articles)}
        article_of = np.fromiter((position[p.article.source] for p in passages), dtype=np.int32, count=len(passages))
        texts = [p.text.encode() for p in passages]
        headings = [(p.heading or "").encode() for p in passages]
        sections = [(p.section or "").encode() for p in passages]
        pages = np.fromiter((p.page or 0 for p in passages), dtype=np.int32, count=len(passages))
        return cls(
            tuple(articles),
            article_of,
            _buffer(texts),
            _ends(texts),
            _buffer(headings),
            _ends(headings),
            pages,
            _buffer(sections),
            _ends(sections),
        )

    def __len__(self) -> int:
        return len(self.article_of)

    @overload
    def __getitem__(self, i: int) -> Passage: ...
    @overload
    def __getitem__(self, i: slice) -> list[Passage]: ...
    def __getitem__(self, i: int | slice) -> Passage | list[Passage]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("passage number out of range")
        article_index = int(self.article_of[i])
        article = self.articles[article_index]
        number = i - int(self._first[article_index]) + 1
        heading = _slice(self.headings, self.heading_ends, i)
        section = _slice(self.sections, self.section_ends, i)
        page = int(self.pages[i])
        # Made from data the catalog was built from, so validating it again would only cost time.
        return Passage.model_construct(
            id=f"{article.slug}-{number}",
            article=article,
            number=number,
            text=self.text_of(i),
            heading=heading or None,
            page=page or None,
            section=section or None,
        )

    def __iter__(self) -> Iterator[Passage]:
        return (self[i] for i in range(len(self)))

    def text_of(self, i: int) -> str:
        """Passage i's text, without making the whole Passage."""
        return _slice(self.text, self.text_ends, i)

    def counts(self) -> dict[str, int]:
        """How many passages each article has, by source file."""
        per_article = np.bincount(self.article_of, minlength=len(self.articles))
        return {a.source: int(c) for a, c in zip(self.articles, per_article, strict=True)}


def _ends(parts: list[bytes]) -> Int64s:
    return np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)))


def _buffer(parts: list[bytes]) -> Bytes:
    return np.frombuffer(b"".join(parts), dtype=np.uint8)


def _slice(blob: Bytes, ends: Int64s, i: int) -> str:
    start = int(ends[i - 1]) if i else 0
    return blob[start : int(ends[i])].tobytes().decode()
