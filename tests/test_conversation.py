"""Follow-ups resolved against the last question and its answer (bot/conversation.py)."""

from __future__ import annotations

import time

import pytest

from bot.conversation import Conversation, Turn, resolve
from bot.question import MAX_QUESTION_CHARS
from bot.search import Index

FLAGSHIP = "How many CCGs overspent in 2017-18?"
OVERSPEND = Turn(FLAGSHIP, "In 2017-18, 75 of 207 CCGs (36%) spent more than planned with a total overspend of £213m.")
MORSE = Turn(
    "who is the head of the spending watchdog?",
    "The head of the spending watchdog, Amyas Morse, has also called for an end to the continual restructuring.",
)


@pytest.mark.parametrize(
    ("follow_up", "resolved"),
    [
        ("and in 2016-17?", "How many CCGs overspent in 2016-17?"),
        ("same for 2015/16?", "How many CCGs overspent in 2015/16?"),
        ("And how many in 2016-17?", "How many CCGs overspent in 2016-17?"),
        ("2016-17?", "How many CCGs overspent in 2016-17?"),
        ("what about ICSs?", f"{FLAGSHIP} ICSs"),
        ("How about councils", f"{FLAGSHIP} councils"),
        ("ok and what about NHS trusts in 2019/20?", "How many CCGs overspent in 2019/20? NHS trusts"),
        ("and?", FLAGSHIP),
        ("what about CCGs?", FLAGSHIP),
        ("and in 16/17?", "How many CCGs overspent in 16/17?"),  # a financial year written short
    ],
)
def test_elliptical_follow_ups_borrow_the_last_question(follow_up: str, resolved: str) -> None:
    assert resolve(follow_up, OVERSPEND) == resolved


@pytest.mark.parametrize(
    ("previous", "follow_up", "resolved"),
    [
        (FLAGSHIP, "and the year before?", "How many CCGs overspent in 2016-17?"),
        (FLAGSHIP, "what about the following year?", "How many CCGs overspent in 2018-19?"),
        ("how many ccgs overspent in 17/18", "the previous year?", "how many ccgs overspent in 16/17"),
        ("how many ccgs overspent in 2017/18", "and a year later", "how many ccgs overspent in 2018/19"),
        ("CCG overspending in 2017–2018", "and the year before that", "CCG overspending in 2016–2017"),
        ("what happened in 2000?", "and the year after?", "what happened in 2001?"),
    ],
)
def test_relative_time_counts_from_the_last_questions_year(previous: str, follow_up: str, resolved: str) -> None:
    assert resolve(follow_up, Turn(previous)) == resolved


def test_relative_time_counts_from_the_answers_year_when_the_question_named_none() -> None:
    last = Turn("how many CCGs overspent?", OVERSPEND.answer)
    assert resolve("and the year before?", last) == "how many CCGs overspent? in 2016-17"


@pytest.mark.parametrize(
    ("last", "follow_up", "resolved"),
    [
        (MORSE, "what did he say?", "what did Amyas Morse say?"),
        (MORSE, "and what's his job?", "what's Amyas Morse’s job?"),
        (Turn("What did Peter Melton say about councils?"), "what is his role?", "what is Peter Melton’s role?"),
        (
            Turn("how many councils did the Commissioning Support Programme help?"),
            "when did it start?",
            "when did Commissioning Support Programme start?",
        ),
        (
            Turn("how many councils did the Commissioning Support Programme help?"),
            "how much did the programme save?",
            "how much did Commissioning Support Programme save?",
        ),
        (
            Turn("how many super councils did Reform propose?"),
            "how would they be funded?",
            "how would super councils Reform propose be funded?",
        ),
        (
            Turn("how much must ICSs save this financial year?"),
            "what share of their budgets is that?",
            "what share of ICSs save financial year budgets is?",
        ),
    ],
)
def test_pointing_words_are_replaced_by_what_they_point_at(last: Turn, follow_up: str, resolved: str) -> None:
    assert resolve(follow_up, last) == resolved


def test_who_said_that_searches_for_the_answer_sentence() -> None:
    last = Turn("what was said about reorganisation?", "He said: “Nobody in their right mind would welcome it.”")
    assert resolve("who said that?", last) == "who said “He said: “Nobody in their right mind would welcome it.””"


@pytest.mark.parametrize(
    "follow_up",
    [
        "Who is Lorraine O'Reilly?",
        "What is an ICS?",
        "and what's the Reform devolution report called?",
        "Does the NAO expect the number of CCGs to shrink?",
        "CCG running cost allowance cut since 2013/14",
        "what about the savings the Commissioning Support Programme made for councils?",
        "and how many CCGs were rated inadequate?",  # opens with "and", yet asks something of its own
        "also, what did Tim Loughton say about the CSP?",
    ],
)
def test_complete_questions_stay_themselves(follow_up: str) -> None:
    assert resolve(follow_up, OVERSPEND) == follow_up


def test_no_earlier_question_means_the_follow_up_stands_alone() -> None:
    assert resolve("and in 2016-17?", None) == "and in 2016-17?"
    assert resolve("and in 2016-17?", Turn("")) == "and in 2016-17?"


def test_resolved_questions_stay_within_the_length_limit() -> None:
    resolved = resolve("what about ICSs?", Turn("CCGs " * 1000))
    assert len(resolved) <= MAX_QUESTION_CHARS and resolved.endswith(" ICSs") and resolved.startswith("CCGs")
    assert len(resolve("who said that?", Turn("q", "word " * 5000))) <= MAX_QUESTION_CHARS


def test_huge_messages_are_resolved_quickly_and_stand_alone() -> None:
    text = "<@U1> &amp; <https://x.org|y> \u200b\u00a0é < " * 3000
    started = time.perf_counter()
    assert resolve(text, OVERSPEND) == text  # far too many words to be a follow-up
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("chatter", ["thanks!", "ok", "👍", "ok great, thank you"])
def test_acknowledgements_ask_nothing_and_leave_the_conversation_as_it_was(index: Index, chatter: str) -> None:
    conversation = Conversation()
    conversation.answered(index.search(FLAGSHIP))
    assert conversation.ask(chatter) is None
    assert conversation.ask("and the year before?") == "How many CCGs overspent in 2016-17?"


def test_a_conversation_remembers_the_answers_sentence_and_passage(index: Index) -> None:
    conversation = Conversation()
    answer = index.search("who is the head of the spending watchdog that reviewed CCGs?")
    conversation.answered(answer)
    assert conversation.last is not None and "Amyas Morse" in conversation.last.answer
    assert conversation.last.answer in conversation.last.passage
    assert conversation.ask("what did he say?") == "what did Amyas Morse say?"


def test_an_abstention_keeps_the_question_and_no_answer(index: Index) -> None:
    conversation = Conversation()
    conversation.answered(index.search("What's the weather in Leeds tomorrow?"))
    assert conversation.last == Turn("What's the weather in Leeds tomorrow?")


@pytest.mark.parametrize(
    ("previous", "follow_up", "phrase"),
    [
        (FLAGSHIP, "and in 2016-17?", "57 CCGs in 2016-17"),
        (FLAGSHIP, "the year before?", "57 CCGs in 2016-17"),
        (FLAGSHIP, "same for 2015/16?", "56 CCGs in 2015-16"),
        (
            "Would handing clinical commissioning group budgets to councils make integration worse?",
            "what about the survey?",
            "42 per cent of respondents said",
        ),
        ("who proposed handing CCG budgets to councils?", "what did he say?", "Andy Burnham"),
    ],
)
def test_resolved_follow_ups_find_the_right_passage(index: Index, previous: str, follow_up: str, phrase: str) -> None:
    conversation = Conversation()
    conversation.answered(index.search(previous))
    resolved = conversation.ask(follow_up)
    assert resolved is not None and phrase in index.search(resolved).hits[0].excerpt


def test_a_follow_up_alone_can_find_nothing_that_the_resolved_question_answers(index: Index) -> None:
    previous = "Would handing clinical commissioning group budgets to councils make integration worse?"
    assert index.search("what about the survey?").abstained
    assert not index.search(resolve("what about the survey?", Turn(previous))).abstained
