"""Reloading the knowledge folder: what an admin is told, and what askers see meanwhile."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.corpus import list_folder
from bot.engine import PROCESS_ABOVE_BYTES, Engine, article_bytes
from bot.search import DEFAULT_MIN_RELEVANCE
from tests.conftest import KNOWLEDGE

NAO = "000_eb80a55c94ec531c.txt"
REFORM = "004_41aa59598580c461.txt"
FLAGSHIP = "How many CCGs overspent in 2017-18?"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


@pytest.fixture(params=["thread", "process"])
def start(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[Path], Awaitable[Engine]]:
    """Start an engine that builds in a worker thread (small folders) or, as for a large folder,
    in a child process that saves the index for the bot to read."""

    async def start(folder: Path) -> Engine:
        process_above = 0 if request.param == "process" else PROCESS_ABOVE_BYTES
        return await Engine.start(folder, DEFAULT_MIN_RELEVANCE, tmp_path / "queries.index", process_above)

    return start


async def test_reload_reports_added_changed_and_removed_articles(
    folder: Path, start: Callable[[Path], Awaitable[Engine]]
) -> None:
    engine = await start(folder)
    before = engine.index.version
    (folder / "005_copy.txt").write_text((folder / NAO).read_text(encoding="utf-8"), encoding="utf-8")
    reform = folder / REFORM
    reform.write_text(reform.read_text(encoding="utf-8").replace("38 new", "39 new"), encoding="utf-8")
    (folder / "003_6bb7e4c893f45a2a.txt").unlink()

    report = await engine.reload()

    assert report.ok and report.error is None
    assert (report.added, report.changed, report.removed) == (
        ("005_copy.txt",),
        (REFORM,),
        ("003_6bb7e4c893f45a2a.txt",),
    )
    assert report.articles == 5 and report.passages == len(engine.index.passages)
    assert report.version == engine.index.version != before
    assert "39 new" in " ".join(h.excerpt for h in engine.search("How many new super councils?", top=3).hits)


async def test_reload_of_an_unchanged_folder_changes_nothing(
    folder: Path, start: Callable[[Path], Awaitable[Engine]]
) -> None:
    engine = await start(folder)
    report = await engine.reload()
    assert report.ok and (report.added, report.changed, report.removed) == ((), (), ())
    assert report.version == engine.index.version


@pytest.mark.parametrize("damage", ["missing", "empty", "unreadable"])
async def test_a_failed_reload_keeps_the_old_index_and_says_why(
    folder: Path, start: Callable[[Path], Awaitable[Engine]], damage: str
) -> None:
    engine = await start(folder)
    version = engine.index.version
    if damage == "missing":
        shutil.rmtree(folder)
    else:
        for path in folder.iterdir():
            if damage == "empty":
                path.unlink()
            else:
                path.write_bytes(b"\xff\xfe\x00binary\x00" * 10)

    report = await engine.reload()

    assert not report.ok
    assert report.error and str(folder) in report.error
    assert engine.index.version == version == report.version
    assert "75 of 207 CCGs" in engine.search(FLAGSHIP, top=1).hits[0].excerpt


async def test_a_reload_that_fails_unexpectedly_reports_it_and_keeps_the_old_index(
    folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in building (here a stand-in for one: the build raises RuntimeError) still ends the reload
    with a report, so the admin who asked hears back, and the old index goes on answering."""
    engine = await Engine.start(folder, DEFAULT_MIN_RELEVANCE)
    version = engine.index.version

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug in /srv/bot/bot/clean.py")

    def broken_update(*_: object, **__: object) -> None:
        raise RuntimeError("a bug in /srv/bot/bot/incremental.py")

    monkeypatch.setattr("bot.engine.open_index_off_loop", broken)
    monkeypatch.setattr("bot.incremental.update", broken_update)  # the update of changed files, too
    with caplog.at_level(logging.ERROR, logger="bot.engine"):
        report = await engine.reload()

    assert not report.ok and report.version == version == engine.index.version
    assert report.error == "an unexpected error (RuntimeError); the bot's log has the details"
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)
    assert "75 of 207 CCGs" in engine.search(FLAGSHIP, top=1).hits[0].excerpt


async def test_questions_during_a_reload_are_answered_from_the_old_index(
    folder: Path, start: Callable[[Path], Awaitable[Engine]]
) -> None:
    engine = await start(folder)
    old = engine.index.version
    for n in range(60):  # enough articles that indexing takes a noticeable while
        (folder / f"extra_{n:03}.txt").write_text((folder / REFORM).read_text(encoding="utf-8") + f"\nCopy {n}.\n")

    reload = asyncio.create_task(engine.reload())
    await asyncio.sleep(0)  # the reload starts and hands the work to a thread
    answered_meanwhile = []
    while not reload.done():
        answer = engine.search(FLAGSHIP, top=1)
        answered_meanwhile.append(engine.index.version)
        assert "75 of 207 CCGs" in answer.hits[0].excerpt
        await asyncio.sleep(0.005)  # the event loop stays free: this coroutine keeps running
    report = await reload

    assert answered_meanwhile and set(answered_meanwhile) == {old}
    assert report.ok and len(report.added) == 60 and engine.index.version != old


async def test_reloads_asked_for_together_run_one_after_the_other(
    folder: Path, start: Callable[[Path], Awaitable[Engine]]
) -> None:
    engine = await start(folder)
    (folder / "005_copy.txt").write_text((folder / NAO).read_text(encoding="utf-8"), encoding="utf-8")
    first, second = await asyncio.gather(engine.reload(), engine.reload())
    assert first.added == ("005_copy.txt",)
    assert second.ok and second.added == () and second.version == engine.index.version


async def test_a_restart_reads_the_saved_index_instead_of_indexing(
    folder: Path, start: Callable[[Path], Awaitable[Engine]], caplog: pytest.LogCaptureFixture
) -> None:
    first = await start(folder)
    caplog.set_level(logging.INFO, logger="bot.engine")
    second = await start(folder)
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == [
        f"index read from {folder.parent / 'queries.index'}"
    ]
    assert second.index.version == first.index.version
    assert "75 of 207 CCGs" in second.search(FLAGSHIP, top=1).hits[0].excerpt


async def test_a_replaced_index_is_freed(folder: Path, start: Callable[[Path], Awaitable[Engine]]) -> None:
    """The bot hides its index from the garbage collector (gc.freeze) to avoid long pauses; a
    reload must still free the index it replaces, or memory would grow with every reload."""
    engine = await start(folder)
    old = weakref.ref(engine.index)
    (folder / "005_copy.txt").write_text((folder / NAO).read_text(encoding="utf-8"), encoding="utf-8")
    assert (await engine.reload()).ok
    assert old() is None


def test_the_cost_of_a_build_counts_no_file_outside_the_folder(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"x" * PROCESS_ABOVE_BYTES)
    before = article_bytes(list_folder(folder))
    (folder / "big.txt").symlink_to(tmp_path / "big.txt")
    assert article_bytes(list_folder(folder)) == before


async def test_a_start_and_a_reload_each_list_the_knowledge_folder_once(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing a large folder takes seconds (1.9 s at 200,000 files): the saved index's check, the
    size of the build and the build itself share one listing. Counted where the operating system
    is asked, os.scandir of the folder itself."""
    listed: list[str] = []
    scandir = os.scandir

    def counting(path: Any) -> Any:
        if Path(path) == folder:
            listed.append(str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    engine = await Engine.start(folder, DEFAULT_MIN_RELEVANCE, tmp_path / "queries.index", PROCESS_ABOVE_BYTES)
    assert len(listed) == 1
    (folder / "new.txt").write_text("Integrated care boards replaced CCGs in July 2022.\n", encoding="utf-8")
    listed.clear()
    report = await engine.reload()
    assert report.ok and report.added == ("new.txt",)
    assert len(listed) == 1
    (folder / "synonyms.txt").write_text("ICB = integrated care board\n", encoding="utf-8")  # a full build
    listed.clear()
    assert (await engine.reload()).ok
    assert len(listed) == 1
