"""Slack message text -> the question searched."""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.question import MAX_QUESTION_CHARS, is_too_long, question_text
from bot.search import Index

BOT = "U0BOT1"
FLAGSHIP = "How many CCGs overspent in 2017-18?"


@pytest.mark.parametrize(
    ("text", "question"),
    [
        (f"<@{BOT}> {FLAGSHIP}", FLAGSHIP),
        (f"<@{BOT}|policybot>: {FLAGSHIP}", FLAGSHIP),
        (f"{FLAGSHIP} <@{BOT}>", FLAGSHIP),
        (f"<@{BOT}> what did <@U222> say about CCGs?", "what did someone say about CCGs?"),
        (f"<@{BOT}> is this in <#C123|general> or <#C456|>?", "is this in #general or ?"),
        ("<https://www.nao.org.uk/report|the NAO report> on CCGs", "the NAO report on CCGs"),
        ("see <https://www.nao.org.uk/report>", "see https://www.nao.org.uk/report"),
        ("<!channel> <!here> <!everyone> <!subteam^S123|@policy-team> CSP savings?", "CSP savings?"),
        ("reforms since <!date^1392734382^{date}|Feb 18, 2014>?", "reforms since Feb 18, 2014?"),
        ("R&amp;D &lt;5% &gt; 2", "R&D <5% > 2"),
        ("someone typed &amp;lt; literally", "someone typed &lt; literally"),
        ("  CCGs\n\n\toverspent  ", "CCGs overspent"),
        ("CC\u200bGs\u00a0over\u00adspent\u2009in\ufeff 2017-18\x00\x07?", "CCGs overspent in 2017-18 ?"),
        ("cafe\u0301", "caf\u00e9"),
        (f"<@{BOT}>", ""),
        ("", ""),
    ],
)
def test_slack_markup_becomes_readable_words(text: str, question: str) -> None:
    assert question_text(text, BOT) == question


def test_without_the_bots_id_a_leading_mention_is_taken_as_addressing_the_bot() -> None:
    assert question_text(f"<@{BOT}> <@U222> what did <@U333> say?", None) == "what did someone say?"


def test_a_slack_message_finds_the_same_passage_as_the_plain_question(index: Index) -> None:
    text = f"<@{BOT}|bot>\u00a0 how many <https://www.england.nhs.uk|CCGs> over\u200bspent in 2017-18? <!here>"
    assert question_text(text, BOT) == "how many CCGs overspent in 2017-18?"
    assert "75 of 207 CCGs" in index.search(question_text(text, BOT)).hits[0].excerpt


def test_length_guard() -> None:
    assert not is_too_long("x" * MAX_QUESTION_CHARS)
    assert is_too_long("x" * (MAX_QUESTION_CHARS + 1))


def test_huge_messages_are_handled_quickly() -> None:
    text = f"<@{BOT}> " + "<@U1> &amp; <https://x.org|y> \u200b\u00a0é <" * 3000  # ~100,000 characters
    started = time.perf_counter()
    question = question_text(text, BOT)
    assert time.perf_counter() - started < 1.0
    assert is_too_long(question)


@given(st.text(), st.text(), st.text())
def test_the_bots_mention_never_survives(before: str, after: str, junk: str) -> None:
    text = f"{before}<@{BOT}>{after}<@{BOT}|{junk.replace('>', '').replace('<', '')}>"
    if BOT not in before + after:
        assert BOT not in question_text(text, BOT)


@given(st.text())
def test_output_is_clean_one_line_text(text: str) -> None:
    question = question_text(text, BOT)
    assert question == question.strip() and "  " not in question
    assert all(c == " " or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zs", "Zl", "Zp") for c in question)


@given(st.text(alphabet="abcXYZ019?'’ \t\n"))
def test_plain_text_keeps_its_words(text: str) -> None:
    assert question_text(text, BOT).split() == text.split()
