"""Outside text shown as it is, and messages that ask nothing left alone (issue 13, items 6 and 7).

File names, admin commands and whatever a library logs can carry characters nobody sees: a newline
that forges a log line, an ESC sequence that retitles the admin's terminal, a right-to-left override
that makes "name\u202egnp.txt" show as "nametxt.png". Each reaches a log line, Slack or the terminal
only through bot/characters.py `printable`, which writes such characters as escapes. And in a thread
the bot answered, "thanks!" or a 👍 gets no answer and is no question in the log.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import logs
from bot.characters import printable, visible
from bot.question import is_chatter, question_text
from tests.conftest import KNOWLEDGE
from tests.fakeslack import FakeSlack, app_mention_event, thread_message_event
from tests.slackbot import ANSWER, QUESTION, Bot, mention_text, reads, serving, shown
from tests.test_logs import captured  # noqa: F401  (the fixture)

RLO = "\u202e"
HOSTILE_NAME = f"name{RLO}gnp.txt"  # shows as "nametxt.png" where the override is obeyed
FORGED_NAME = "notes\n2026-12-05 09:00:00,000 INFO bot.app question answered.txt"
ESCAPED_RLO = "name\\u202egnp.txt"
ARTICLE = """Hostile names commissioning note

The Quokka Commissioning Pact asks each council to publish its commissioning intentions every spring.
"""


# --- the filters ---------------------------------------------------------------------------


def test_printable_writes_every_invisible_character_as_an_escape() -> None:
    assert printable(HOSTILE_NAME) == ESCAPED_RLO
    assert printable("reload\x1b]0;pwned\x07 now\x00") == "reload\\x1b]0;pwned\\x07 now\\x00"
    assert printable("a\nb\tc\u2028d") == "a\\nb\\tc\\u2028d"
    assert printable("Spending watchdog concern · £213m ‘quoted’") == "Spending watchdog concern · £213m ‘quoted’"


def test_visible_and_printable_agree_on_what_a_reader_cannot_see() -> None:
    for ch in ("\x00", "\x1b", "\n", RLO, "\u200b", "\u00ad", "\ufeff"):
        assert visible(f"a{ch}b") in ("a b", "ab")  # content: the character is gone
        assert ch not in printable(f"a{ch}b") and "\\" in printable(f"a{ch}b")  # names: shown as an escape


# --- log lines -----------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["text", "json"])
def test_a_hostile_name_in_a_log_line_cannot_forge_a_line_or_reverse_text(
    captured: io.StringIO,  # noqa: F811
    style: str,
) -> None:
    logs.configure("INFO", style, stream=captured)
    logger = logs.logging.getLogger("bot.watch")
    logger.info("knowledge folder changed (%s)", FORGED_NAME)
    logger.warning("refused /ask-admin %s", "reload\x1b]0;pwned\x07", extra={"path": HOSTILE_NAME})

    lines = captured.getvalue().splitlines()
    assert len(lines) == 2  # the newline in the name did not start a line of its own
    text = captured.getvalue()
    assert "\x1b" not in text and RLO not in text
    if style == "json":
        first, second = (json.loads(line) for line in lines)
        assert first["message"] == f"knowledge folder changed ({printable(FORGED_NAME)})"
        assert second["message"] == "refused /ask-admin reload\\x1b]0;pwned\\x07"
        assert second["path"] == ESCAPED_RLO
    else:
        assert "notes\\n2026-12-05 09:00:00,000 INFO" in lines[0]
        assert "reload\\x1b]0;pwned\\x07" in lines[1] and ESCAPED_RLO in lines[1]


# --- names in Slack, in the terminal and in the watcher's log -------------------------------


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    """A copy of the knowledge folder with an article under a hostile name."""
    folder = Path(shutil.copytree(KNOWLEDGE, tmp_path / "knowledge"))
    (folder / HOSTILE_NAME).write_text(ARTICLE, encoding="utf-8")
    return folder


@pytest.fixture
async def admin_bot(slack: FakeSlack, tmp_path: Path, knowledge: Path) -> AsyncIterator[Bot]:
    async with serving(slack, tmp_path, knowledge_dir=knowledge, admin_user_ids="U0ADMIN") as running:
        yield running


async def admin(bot: Bot, text: str, count: int = 1) -> list[str]:
    http, response_url = await bot.command(text, command="/ask-admin", user="U0ADMIN")
    assert http.status == 200
    return [reads(call.params) for call in await bot.responses(response_url, count)]


async def test_a_hostile_file_name_is_shown_escaped_in_citations_and_reload_reports(
    admin_bot: Bot, knowledge: Path
) -> None:
    await admin_bot.event(app_mention_event(mention_text("What does the Quokka Commissioning Pact ask?")))
    [answer] = await admin_bot.posts()
    (knowledge / FORGED_NAME).write_text(ARTICLE.replace("Quokka", "Wallaby"), encoding="utf-8")
    [_, report] = await admin(admin_bot, "reload", count=2)

    assert f"{ESCAPED_RLO}, passage 1" in shown(answer.params)
    assert RLO not in json.dumps(answer.params, ensure_ascii=False)
    assert printable(FORGED_NAME) in report  # on one line: "Added (1): notes\n2026-…"
    assert "\n2026-12-05" not in report


async def test_admin_words_with_control_characters_are_logged_and_stored_escaped(
    admin_bot: Bot,
    captured: io.StringIO,  # noqa: F811
) -> None:
    logs.configure("INFO", "text", stream=captured)
    hostile = "\x1b]0;pwned\x07stats\x00"

    http, response_url = await admin_bot.command(hostile, command="/ask-admin", user="U0NOBODY")
    assert http.status == 200
    [refusal] = await admin_bot.responses(response_url)
    await admin_bot.settle()

    assert "only the bot's admins" in reads(refusal.params)
    [(user, verb, allowed)] = admin_bot.admin_attempts()
    assert (user, verb, allowed) == ("U0NOBODY", "\\x1b]0;pwned\\x07stats\\x00", False)
    refused = [line for line in captured.getvalue().splitlines() if "refused /ask-admin" in line]
    assert refused == [line for line in refused if "\x1b" not in line and "\x00" not in line]
    assert len(refused) == 1 and "\\x1b]0;pwned\\x07stats\\x00" in refused[0]


def test_index_shows_a_hostile_file_name_escaped_in_the_terminal(knowledge: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--knowledge", str(knowledge), "index"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "SAVE_INDEX": "false", "COLUMNS": "300"},
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert ESCAPED_RLO in done.stdout
    assert RLO not in done.stdout


# --- chit-chat in threads ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["thanks!", "ok", "👍", ":+1:", "lol 😂", "lol :joy:", "Great, thank you so much :pray::skin-tone-3:", "?"],
)
def test_acknowledgements_and_emoji_ask_nothing(text: str) -> None:
    assert is_chatter(question_text(text, None))


@pytest.mark.parametrize(
    "text", ["and in 2016-17?", "ok and what about ICSs?", "no, the NAO report", "thanks, who wrote it?", "why?"]
)
def test_follow_ups_still_ask_something(text: str) -> None:
    assert not is_chatter(question_text(text, None))


def test_emoji_codes_are_not_searched_for_but_times_and_ratios_stay() -> None:
    assert question_text("How many CCGs overspent? :thinking_face:", None) == "How many CCGs overspent?"
    assert question_text("meeting at 10:30:00, ratio 1:2:3", None) == "meeting at 10:30:00, ratio 1:2:3"


async def test_chit_chat_in_an_answered_thread_gets_no_answer_and_is_not_logged(
    slack: FakeSlack, tmp_path: Path
) -> None:
    async with serving(slack, tmp_path) as bot:
        first = app_mention_event(mention_text(QUESTION))
        await bot.event(first)
        await bot.posts(1)
        thread = first["event"]["ts"]

        for text in ("thanks!", "ok", ":+1:", "lol :joy:", "Great, thank you so much", ":pray:"):
            assert (await bot.event(thread_message_event(text, thread_ts=thread))).status == 200
        await bot.event(app_mention_event(mention_text("thanks!"), thread_ts=thread))
        await bot.event(thread_message_event("and in 2016-17?", thread_ts=thread))  # a real follow-up still counts
        [_, follow_up] = await bot.posts(2)
        await bot.settle()
        rows = await bot.rows()

    assert len(slack.calls("chat.postMessage")) == 2
    assert [row.surface for row in rows] == ["mention", "thread"]
    assert ANSWER in reads(slack.calls("chat.postMessage")[0].params)
    assert "57 CCGs in 2016-17" in reads(follow_up.params)


def test_one_set_of_characters_decides_what_matches_for_questions_articles_and_checks() -> None:
    """A question typed with straight quotes and hyphens finds the article written with curly ones
    and dashes, and the evaluation's phrase check agrees (one table: bot.characters.plain)."""
    from bot.characters import fold, plain
    from bot.text import Analyzer

    article = "NHS England\u2019s figures: 75 CCGs overspent in 2017\u201318\u00a0\u2014 \uff05"
    assert plain(article) == "NHS England's figures: 75 CCGs overspent in 2017-18 - %"
    assert len(plain(article)) == len(article)  # offsets still point into the text as shown
    assert fold(article) == fold("nhs  england's FIGURES: 75 ccgs overspent in 2017-18 - %")
    analyzer = Analyzer()
    assert set(analyzer.terms("England's 2017-18")) <= set(analyzer.terms(article))
