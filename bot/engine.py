"""The live search index: read by every question, replaced whole by a reload.

Where an index comes from, cheapest first:
1. the saved index beside the query log (bot/store.py), when the knowledge folder has not
   changed since it was saved: read in under a second even at 100,000 passages;
2. a build, saved afterwards for next time. A large folder is built in a child process
   (bot/indexer.py), so that for the minute it may take the bot's own process keeps its
   interpreter lock for answering questions; it then reads the index the child saved. A small
   folder is built in a worker thread, quicker than starting a process.

Questions go on being answered from the old index meanwhile; the new one is swapped in with a
single assignment, so a question sees either the old index or the new one, never a mixture. A
reload that fails leaves the old index in place and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot import incremental, store
from bot.corpus import ARTICLE_SUFFIXES, MAX_FILE_BYTES, KnowledgeError, Listing, is_article, list_folder, load
from bot.models import Answer, ReloadReport, count
from bot.search import Index

logger = logging.getLogger(__name__)

# Below this many bytes of articles (about 3,000 passages, 2 s to index) a build runs in a
# thread: starting a Python process and importing the bot costs about half a second.
PROCESS_ABOVE_BYTES = 4_000_000
Source = Literal["built", "saved", "updated"]
# Told the stage an index is at as it opens: "reading the saved index", "reading FOLDER",
# "analysing N passages", "saving the index to PATH" (the command line shows them on a slow build).
Stage = Callable[[str], None]


def _quiet(stage: str) -> None:
    """The stages go unreported."""


class IndexBuildError(Exception):
    """Building the index failed for a reason other than the knowledge folder's content."""


@dataclass(frozen=True)
class Opened:
    """An index and where it came from."""

    index: Index
    source: (
        Source  # "saved": read from the saved index; "built": indexed from the folder; "updated": changed files only
    )
    not_reused: str | None = None  # why the saved index could not be used, when there is one to use
    save_error: str | None = None  # why the new index could not be saved for next time


def build_index(
    folder: Path,
    min_relevance: float,
    max_bytes: int = MAX_FILE_BYTES,
    stage: Stage = _quiet,
    listing: Listing | None = None,
) -> Index:
    """Read, clean and index the knowledge folder (as `listing` lists it, when given); KnowledgeError
    when no article is usable."""
    stage(f"reading {folder}")
    corpus = load(folder, max_bytes, listing)
    if not corpus.articles:
        skipped = "; ".join(f"{p.source}: {p.message}" for p in corpus.problems if p.skipped)
        reasons = skipped or f"it has no article files ({', '.join(ARTICLE_SUFFIXES)})"
        raise KnowledgeError(f"no usable article in {folder} ({reasons})")
    stage(f"analysing {count(len(corpus.passages), 'passage')}")
    return Index(corpus, min_relevance=min_relevance)


def open_index(
    folder: Path, min_relevance: float, saved: Path | None, max_bytes: int = MAX_FILE_BYTES, stage: Stage = _quiet
) -> Opened:
    """In this process: the saved index when it is current, else a new build, saved for next time.
    `stage` is told what is being done as it starts."""
    knowledge, reason = "", None
    listing = list_folder(folder)  # once, for the saved index's check and the build
    if saved is not None and saved.is_file():
        stage("reading the saved index")
    if saved is not None:
        found, knowledge, reason = read_saved(folder, min_relevance, saved, max_bytes, listing)
        if found is not None:
            return Opened(found, "saved")
    index, save_error = build_and_save(folder, min_relevance, saved, knowledge, max_bytes, stage, listing)
    return Opened(index, "built", reason, save_error)


def read_saved(
    folder: Path, min_relevance: float, saved: Path, max_bytes: int = MAX_FILE_BYTES, listing: Listing | None = None
) -> tuple[Index | None, str, str | None]:
    """The index saved at `saved` if it is current (else None), the folder's fingerprint (taken
    before any build reads the folder, so a change made meanwhile shows next time), and why the
    saved index could not be used."""
    knowledge = store.knowledge_fingerprint(folder, max_bytes, listing)
    try:
        return store.load(saved, folder, knowledge, min_relevance), knowledge, None
    except store.Unusable as exc:
        return None, knowledge, str(exc)


def build_and_save(
    folder: Path,
    min_relevance: float,
    saved: Path | None,
    knowledge: str,
    max_bytes: int = MAX_FILE_BYTES,
    stage: Stage = _quiet,
    listing: Listing | None = None,
) -> tuple[Index, str | None]:
    """Index the folder and save the index to `saved`, labelled with the fingerprint `knowledge`;
    the index, and why it could not be saved."""
    index = build_index(folder, min_relevance, max_bytes, stage, listing)
    if saved is None:
        return index, None
    stage(f"saving the index to {saved}")
    try:
        store.save(index, saved, knowledge)
    except OSError as exc:
        return index, f"{saved}: {exc.strerror or exc}"
    return index, None


def article_bytes(listing: Listing) -> int:
    """The size of the folder's article files: what a build's cost grows with."""
    total = 0
    for path, source in listing.files:
        if is_article(source):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
    return total


async def open_index_off_loop(
    folder: Path,
    min_relevance: float,
    saved: Path | None,
    process_above: int = PROCESS_ABOVE_BYTES,
    max_bytes: int = MAX_FILE_BYTES,
    listing: Listing | None = None,
) -> Opened:
    """`open_index` without holding up the event loop: the saved index is read in a thread; a
    build runs in a thread for a small folder, in a child process for a large one."""
    knowledge, reason = "", None
    if listing is None:  # once: the check, the size, the build
        listing = await asyncio.to_thread(list_folder, folder)
    if saved is not None:
        found, knowledge, reason = await asyncio.to_thread(read_saved, folder, min_relevance, saved, max_bytes, listing)
        if found is not None:
            return Opened(found, "saved")
    if article_bytes(listing) < process_above:
        index, save_error = await asyncio.to_thread(
            build_and_save, folder, min_relevance, saved, knowledge, max_bytes, _quiet, listing
        )
        return Opened(index, "built", reason, save_error)
    with tempfile.TemporaryDirectory(prefix="policy-bot-index-") as scratch:
        target = saved or Path(scratch) / "index.bin"
        result = await _run_indexer(folder, min_relevance, target, knowledge, max_bytes)
        if "save_error" in result:
            # The child built an index but could not write it (disk full, read-only folder):
            # build here instead, slower for questions meanwhile but the bot keeps working.
            logger.warning("could not save the index to %s (%s); indexing here", target, result["save_error"])
            index = await asyncio.to_thread(build_index, folder, min_relevance, max_bytes)
            return Opened(index, "built", reason, result["save_error"])
        try:
            index = await asyncio.to_thread(store.load, target, folder, knowledge, min_relevance)
        except store.Unusable as exc:
            raise IndexBuildError(f"the index built by the indexing process could not be read: {exc}") from exc
    return Opened(index, "built", reason)


async def _run_indexer(
    folder: Path, min_relevance: float, target: Path, knowledge: str, max_bytes: int
) -> dict[str, str]:
    """Run bot/indexer.py; its last line of output is a JSON object saying what it did.

    Its standard input is a pipe this process holds open and never writes to: the child stops when
    the pipe closes, which the system does when this process ends, even by kill -9."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.indexer",
        str(folder),
        str(target),
        str(min_relevance),
        knowledge,
        str(max_bytes),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        output = await process.stdout.read()  # not communicate(), which would close the child's stdin
        await process.wait()
    except BaseException:  # cancelled (the bot is stopping): don't leave the child indexing
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await asyncio.shield(process.wait())
        raise
    finally:
        process.stdin.close()
    lines = output.decode(errors="replace").strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except ValueError:
        result = {}
    if not isinstance(result, dict) or (process.returncode != 0 and "error" not in result):
        raise IndexBuildError(
            f"the indexing process stopped unexpectedly (exit status {process.returncode}; out of memory?)"
        )
    if "error" in result:
        if result.get("kind") == "knowledge":
            raise KnowledgeError(result["error"])
        raise IndexBuildError(result["error"])
    return {k: str(v) for k, v in result.items() if v is not None}


class Engine:
    """Answers questions from the current index and reloads it on request."""

    def __init__(
        self,
        index: Index,
        folder: Path,
        min_relevance: float,
        saved: Path | None = None,
        process_above: int = PROCESS_ABOVE_BYTES,
        max_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        self.index = index
        self.folder = folder
        self.min_relevance = min_relevance
        self.saved = saved
        self.process_above = process_above
        self.max_bytes = max_bytes
        self._reloading = asyncio.Lock()

    @classmethod
    async def start(
        cls,
        folder: Path,
        min_relevance: float,
        saved: Path | None = None,
        process_above: int = PROCESS_ABOVE_BYTES,
        max_bytes: int = MAX_FILE_BYTES,
    ) -> Engine:
        """The first index, from the saved one if it is current, without blocking the event loop."""
        started = time.perf_counter()
        opened = await open_index_off_loop(folder, min_relevance, saved, process_above, max_bytes)
        _log_opened(opened, saved, time.perf_counter() - started)
        _settle()
        return cls(opened.index, folder, min_relevance, saved, process_above, max_bytes)

    def search(self, question: str, top: int, offset: int = 0) -> Answer:
        return self.index.search(question, top=top, offset=offset)

    def _updated(self, old: Index, listing: Listing) -> Opened | None:
        """The current index brought up to date by re-reading only the changed files
        (bot/incremental.py), saved for next time; None when only a full build will do."""
        knowledge = store.knowledge_fingerprint(self.folder, self.max_bytes, listing) if self.saved is not None else ""
        try:
            new = incremental.update(old, listing, self.max_bytes)
        except incremental.Rebuild as exc:
            logger.info("reload of %s re-reads every file: %s", self.folder, exc)
            return None
        if new is None:
            return Opened(old, "saved")
        save_error = None
        if self.saved is not None:
            try:
                store.save(new, self.saved, knowledge)
            except OSError as exc:
                save_error = f"{self.saved}: {exc.strerror or exc}"
        return Opened(new, "updated", save_error=save_error)

    @property
    def reloading(self) -> bool:
        return self._reloading.locked()

    async def reload(self) -> ReloadReport:
        """Re-read the knowledge folder and swap the new index in; on failure keep the old one.

        Every reload reports back, whatever goes wrong. Reloads asked for while one runs wait for
        it and then run in turn, so the last one always sees the folder as it was when it was
        asked for."""
        async with self._reloading:
            started = time.perf_counter()
            old = self.index

            def failed(error: str) -> ReloadReport:
                seconds = round(time.perf_counter() - started, 3)
                return ReloadReport(
                    ok=False,
                    error=error,
                    articles=len(old.articles),
                    passages=len(old.passages),
                    seconds=seconds,
                    version=old.version,
                )

            try:
                listing = await asyncio.to_thread(list_folder, self.folder)  # once for the whole reload
                opened = await asyncio.to_thread(self._updated, old, listing)
                if opened is None:
                    opened = await open_index_off_loop(
                        self.folder, self.min_relevance, self.saved, self.process_above, self.max_bytes, listing
                    )
            except (KnowledgeError, IndexBuildError, OSError, ValueError) as exc:
                return failed(str(exc))
            except Exception as exc:
                # A bug, or input nobody foresaw: whoever asked must still get an answer. The
                # message may hold paths or text from the server, so it goes to the log only.
                logger.exception("reload of %s failed unexpectedly", self.folder)
                return failed(f"an unexpected error ({type(exc).__name__}); the bot's log has the details")
            _log_opened(opened, self.saved, time.perf_counter() - started)
            new = self.index = opened.index  # the swap: one assignment, atomic for every reader
            _settle()
            before = {a.source: a for a in old.articles}
            after = {a.source: a for a in new.articles}
            return ReloadReport(
                ok=True,
                added=tuple(sorted(after.keys() - before.keys())),
                removed=tuple(sorted(before.keys() - after.keys())),
                changed=tuple(sorted(s for s in after.keys() & before.keys() if after[s] != before[s])),
                articles=len(new.articles),
                passages=len(new.passages),
                problems=tuple(new.problems),
                seconds=round(time.perf_counter() - started, 3),
                version=new.version,
            )


def _settle() -> None:
    """Move every object alive now, the index included, out of the garbage collector's sight.

    A full collection walks every live object, tens of milliseconds with an index loaded, and
    stalls whichever question triggers it. The index holds no reference cycles, so when a
    reload replaces it, reference counting frees it all the same."""
    gc.freeze()


def _log_opened(opened: Opened, saved: Path | None, seconds: float) -> None:
    index = opened.index
    size = f"{count(len(index.articles), 'article')}, {count(len(index.passages), 'passage')}, version {index.version}"
    if opened.source == "saved":
        logger.info("index read from %s in %.2f s: %s", saved, seconds, size)
        return
    if opened.source == "updated":
        logger.info("index updated from the changed files in %.2f s: %s", seconds, size)
        return
    if opened.not_reused and saved is not None:
        logger.info("saved index %s not used: %s", saved, opened.not_reused)
    logger.info("index built in %.2f s: %s", seconds, size)
    if opened.save_error:
        logger.warning("could not save the index for next time (%s); the next start indexes again", opened.save_error)
