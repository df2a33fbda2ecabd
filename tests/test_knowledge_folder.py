"""Hostile and odd knowledge folders, end to end: links that lead out of the folder, folders nested a
thousand deep, an article that breaks the build in an unexpected way.

Real: the bot started by tests/slackbot.py `serving` over real HTTP, its SQLite query log and saved
index in the test's tmp folder, a copy of the knowledge folder changed by the test, the command line
as a real process. Fake: Slack's servers only (tests/fakeslack.py).

What an admin must see: every reload answers, success or failure; a file or folder the bot did not
read is named with the reason (never with where a link points: that would show a Slack admin the
server's layout); nothing outside the knowledge folder is ever read, answered from or saved.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import KNOWLEDGE
from tests.fakeslack import BOT_TOKEN, SIGNING_SECRET, USER_ID, FakeSlack
from tests.slackbot import NEW_ARTICLE_ANSWER, NEW_ARTICLE_TEXT, reads, serving, shown
from tests.test_app import admin, ask
from tests.test_cli import run

WOMBAT_QUESTION = "What is the Wombat Commissioning Framework?"
NESTED = 1000  # folders inside each other: deeper than Python's recursion limit
BOTTOM_TEXT = """Numbat procurement notice

The numbat procurement notice sits at the bottom of a very deep folder and sets out tender rules.
"""


def copy_knowledge(tmp_path: Path) -> Path:
    return Path(shutil.copytree(KNOWLEDGE, tmp_path / "knowledge"))


def problem_lines(report: str) -> dict[str, str]:
    """The report's problems, as name -> the rest of its line ("(skipped): why")."""
    found = {}
    for line in report.splitlines():
        if line.startswith("• "):
            name, _, rest = line[2:].partition(" (")
            found[name] = rest
    return found


@pytest.fixture
def nest() -> Iterator[Callable[[Path], None]]:
    """Makes NESTED folders `d/d/…/d` under a folder, with an article at the top (d/wombat.txt) and
    one at the bottom; removes them afterwards, bottom up (shutil.rmtree recurses, and pytest's
    clean-up of its tmp folders with it)."""
    made: list[Path] = []

    def make(root: Path) -> None:
        root.mkdir(exist_ok=True)
        bottom = root
        for _ in range(NESTED):  # one at a time: os.makedirs recurses too
            bottom = bottom / "d"
            bottom.mkdir()
            made.append(bottom)
        (root / "d" / "wombat.txt").write_text(NEW_ARTICLE_TEXT, encoding="utf-8")
        (bottom / "bottom.txt").write_text(BOTTOM_TEXT, encoding="utf-8")

    yield make
    for folder in reversed(made):
        for entry in os.scandir(folder):
            os.unlink(entry.path)  # the folder below was removed in the step before
        folder.rmdir()


def too_deep(problems: dict[str, str]) -> list[str]:
    return [name for name, why in problems.items() if name.startswith("d/d/") and "deep" in why]


# --- links -----------------------------------------------------------------------------------


async def test_links_out_of_the_folder_are_named_skipped_and_never_read(slack: FakeSlack, tmp_path: Path) -> None:
    knowledge = copy_knowledge(tmp_path)
    secrets = f"SLACK_BOT_TOKEN={BOT_TOKEN}\nSLACK_SIGNING_SECRET={SIGNING_SECRET}\n"
    (tmp_path / "secret.env").write_text(secrets, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "passwords.txt").write_text("Passwords\n\n" + secrets, encoding="utf-8")
    async with serving(slack, tmp_path, knowledge_dir=knowledge, admin_user_ids=USER_ID) as bot:
        (knowledge / "notes.txt").symlink_to("../secret.env")
        (knowledge / "shared").symlink_to(elsewhere)
        # A link that stays inside the folder is read: it shows nothing the folder does not hold.
        (knowledge / "_drafts").mkdir()
        (knowledge / "_drafts" / "wombat.txt").write_text(NEW_ARTICLE_TEXT, encoding="utf-8")
        (knowledge / "wombat.txt").symlink_to("_drafts/wombat.txt")

        [_, report] = await admin(bot, "reload", count=2)
        await ask(bot, "SLACK_BOT_TOKEN SLACK_SIGNING_SECRET")
        await ask(bot, WOMBAT_QUESTION)
        [secret_answer, wombat_answer] = await bot.posts(2)

        problems = problem_lines(report)
        assert "Knowledge base reloaded" in report and "Added (1): wombat.txt" in report
        assert "outside the knowledge folder" in problems["notes.txt"]
        assert "outside the knowledge folder" in problems["shared"]
        assert str(tmp_path) not in report and "secret.env" not in report  # where the links lead is not shown
        for call in (secret_answer, wombat_answer):
            assert BOT_TOKEN not in shown(call.params) and SIGNING_SECRET not in shown(call.params)
        assert NEW_ARTICLE_ANSWER in reads(wombat_answer.params) and "wombat.txt, passage" in shown(
            wombat_answer.params
        )
        saved = bot.settings.index_file
        assert saved is not None and saved.exists()
        assert BOT_TOKEN.encode() not in saved.read_bytes() and SIGNING_SECRET.encode() not in saved.read_bytes()

        # The saved index knows the links: removing one is a change, and the next reload says so.
        (knowledge / "notes.txt").unlink()
        [_, report] = await admin(bot, "reload", count=2)
        assert "notes.txt" not in problem_lines(report) and "shared" in problem_lines(report)


# --- deep folders ----------------------------------------------------------------------------


async def test_a_reload_with_1000_nested_folders_names_the_deep_ones_and_indexes_the_rest(
    slack: FakeSlack, tmp_path: Path, nest: Callable[[Path], None]
) -> None:
    knowledge = copy_knowledge(tmp_path)
    async with serving(slack, tmp_path, knowledge_dir=knowledge, admin_user_ids=USER_ID) as bot:
        nest(knowledge)

        [_, report] = await admin(bot, "reload", count=2)
        await ask(bot, WOMBAT_QUESTION)
        [call] = await bot.posts()

        assert "Knowledge base reloaded" in report and "Added (1): d/wombat.txt" in report
        [deep] = too_deep(problem_lines(report))
        assert NESTED > deep.count("/") + 1 >= 10  # the first folder not entered, named
        assert NEW_ARTICLE_ANSWER in reads(call.params)
        assert "bottom.txt" not in {a.source.rsplit("/", 1)[-1] for a in bot.running.engine.index.articles}


async def test_the_bot_starts_with_1000_nested_folders_and_answers(
    slack: FakeSlack, tmp_path: Path, nest: Callable[[Path], None]
) -> None:
    knowledge = copy_knowledge(tmp_path)
    nest(knowledge)
    async with serving(slack, tmp_path, knowledge_dir=knowledge) as bot:
        await ask(bot, WOMBAT_QUESTION)
        [call] = await bot.posts()
        assert NEW_ARTICLE_ANSWER in reads(call.params)
        assert too_deep({p.source: p.message for p in bot.running.engine.index.problems})


def test_the_index_command_with_1000_nested_folders_reports_and_exits_normally(
    tmp_path: Path, nest: Callable[[Path], None]
) -> None:
    knowledge = tmp_path / "knowledge"
    nest(knowledge)
    result = run("--knowledge", str(knowledge), "index", env={"QUERY_LOG_PATH": str(tmp_path / "queries.db")})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "d/wombat.txt" in result.stdout and "deep" in result.stdout


# --- a build that fails unexpectedly ---------------------------------------------------------


async def test_front_matter_that_breaks_the_yaml_parser_costs_a_warning_not_the_reload(
    slack: FakeSlack, tmp_path: Path
) -> None:
    """Front matter nested deeper than PyYAML can recurse, and a date that cannot be (month 13), once
    made the whole reload fail (and start-up crash); now each is a warning on its own article."""
    knowledge = copy_knowledge(tmp_path)
    async with serving(slack, tmp_path, knowledge_dir=knowledge, admin_user_ids=USER_ID) as bot:
        old = bot.running.engine.index.version
        title = "[" * 600 + "]" * 600
        (knowledge / "hostile.md").write_text(f"---\ntitle: {title}\n---\n# Hostile\n\nSome text.\n", encoding="utf-8")
        (knowledge / "dated.txt").write_text(
            "---\npublished: 2017-13-45\n---\nNumbat Commissioning Scheme\n\nThe Numbat Commissioning Scheme pools "
            "budgets for rural bus routes.\n",
            encoding="utf-8",
        )

        [_, report] = await admin(bot, "reload", count=2)
        await ask(bot, "What does the Numbat Commissioning Scheme pool?")
        [call] = await bot.posts()

    assert "Knowledge base reloaded" in report and "Added (2): dated.txt, hostile.md" in report
    assert "front matter is nested too deeply to read; ignored it" in report
    assert "front matter has a value that cannot be read (month must be in 1..12); ignored it" in report
    assert bot.running.engine.index.version != old
    assert "rural bus routes" in reads(call.params)
