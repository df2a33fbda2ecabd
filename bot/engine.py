"""The live search index: read by every question, replaced whole by a reload.

A reload reads and indexes the knowledge folder in a worker thread, so questions go on being
answered from the old index meanwhile; the new one is swapped in with a single assignment, so
a question sees either the old index or the new one, never a mixture. A reload that fails
leaves the old index in place and says why.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.corpus import KnowledgeError, load
from bot.models import Answer, ReloadReport
from bot.search import Index


def build_index(folder: Path, min_relevance: float) -> Index:
    """Read, clean and index the knowledge folder; KnowledgeError when no article is usable."""
    corpus = load(folder)
    if not corpus.articles:
        reasons = "; ".join(f"{p.source}: {p.message}" for p in corpus.problems) or "it has no .txt or .md files"
        raise KnowledgeError(f"no usable article in {folder} ({reasons})")
    return Index(corpus, min_relevance=min_relevance)


class Engine:
    """Answers questions from the current index and reloads it on request."""

    def __init__(self, index: Index, folder: Path, min_relevance: float) -> None:
        self.index = index
        self.folder = folder
        self.min_relevance = min_relevance
        self._reloading = asyncio.Lock()

    @classmethod
    async def start(cls, folder: Path, min_relevance: float) -> Engine:
        """Build the first index without blocking the event loop."""
        index = await asyncio.to_thread(build_index, folder, min_relevance)
        return cls(index, folder, min_relevance)

    def search(self, question: str, top: int, offset: int = 0) -> Answer:
        return self.index.search(question, top=top, offset=offset)

    @property
    def reloading(self) -> bool:
        return self._reloading.locked()

    async def reload(self) -> ReloadReport:
        """Re-read the knowledge folder and swap the new index in; on failure keep the old one.

        Reloads asked for while one runs wait for it and then run in turn, so the last one
        always sees the folder as it was when it was asked for."""
        async with self._reloading:
            started = time.perf_counter()
            old = self.index
            try:
                new = await asyncio.to_thread(build_index, self.folder, self.min_relevance)
            except (KnowledgeError, OSError, ValueError) as exc:
                return ReloadReport(
                    ok=False,
                    error=str(exc),
                    articles=len(old.articles),
                    passages=len(old.passages),
                    seconds=round(time.perf_counter() - started, 3),
                    version=old.version,
                )
            self.index = new  # the swap: one assignment, atomic for every reader
            before = {a.source: a for a in old.articles}
            after = {a.source: a for a in new.articles}
            return ReloadReport(
                ok=True,
                added=tuple(sorted(after.keys() - before.keys())),
                removed=tuple(sorted(before.keys() - after.keys())),
                changed=tuple(sorted(s for s in after.keys() & before.keys() if after[s] != before[s])),
                articles=len(new.articles),
                passages=len(new.passages),
                problems=tuple(new.corpus.problems),
                seconds=round(time.perf_counter() - started, 3),
                version=new.version,
            )
