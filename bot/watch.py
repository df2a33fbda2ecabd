"""Reload the search index when files in the knowledge folder change (opt-in: WATCH_KNOWLEDGE=true).

Without it, whoever edits the articles must remember `/ask-admin reload`. Every reload here goes
through `Engine.reload()`, the path `/ask-admin reload` takes, so a change that leaves the folder
unusable (every article deleted, say) keeps the bot answering from the index it had.

watchfiles reports the changes (inotify, FSEvents, ReadDirectoryChangesW; set WATCHFILES_FORCE_POLLING
for network and container mounts that send no events). A burst of changes, such as saving several
files or an editor's write-to-temp-then-rename, becomes one reload: the reload waits until the folder
has been quiet for WATCH_DEBOUNCE_SECONDS, or at most MAX_DELAY_FACTOR times that, so a folder that
never stops changing is still reloaded. Changes that cannot alter the index (editor swap and backup
files, hidden files, files that are not articles; the rules follow bot/corpus.py) are ignored.

A watch ends with the folder it watches, so the folder is checked on every tick: when it is deleted,
renamed away or replaced, the watcher says so, waits for it with a growing delay, then watches the
new one and reloads. Nothing here may stop the bot: a failed reload or watch is logged and the
watching goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from watchfiles import Change, awatch

from bot.corpus import ARTICLE_SUFFIXES
from bot.engine import Engine
from bot.models import ReloadReport, count
from bot.sidecar import SIDECAR_FILE

logger = logging.getLogger("bot.watch")

MAX_DELAY_FACTOR = 10  # a folder changing non-stop is reloaded after this many quiet periods
STEP_MS = 50  # how often watchfiles looks for new events while gathering a burst
RETRY_SECONDS = 1.0  # first wait before looking again for a missing folder or retrying a failed watch
MAX_RETRY_SECONDS = 30.0
STOP_SECONDS = 2.0  # how long close() lets a reload in progress finish before cancelling it
FOLDER_ITSELF = "whole folder"  # stands for "everything may have changed" in the pending paths
MAX_NAMED = 5  # changed paths named in a log line


# --- pure decisions --------------------------------------------------------------------------


def affects_index(relative: PurePath, *, is_folder: bool) -> bool:
    """Whether a change at `relative` (a path inside the knowledge folder) can change what the index loads.

    `is_folder`: the path is a folder, or was one that held articles. bot/corpus.py loads `.txt` and
    `.md` files (synonyms.txt among them) and skips every path with a part starting with `.` or `_`,
    which covers editor files such as `.notes.txt.swp` and `.#notes.txt`; `notes.txt~` and
    `#notes.txt#` are not articles by their suffix."""
    parts = relative.parts
    if not parts or any(part.startswith((".", "_")) for part in parts):
        return False
    return is_folder or relative.suffix.lower() in ARTICLE_SUFFIXES or relative.as_posix() == SIDECAR_FILE


def held_articles(relative: PurePath, sources: Iterable[str]) -> bool:
    """Whether the index has articles under `relative`: a folder that is gone can only be told apart
    from a file by what was in it."""
    prefix = relative.as_posix() + "/"
    return any(source.startswith(prefix) for source in sources)


@dataclass
class Burst:
    """Changes waiting for the folder to go quiet before one reload."""

    quiet: float  # seconds without a change before the reload
    longest: float  # seconds after the first change when the reload happens anyway
    paths: set[str] = field(default_factory=set)
    first: float = 0.0
    last: float = 0.0

    def add(self, paths: Iterable[str], now: float) -> None:
        paths = set(paths)
        if not paths:
            return
        if not self.paths:
            self.first = now
        self.paths |= paths
        self.last = now

    def due(self, now: float) -> bool:
        return bool(self.paths) and (now - self.last >= self.quiet or now - self.first >= self.longest)

    def take(self) -> list[str]:
        paths, self.paths = sorted(self.paths), set()
        return paths


def describe(report: ReloadReport, paths: list[str]) -> str:
    """One log line: what changed on disk, and what the reload made of it (or why it failed)."""
    if not report.ok:
        failed = f"knowledge folder changed ({_named(paths)}) but the reload failed"
        return f"{failed}; {report.still_answering()}: {report.error}"
    what = "; ".join(f"{label} {_named(names)}" for label, names in report.changes())
    problems = f"; {count(len(report.problems), 'file')} with problems" if report.problems else ""
    return (
        f"knowledge folder changed ({_named(paths)}); reloaded in {report.seconds:.2f} s: "
        f"{report.totals()}, index version {report.version}; {what or report.NOTHING_CHANGED}{problems}"
    )


def _named(names: Sequence[str]) -> str:
    more = f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else ""
    return ", ".join(names[:MAX_NAMED]) + more


def folder_identity(folder: str) -> tuple[int, int] | None:
    """(device, inode) of the folder, None when there is no folder there: a changed identity means
    the folder was replaced, and the old watch sees nothing of the new one."""
    try:
        found = os.stat(folder)
    except OSError:
        return None
    return (found.st_dev, found.st_ino) if stat.S_ISDIR(found.st_mode) else None


# --- the watching loop -----------------------------------------------------------------------


class KnowledgeWatcher:
    """Watches the engine's knowledge folder and reloads the engine after each quiet burst of changes."""

    def __init__(
        self,
        engine: Engine,
        debounce: float,
        *,
        retry: float = RETRY_SECONDS,
        max_retry: float = MAX_RETRY_SECONDS,
    ) -> None:
        self.engine = engine
        self.folder = os.path.abspath(engine.folder)  # watchfiles reports absolute paths
        self.debounce = debounce
        self.retry = retry
        self.max_retry = max_retry
        # Checked by watchfiles' own thread between steps, which is how a watch stops within STEP_MS.
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="knowledge-watcher")

    async def close(self) -> None:
        """Stop watching; a reload in progress gets STOP_SECONDS to finish, then is abandoned."""
        self._stop.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=STOP_SECONDS)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        """Watch until close(); never raises, whatever happens to the folder or a reload."""
        delay = self.retry
        reload_first = False  # the folder is new to us (came back, or was replaced): reload what it holds
        missing_since: float | None = None
        while not self._stop.is_set():
            identity = folder_identity(self.folder)
            if identity is None:
                if missing_since is None:
                    missing_since = time.monotonic()
                    logger.warning(
                        "knowledge folder %s is missing or not a folder; still answering from index version %s, "
                        "and watching for it to come back",
                        self.folder,
                        self.engine.index.version,
                    )
                reload_first = True
                await self._pause(delay)
                delay = min(delay * 2, self.max_retry)
                continue
            if missing_since is not None:
                away = time.monotonic() - missing_since
                logger.info("knowledge folder %s is back after %.1f s; watching it again", self.folder, away)
                missing_since = None
            try:
                await self._watch(identity, reload_first)
            except Exception:  # a watch that breaks must not take the bot with it
                if folder_identity(self.folder) is not None:  # when the folder went meanwhile, the next turn says so
                    logger.exception("watching %s failed; trying again in %.0f s", self.folder, delay)
                reload_first = True  # changes may have been missed meanwhile
                await self._pause(delay)
                delay = min(delay * 2, self.max_retry)
                continue
            delay = self.retry
            reload_first = True  # _watch returns when the folder is gone or replaced, or on close()

    async def _watch(self, identity: tuple[int, int], reload_first: bool) -> None:
        """Reload after each quiet burst of changes until close(), or until the folder is gone or replaced."""
        burst = Burst(self.debounce, self.debounce * MAX_DELAY_FACTOR)
        if reload_first:
            burst.add([FOLDER_ITSELF], time.monotonic())
        # Each tick hands control back even when nothing happens, to check the folder and the quiet time.
        tick = min(max(int(self.debounce * 1000 / 4), STEP_MS), 1000)
        changes = awatch(
            self.folder,
            watch_filter=self._matters,
            debounce=tick,
            step=STEP_MS,
            stop_event=self._stop,
            rust_timeout=tick,
            yield_on_timeout=True,
        )
        watching = False
        async with contextlib.aclosing(changes):
            async for found in changes:
                if not watching:  # watchfiles yields only once its watch is in place: say so then, not before
                    watching = True
                    logger.info("watching %s: reloading %.1f s after files stop changing", self.folder, self.debounce)
                now = time.monotonic()
                burst.add((self._relative(path).as_posix() for _, path in found), now)
                now_identity = folder_identity(self.folder)
                if now_identity != identity:  # gone (run() says so) or replaced
                    if now_identity is not None:
                        logger.warning("knowledge folder %s was replaced; watching the new one", self.folder)
                    return
                if burst.due(now):
                    await self._reload(burst.take())

    def _matters(self, change: Change, path: str) -> bool:
        relative = self._relative(path)
        if affects_index(relative, is_folder=False):  # an article: no need to find out whether it was a folder
            return True
        if change == Change.deleted:
            is_folder = held_articles(relative, (a.source for a in self.engine.index.articles))
        else:
            is_folder = os.path.isdir(path)
        return affects_index(relative, is_folder=is_folder)

    def _relative(self, path: str) -> PurePath:
        try:
            return PurePath(path).relative_to(self.folder)
        except ValueError:  # not inside the folder: nothing the index reads
            return PurePath()

    async def _reload(self, paths: list[str]) -> None:
        try:
            report = await self.engine.reload()
        except Exception:  # Engine.reload reports the failures it expects; this is any other
            logger.exception("reload after a change in %s failed; still answering from the previous index", self.folder)
            return
        logger.log(logging.INFO if report.ok else logging.WARNING, "%s", describe(report, paths))

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
