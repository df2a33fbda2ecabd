"""Reloading when the knowledge folder changes (WATCH_KNOWLEDGE): bot/watch.py.

Real: the Engine over a copy of the knowledge folder in tmp_path, real files written there, real
watchfiles events; end to end, the bot started by `bot.serve.running` and asked through the fake
Slack (tests/fakeslack.py). What the tests read is what people see: the bot's answers, and the
lines the watcher logs for an operator. Reloads are waited for with generous deadlines, never timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path, PurePath

import pytest

from bot.config import Settings
from bot.engine import Engine
from bot.search import DEFAULT_MIN_RELEVANCE
from bot.watch import STOP_SECONDS, Burst, KnowledgeWatcher, affects_index, held_articles
from tests.conftest import KNOWLEDGE
from tests.fakeslack import USER_ID, FakeSlack, app_mention_event
from tests.slackbot import (
    ANSWER,
    NAO_FILE,
    NAO_TITLE,
    NEW_ARTICLE,
    NEW_ARTICLE_ANSWER,
    NEW_ARTICLE_TEXT,
    QUESTION,
    Bot,
    mention_text,
    reads,
    serving,
)

DEBOUNCE = 0.2  # seconds of quiet before a reload; short, so the tests are quick
DEADLINE = 20.0  # how long a test waits for a reload; a healthy one takes well under a second
WOMBAT_QUESTION = "What is the Wombat Commissioning Framework?"
NOTHING_FOUND = "Nothing in the knowledge base answers that"


# --- what the watcher logs, and waiting for it --------------------------------------------


class WatcherLog(logging.Handler):
    """What bot.watch logs for an operator during a test, set-up included (caplog keeps each phase apart)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, text: str) -> list[str]:
        return [r.getMessage() for r in self.records if text in r.getMessage()]

    def reloads(self) -> list[str]:
        """One line per reload the watcher made, successful or not."""
        return self.lines("knowledge folder changed (")

    def watching(self) -> int:
        """How many times a watch of the folder has been put in place."""
        return len(self.lines("s after files stop changing"))

    def missing(self) -> list[str]:
        return self.lines("is missing or not a folder")


@pytest.fixture(autouse=True)
def log() -> Iterator[WatcherLog]:
    logger = logging.getLogger("bot.watch")
    handler, level = WatcherLog(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    """A copy of the real knowledge folder that a test may change."""
    return Path(shutil.copytree(KNOWLEDGE, tmp_path / "knowledge"))


@pytest.fixture
async def engine(knowledge: Path) -> Engine:
    return await Engine.start(knowledge, DEFAULT_MIN_RELEVANCE)


@contextlib.asynccontextmanager
async def started_watcher(
    engine: Engine, log: WatcherLog, debounce: float = DEBOUNCE
) -> AsyncIterator[KnowledgeWatcher]:
    """A watcher over the engine's folder, with short delays, once its watch is in place."""
    watcher = KnowledgeWatcher(engine, debounce, retry=0.1, max_retry=0.5)
    watcher.start()
    try:
        await until(lambda: log.watching() == 1, "the watch to be in place")
        yield watcher
    finally:
        await watcher.close()


@pytest.fixture
async def watcher(engine: Engine, log: WatcherLog) -> AsyncIterator[KnowledgeWatcher]:
    async with started_watcher(engine, log) as watcher:
        yield watcher


@pytest.fixture
async def watched_bot(slack: FakeSlack, tmp_path: Path, knowledge: Path, log: WatcherLog) -> AsyncIterator[Bot]:
    """The bot over HTTP with WATCH_KNOWLEDGE on, reading the copied knowledge folder."""
    async with serving(
        slack, tmp_path, knowledge_dir=knowledge, watch_knowledge=True, watch_debounce_seconds=DEBOUNCE
    ) as bot:
        await until(lambda: log.watching() == 1, "the watch to be in place")
        yield bot


async def until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"waited {timeout:.0f} s for {what}")


async def next_reload(log: WatcherLog, seen: int) -> str:
    """Wait for reload number `seen + 1` and return its log line."""
    await until(lambda: len(log.reloads()) > seen, f"reload {seen + 1}")
    return log.reloads()[seen]


async def answer(bot: Bot, question: str) -> str:
    """@mention the bot with `question` and return the text of its answer, as a reader sees it."""
    before = len(bot.slack.calls("chat.postMessage", ok=True))
    assert (await bot.event(app_mention_event(mention_text(question)))).status == 200
    return reads((await bot.posts(before + 1))[-1].params)


def found(engine: Engine, question: str) -> str:
    """The text of the passages the engine answers `question` with."""
    return "\n".join(hit.passage.text for hit in engine.search(question, top=3).hits)


# --- which changes matter (pure) --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["000_a.txt", "policy/briefing.md", "NOTES.TXT", "synonyms.txt", "2024 reports/x.md"],
)
def test_articles_and_synonyms_matter(path: str) -> None:
    assert affects_index(PurePath(path), is_folder=False)


@pytest.mark.parametrize(
    "path",
    [
        ".000_a.txt.swp",  # vim swap file
        "000_a.txt~",  # vim and emacs backup
        ".#000_a.txt",  # emacs lock
        "#000_a.txt#",  # emacs auto-save
        "4913",  # vim's can-I-write-here probe
        ".~lock.000_a.txt#",  # LibreOffice lock
        "000_a.txt.tmp",
        "notes.xlsx",
        ".git/HEAD.txt",
        "_drafts/000_a.txt",  # corpus.py skips folders starting with _
        "",  # the folder itself: watched by its identity instead
    ],
)
def test_editor_files_hidden_files_and_other_files_do_not(path: str) -> None:
    assert not affects_index(PurePath(path), is_folder=False)


def test_a_folder_matters_unless_hidden_and_a_deleted_one_by_what_it_held() -> None:
    assert affects_index(PurePath("2024.reports"), is_folder=True)
    assert not affects_index(PurePath(".cache"), is_folder=True)
    sources = ["000_a.txt", "2024.reports/x.md"]
    assert held_articles(PurePath("2024.reports"), sources)
    assert not held_articles(PurePath("2024"), sources)


def test_a_burst_is_due_after_the_quiet_time_or_at_the_latest_after_the_longest() -> None:
    burst = Burst(quiet=2.0, longest=20.0)
    assert not burst.due(100.0)  # nothing changed
    burst.add(["a.txt"], 100.0)
    burst.add([], 101.5)  # a tick with no change does not restart the quiet time
    assert not burst.due(101.9)
    burst.add(["b.txt"], 101.9)
    assert not burst.due(103.8) and burst.due(103.9)
    for now in range(104, 120):  # changes every second: never quiet
        burst.add(["c.txt"], float(now))
    assert burst.due(120.0)
    assert burst.take() == ["a.txt", "b.txt", "c.txt"] and not burst.due(200.0)


# --- the watcher over a real engine ----------------------------------------------------------


async def test_several_writes_within_the_quiet_time_cause_one_reload(
    engine: Engine, knowledge: Path, log: WatcherLog
) -> None:
    names = [f"batch_{n}.txt" for n in range(5)]
    async with started_watcher(engine, log, debounce=0.6):
        for name in names:
            (knowledge / name).write_text(f"Batch article {name}\n\nThe {name} text about integrated care.\n")
            await asyncio.sleep(0.1)  # long enough for watchfiles to report each write on its own

        first = await next_reload(log, 0)
        (knowledge / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")  # a later, separate change
        second = await next_reload(log, 1)

    assert len(log.reloads()) == 2  # a reload per burst, none for part of one
    assert f"knowledge folder changed ({', '.join(names)}); reloaded" in first
    assert f"added {', '.join(names)}" in first
    assert f"added {NEW_ARTICLE}" in second and "batch_" not in second
    assert NEW_ARTICLE_ANSWER in found(engine, WOMBAT_QUESTION)


async def test_an_editor_saving_with_backup_and_rename_causes_one_reload(
    watcher: KnowledgeWatcher, knowledge: Path, log: WatcherLog
) -> None:
    # vim's save: swap file while editing, probe file, original renamed to a backup, new file written,
    # backup deleted.
    article = knowledge / NAO_FILE
    edited = article.read_text(encoding="utf-8").replace("75 of 207 CCGs", "76 of 207 CCGs")
    swap = knowledge / f".{NAO_FILE}.swp"
    swap.write_bytes(b"b0VIM 9.0\x00")
    (knowledge / "4913").write_text("")
    (knowledge / "4913").unlink()
    article.rename(knowledge / f"{NAO_FILE}~")
    article.write_text(edited, encoding="utf-8")
    (knowledge / f"{NAO_FILE}~").unlink()
    swap.unlink()

    line = await next_reload(log, 0)
    (knowledge / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")
    await next_reload(log, 1)

    assert len(log.reloads()) == 2
    assert f"knowledge folder changed ({NAO_FILE});" in line and f"changed {NAO_FILE}" in line
    assert "76 of 207 CCGs" in found(watcher.engine, QUESTION)


async def test_swap_files_and_other_files_do_not_cause_a_reload(
    watcher: KnowledgeWatcher, knowledge: Path, log: WatcherLog
) -> None:
    version = watcher.engine.index.version
    (knowledge / f".{NAO_FILE}.swp").write_bytes(b"b0VIM 9.0\x00")
    (knowledge / f"{NAO_FILE}~").write_text("a backup")
    (knowledge / "minutes.xlsx").write_bytes(b"PK\x03\x04")  # not an article type
    (knowledge / ".DS_Store").write_bytes(b"\x00")
    (knowledge / "_drafts").mkdir()
    (knowledge / "_drafts" / "idea.txt").write_text("Not yet.")
    # Long enough for those to have been reloaded if they counted; the article below then shows
    # whether they did (a reload of its own, or named in the article's).
    await asyncio.sleep(5 * DEBOUNCE)
    (knowledge / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")

    line = await next_reload(log, 0)

    assert len(log.reloads()) == 1
    assert f"knowledge folder changed ({NEW_ARTICLE});" in line
    assert watcher.engine.index.version != version


async def test_a_folder_left_without_articles_keeps_the_old_index_until_fixed(
    watcher: KnowledgeWatcher, knowledge: Path, log: WatcherLog
) -> None:
    version = watcher.engine.index.version
    for article in knowledge.glob("0*.txt"):
        article.unlink()

    failed = await next_reload(log, 0)
    still = found(watcher.engine, QUESTION)
    (knowledge / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")
    fixed = await next_reload(log, 1)

    assert f"the reload failed; still answering from the previous index (index version {version})" in failed
    assert "has no article files (.txt, .md, .pdf" in failed
    assert [r.levelno for r in log.records if r.getMessage() == failed] == [logging.WARNING]
    assert ANSWER in still
    assert "reloaded in" in fixed and "1 article," in fixed
    assert NEW_ARTICLE_ANSWER in found(watcher.engine, WOMBAT_QUESTION)


async def test_a_deleted_and_recreated_folder_is_watched_again_and_reloaded(
    watcher: KnowledgeWatcher, knowledge: Path, log: WatcherLog
) -> None:
    version = watcher.engine.index.version
    shutil.rmtree(knowledge)
    await until(lambda: bool(log.missing()), "the folder to be missed")
    assert ANSWER in found(watcher.engine, QUESTION)  # still answering from the old index

    staging = Path(shutil.copytree(KNOWLEDGE, knowledge.with_name("staging")))
    (staging / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")
    staging.rename(knowledge)  # in one step, so the reload sees the whole new folder
    line = await next_reload(log, 0)
    reloaded = watcher.engine.index.version
    await until(lambda: log.watching() == 2, "the new folder to be watched")
    (knowledge / NEW_ARTICLE).unlink()  # the new folder's changes are seen too
    removed = await next_reload(log, 1)

    assert f"added {NEW_ARTICLE}" in line and reloaded != version
    assert f"removed {NEW_ARTICLE}" in removed
    assert NEW_ARTICLE_ANSWER not in found(watcher.engine, WOMBAT_QUESTION)


async def test_a_folder_missing_at_start_is_waited_for(engine: Engine, knowledge: Path, log: WatcherLog) -> None:
    moved = knowledge.rename(knowledge.with_name("elsewhere"))
    watcher = KnowledgeWatcher(engine, DEBOUNCE, retry=0.1, max_retry=0.5)
    watcher.start()
    try:
        await until(lambda: bool(log.missing()), "the folder to be missed")
        (moved / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")
        moved.rename(knowledge)
        line = await next_reload(log, 0)
    finally:
        await watcher.close()

    assert log.lines("is back after")
    assert f"added {NEW_ARTICLE}" in line
    assert NEW_ARTICLE_ANSWER in found(engine, WOMBAT_QUESTION)


@pytest.mark.parametrize("state", ["watching", "waiting for the folder"])
async def test_close_stops_the_watcher_promptly(engine: Engine, knowledge: Path, log: WatcherLog, state: str) -> None:
    if state != "watching":
        shutil.rmtree(knowledge)
    # A long retry: closing must not wait for it.
    watcher = KnowledgeWatcher(engine, DEBOUNCE, retry=60.0, max_retry=60.0)
    watcher.start()
    await until(lambda: log.watching() == 1 if state == "watching" else bool(log.missing()), state)

    started = time.monotonic()
    await watcher.close()

    # Well under STOP_SECONDS, after which close() would have had to cancel the watcher.
    assert time.monotonic() - started < STOP_SECONDS / 2
    assert log.reloads() == []


# --- end to end: the bot in Slack ------------------------------------------------------------


async def test_a_new_article_is_answered_once_saved(watched_bot: Bot, knowledge: Path, log: WatcherLog) -> None:
    before = await answer(watched_bot, WOMBAT_QUESTION)

    (knowledge / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")
    await next_reload(log, 0)
    after = await answer(watched_bot, WOMBAT_QUESTION)

    assert NOTHING_FOUND in before
    assert NEW_ARTICLE_ANSWER in after and NEW_ARTICLE in after


async def test_an_edited_article_changes_the_answer_and_a_deleted_one_is_gone(
    watched_bot: Bot, knowledge: Path, log: WatcherLog
) -> None:
    article = knowledge / NAO_FILE
    article.write_text(article.read_text(encoding="utf-8").replace("75 of 207", "76 of 207"), encoding="utf-8")
    edited = await next_reload(log, 0)
    after_edit = await answer(watched_bot, QUESTION)

    article.unlink()
    deleted = await next_reload(log, 1)
    after_delete = await answer(watched_bot, QUESTION)

    assert f"changed {NAO_FILE}" in edited and "76 of 207 CCGs" in after_edit
    assert f"removed {NAO_FILE}" in deleted
    assert ANSWER not in after_delete and "76 of 207" not in after_delete and NAO_TITLE not in after_delete


async def test_a_broken_folder_keeps_the_bot_answering_until_it_is_fixed(
    watched_bot: Bot, knowledge: Path, log: WatcherLog
) -> None:
    saved = {article.name: article.read_bytes() for article in knowledge.glob("0*.txt")}
    for name in saved:
        (knowledge / name).unlink()
    await next_reload(log, 0)
    while_broken = await answer(watched_bot, QUESTION)

    (knowledge / NAO_FILE).write_bytes(saved[NAO_FILE])
    await next_reload(log, 1)
    fixed = await answer(watched_bot, QUESTION)

    assert "reload failed" in log.reloads()[0]
    assert ANSWER in while_broken
    assert ANSWER in fixed and watched_bot.running.engine.index.articles[0].source == NAO_FILE


async def test_without_the_setting_changes_wait_for_admin_reload(
    slack: FakeSlack, tmp_path: Path, knowledge: Path, log: WatcherLog
) -> None:
    async with serving(slack, tmp_path, knowledge_dir=knowledge, admin_user_ids=USER_ID) as bot:
        assert Settings.model_fields["watch_knowledge"].default is False and not bot.settings.watch_knowledge
        (knowledge / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")
        await asyncio.sleep(5 * DEBOUNCE)  # time a watcher would have had to reload
        before = await answer(bot, WOMBAT_QUESTION)
        _, response_url = await bot.command("reload", command="/ask-admin")
        await bot.responses(response_url, 2)
        after = await answer(bot, WOMBAT_QUESTION)

    assert NOTHING_FOUND in before and NEW_ARTICLE_ANSWER in after
    assert log.records == []
