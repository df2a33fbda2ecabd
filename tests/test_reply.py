"""Answers and admin reports as Slack messages: escaping, highlights, citations, buttons, limits."""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot import reply
from bot.display import lay_out
from bot.evaluate import parse_questions
from bot.models import Answer, Article, Hit, LoadProblem, Passage, ReloadReport, Stats
from bot.reply import (
    ACTION_CONTEXT,
    ACTION_MORE,
    ACTION_SHARE,
    ACTION_VOTE_DOWN,
    ACTION_VOTE_UP,
    Message,
    answer_message,
    context_message,
    escape,
    parse_action_value,
    with_vote,
)
from bot.search import Index
from tests.conftest import ROOT
from tests.mrkdwn import assert_inert, text_objects, unescape

QID = "0123456789abcdef0123456789abcdef"
HOSTILE = "<!channel> R&D <@U123> <https://evil.example|click> <!subteam^S1|@team> &lt;"
BOLD = re.compile(r"(?<![^\s(“‘\"'])\*([^*\n]+)\*")  # our bold markers; the corpus has no literal '*'


def mrkdwn(message: Message) -> list[str]:
    return [t["text"] for t in text_objects(message.blocks) if t["type"] == "mrkdwn"]


def sections(message: Message) -> list[str]:
    return [b["text"]["text"] for b in message.blocks if b["type"] == "section"]


def buttons(message: Message) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


def check_limits(message: Message) -> None:
    """Slack's published Block Kit limits, checked on the dicts that would be posted."""
    assert 0 < len(message.text) <= reply.MAX_FALLBACK
    assert_inert(message.text)
    assert 1 <= len(message.blocks) <= 50
    ids = [b["block_id"] for b in message.blocks if "block_id" in b]
    assert len(ids) == len(set(ids))
    for block in message.blocks:
        assert Block.parse(block).to_dict() == block  # the SDK's own field checks pass
        assert len(block.get("block_id", "")) <= 255
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        elif block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(0 < len(e["text"]) <= 3000 for e in block["elements"])
        elif block["type"] == "actions":
            assert 1 <= len(block["elements"]) <= 25
            for button in block["elements"]:
                assert len(button["text"]["text"]) <= 75 and len(button["value"]) <= 2000
                assert len(button["action_id"]) <= 255
        elif block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    assert sum(len(t["text"]) for t in text_objects(message.blocks)) <= reply.TEXT_BUDGET
    for text in mrkdwn(message):
        assert "**" not in text


def make_hit(
    excerpt: str = "The report found that 75 of 207 CCGs overspent.",
    highlights: tuple[tuple[int, int], ...] = (),
    *,
    title: str = "Spending watchdog concern",
    source: str = "000_a.txt",
    number: int = 2,
    url: str | None = None,
    publisher: str | None = None,
    published: dt.date | None = None,
) -> Hit:
    article = Article(source=source, slug="000-a", title=title, url=url, publisher=publisher, published=published)
    passage = Passage(id=f"000-a-{number}", article=article, number=number, text=excerpt)
    return Hit(passage=passage, score=1.0, relevance=1.0, excerpt=excerpt, highlights=highlights, matched=())


def make_answer(*hits: Hit, question: str = "How many CCGs overspent?", **kw: Any) -> Answer:
    return Answer(question=question, terms=kw.pop("terms", ("CCGs", "overspent")), hits=hits, **kw)


# --- escaping ----------------------------------------------------------------------------------


def test_escape_follows_slacks_rule() -> None:
    assert escape("a & <b> &amp;") == "a &amp; &lt;b&gt; &amp;amp;"
    assert escape("no markup here: *bold* _it_ `code`") == "no markup here: *bold* _it_ `code`"


@given(st.text())
def test_escape_leaves_no_markup_and_loses_nothing(text: str) -> None:
    escaped = escape(text)
    assert_inert(escaped)
    assert unescape(escaped) == text


def test_hostile_article_and_question_text_cannot_ping_or_link() -> None:
    hit = make_hit(HOSTILE, title=HOSTILE, source=HOSTILE, publisher=HOSTILE, url="https://www.nao.org.uk/report")
    answer = make_answer(hit, question=HOSTILE, terms=(HOSTILE,))
    shared = answer_message(answer, QID, shared_by="U0SHARE")
    our_link = re.compile(r"<https://www\.nao\.org\.uk/report\|[^<>]+>")
    for text in mrkdwn(shared):
        assert_inert(our_link.sub("", text), allowed=("<@U0SHARE>",))
    assert_inert(shared.text)
    assert unescape(sections(shared)[0].replace("*", "")) == f"1. {HOSTILE}"  # still verbatim
    assert sum(len(our_link.findall(t)) for t in mrkdwn(shared)) == 1
    nothing = answer_message(make_answer(question=HOSTILE, terms=(HOSTILE,)), QID, titles=[HOSTILE] * 3)
    for text in [*mrkdwn(nothing), nothing.text]:
        assert_inert(text)


def test_the_only_link_is_the_articles_url_around_its_title() -> None:
    hit = make_hit(title="A <b> & c", url="https://www.nao.org.uk/reports/ccgs?a=1&b=2")
    (citation,) = [t for t in mrkdwn(answer_message(make_answer(hit), QID)) if "passage" in t]
    assert citation.startswith("<https://www.nao.org.uk/reports/ccgs?a=1&amp;b=2|A &lt;b&gt; &amp; c> · ")
    assert citation.count("<") == 1


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "https://x.org/a|b",
        "https://x.org/<!channel>",
        "https://x.org/a b",
        "ftp://x.org/file",
        "https://x.org/\u00e9",
        "https://x.org/" + "a" * 2000,
        "",
    ],
)
def test_unsafe_urls_are_not_linked(url: str) -> None:
    message = answer_message(make_answer(make_hit(title="Title", url=url)), QID)
    (citation,) = [t for t in mrkdwn(message) if "passage" in t]
    assert citation.startswith("Title · ") and "<" not in citation


# --- answers from the real engine ---------------------------------------------------------------


def test_each_result_leads_with_its_answer_sentence_verbatim_with_the_matched_words_in_bold(index: Index) -> None:
    answer = index.search("How many CCGs overspent in 2017-18?", top=3)
    message = answer_message(answer, QID)
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert len(sections) == len(answer.hits) == 3
    for rank, (text, hit) in enumerate(zip(sections, answer.hits, strict=True), 1):
        assert hit.answer is not None
        start, end = hit.answer
        shown = unescape(text.replace("*", "")).removeprefix(f"{rank}. ")
        # Verbatim: the whole answer, or a run of its words between ellipses.
        assert shown.strip("…") in hit.excerpt[start:end] and len(shown.strip("…").split()) >= 15
        bold = BOLD.findall(text)
        assert bold[0] == f"{rank}."
        assert set(bold[1:]) <= {hit.excerpt[a:b] for a, b in hit.highlights if start <= a and b <= end}
    top = answer.hits[0]
    assert unescape(
        sections[0]
    ) == "*1.* In *2017-18*, 75 of 207 *CCGs* (36%) spent more than planned with a total " + (
        "*overspend* of £213m across all *CCGs*."
    )
    assert top.answer is not None and top.excerpt[slice(*top.answer)] in unescape(sections[0].replace("*", ""))
    assert "The report found" not in sections[0]  # the rest of the passage is behind "Show context"
    assert ACTION_CONTEXT in buttons(message)
    # A later result cut to fit shows the words of its answer that matched, between ellipses.
    assert unescape(sections[2]).startswith("*3.* …") and "*overspent*" in sections[2]


def words_above_the_buttons(message: Message) -> int:
    """Words a reader sees above the actions block: every text object before it, as rendered."""
    actions = next(i for i, b in enumerate(message.blocks) if b["type"] == "actions")
    return len(" ".join(unescape(t["text"]) for t in text_objects(message.blocks[:actions])).split())


def test_answers_to_the_tuning_questions_read_at_a_glance(index: Index) -> None:
    """Issue 14: a typical answer is at most 120 words above the buttons, the top answer's sentence
    starting within its first 40. Measured on every tuning question the bot answers."""
    questions = [q.q for q in parse_questions((ROOT / "tests" / "questions.yaml").read_text(encoding="utf-8"))]
    words, starts = [], []
    for question in questions:
        answer = index.search(question, top=3)
        if answer.abstained:
            continue
        message = answer_message(answer, QID)
        words.append(words_above_the_buttons(message))
        first = next(i for i, b in enumerate(message.blocks) if b["type"] == "section")
        starts.append(len(" ".join(unescape(t["text"]) for t in text_objects(message.blocks[:first])).split()) + 1)
        top = answer.hits[0]
        assert top.answer is not None
        assert unescape(sections(message)[0].replace("*", "")).startswith(f"1. {top.excerpt[slice(*top.answer)][:60]}")
    words.sort()
    median, p90 = statistics.median(words), words[math.ceil(0.9 * len(words)) - 1]
    print(f"{len(words)} answers: words above the buttons median {median}, 90th percentile {p90}, max {words[-1]}")
    assert len(words) > 100
    assert median <= 115 and p90 <= 120  # 90% of answer messages are at most 120 words
    assert max(starts) <= 40  # the top answer's sentence starts within the first 40 words (word 1 here)


def test_show_context_gives_the_whole_passages_behind_the_answers(index: Index) -> None:
    answer = index.search("How many CCGs overspent in 2017-18?", top=3)
    sections = [b["text"]["text"] for b in context_message(answer).blocks if b["type"] == "section"]
    assert len(sections) == 3
    for rank, (text, hit) in enumerate(zip(sections, answer.hits, strict=True), 1):
        assert unescape(text.replace("*", "")) == f"{rank}. {hit.excerpt}"
    assert "The report found that an increasing number of *CCGs*" in sections[0]


def test_citations_under_answers_are_compact_and_beside_passages_full(index: Index) -> None:
    answer = index.search("NHS commissioning devolved to 38 super councils", top=3)
    hit = answer.hits[0]
    citations = [t for t in mrkdwn(answer_message(answer, QID)) if "passage" in t]
    assert hit.passage.article.title == "NHS commissioning power ‘should be devolved to 38 super councils’"
    assert (
        citations[0]
        == f"NHS commissioning power ‘should be devolved to 38… · 3 Nov 2017 · {hit.passage.article.source}, passage 1"
        f" · {hit.strength_note()}"
    )
    # An article already cited above is not named again.
    again = [r for r, h in enumerate(answer.hits[1:], 2) if h.passage.article == hit.passage.article]
    repeat = answer.hits[again[0] - 1] if again else None
    assert repeat is not None
    assert citations[again[0] - 1] == f"same article as 1 · passage {repeat.passage.number} · {repeat.strength_note()}"
    (full, *_) = [t for t in mrkdwn(context_message(answer)) if ", passage" in t]
    assert (
        unescape(full)
        == f"{hit.passage.article.title} · 3 Nov 2017 · {hit.passage.article.source}, passage {hit.passage.number}"
        f" · {hit.strength_note()}"
    )


def test_citation_shows_publisher_when_known() -> None:
    hit = make_hit(publisher="National Audit Office", published=dt.date(2022, 6, 17), number=4, source="001_b.txt")
    (citation,) = [t for t in mrkdwn(answer_message(make_answer(hit), QID)) if "passage" in t]
    assert (
        citation
        == "Spending watchdog concern · 17 Jun 2022 · National Audit Office · 001_b.txt, passage 4 · Partial match"
    )


def test_abstention_says_what_was_searched_and_what_the_knowledge_base_covers(index: Index) -> None:
    answer = index.search("What's the weather in Leeds tomorrow?")
    titles = [a.title for a in index.articles] * 3
    message = answer_message(answer, QID, titles=titles, ephemeral=True)
    text = "\n".join(mrkdwn(message))
    assert "Nothing in the knowledge base answers that" in text and "Searched for: weather, Leeds, tomorrow" in text
    assert "The knowledge base has 15 articles:" in text and "… and 5 more" in text
    assert text.count("• ") == 10 and "Tip:" in text
    # Feedback stays possible (a 👎 flags a gap); sharing "nothing found" or asking for more does not.
    assert set(buttons(message)) == {ACTION_VOTE_UP, ACTION_VOTE_DOWN}
    check_limits(message)


def test_abstention_without_searchable_words() -> None:
    message = answer_message(make_answer(terms=()), QID)
    assert "Searched for: (no searchable words)" in mrkdwn(message)[0]
    assert "The knowledge base has" not in "\n".join(mrkdwn(message))


# --- buttons ------------------------------------------------------------------------------------


def test_buttons_carry_the_query_and_the_next_offset(index: Index) -> None:
    answer = index.search("What did the NAO say about CCGs and NHS England?", top=3)
    assert answer.more
    found = buttons(answer_message(answer, QID))
    assert set(found) == {ACTION_VOTE_UP, ACTION_VOTE_DOWN, ACTION_CONTEXT, ACTION_MORE}
    assert parse_action_value(found[ACTION_VOTE_UP]["value"]) == (QID, 0)
    assert parse_action_value(found[ACTION_CONTEXT]["value"]) == (QID, 0)  # the passages of this page
    # the next page starts after the results shown: all three, or two when the third would not fit
    shown = len(lay_out(answer))
    assert shown >= 2
    assert parse_action_value(found[ACTION_MORE]["value"]) == (QID, shown)
    assert "style" not in found[ACTION_VOTE_UP] and "style" not in found[ACTION_VOTE_DOWN]
    assert ACTION_MORE not in buttons(answer_message(index.search("What did Gareth Davies say?", top=10), QID))


def test_later_pages_continue_the_numbering(index: Index) -> None:
    answer = index.search("What did the NAO say about CCGs and NHS England?", top=3, offset=3)
    message = answer_message(answer, QID)
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    shown = len(lay_out(answer))  # results 4 to 6, or 4 and 5 when the 6th would not fit
    assert answer.more and shown >= 2  # the question has more than six relevant passages
    assert [s.split(" ", 1)[0] for s in sections] == ["*4.*", "*5.*", "*6.*"][:shown]
    assert "from result 4" in mrkdwn(message)[0]
    assert parse_action_value(buttons(message)[ACTION_MORE]["value"]) == (QID, 3 + shown)


def test_a_private_answer_can_be_shared_and_a_shared_one_says_by_whom(index: Index) -> None:
    answer = index.search("How many CCGs overspent in 2017-18?", top=1)
    private = answer_message(answer, QID, ephemeral=True)
    assert parse_action_value(buttons(private)[ACTION_SHARE]["value"]) == (QID, 0)
    assert "*Question:* How many CCGs overspent in 2017-18?" in mrkdwn(private)[0]
    shared = answer_message(answer, QID, shared_by="U024BE7LH")
    assert ACTION_SHARE not in buttons(shared)
    assert mrkdwn(shared)[0].startswith("Shared by <@U024BE7LH>")
    assert ACTION_SHARE not in buttons(answer_message(answer, QID))


@pytest.mark.parametrize("user", ["U1> <!channel", "here", "<@U123>", "u024be7lh", "U", ""])
def test_shared_by_is_never_built_from_arbitrary_text(user: str) -> None:
    message = answer_message(make_answer(make_hit()), QID, shared_by=user)
    assert_inert(mrkdwn(message)[0])
    assert mrkdwn(message)[0].startswith("Shared from a private reply")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "{}",
        QID,
        '{"q":"abc","o":-1}',
        '{"q":"abc","o":1.5}',
        '{"q":"abc","o":true}',
        '{"q":"abc","o":"3"}',
        '{"q":"abc","o":03}',
        '{"q":"abc","o":99999999}',
        '{"q":"a b","o":0}',
        '{"q":"<!channel>","o":0}',
        '{"q":"","o":0}',
        '{"q":"abc","o":0,"x":1}',
        '{"o":0,"q":"abc"}',
        '{ "q": "abc", "o": 0 }',
        '{"q":"abc","o":0}\n',
        "[" * 2000,
        '{"q":"' + "a" * 3000 + '","o":0}',
    ],
)
def test_forged_button_values_are_rejected(value: str) -> None:
    with pytest.raises(ValueError):
        parse_action_value(value)


def test_query_ids_that_buttons_could_not_carry_are_refused() -> None:
    with pytest.raises(ValueError):
        answer_message(make_answer(), "not a valid id!")


# --- feedback -----------------------------------------------------------------------------------


def test_recorded_vote_is_shown_and_with_vote_matches_it(index: Index) -> None:
    answer = index.search("How many CCGs overspent in 2017-18?")
    plain = answer_message(answer, QID)
    voted = answer_message(answer, QID, feedback="down")
    assert with_vote(plain.blocks, "down") == voted.blocks
    found = buttons(voted)
    assert found[ACTION_VOTE_DOWN]["style"] == "primary" and "style" not in found[ACTION_VOTE_UP]
    assert "Thanks for the feedback" in mrkdwn(voted)[-1] and "not helpful" in mrkdwn(voted)[-1]
    check_limits(voted)


def test_with_vote_is_idempotent_and_a_changed_vote_replaces_the_old_one() -> None:
    blocks = answer_message(make_answer(make_hit()), QID).blocks
    before = [dict(b) for b in blocks]
    up = with_vote(blocks, "up")
    assert with_vote(up, "up") == up
    down = with_vote(up, "down")
    assert down == with_vote(blocks, "down")
    assert sum("Thanks for the feedback" in str(b) for b in down) == 1
    assert blocks == before  # the input is not changed


def test_with_vote_keeps_what_slack_adds_to_posted_blocks() -> None:
    posted = answer_message(make_answer(make_hit()), QID).blocks
    returned = [{**b, "block_id": b.get("block_id", f"Xy{i}")} for i, b in enumerate(posted)]
    voted = with_vote(returned, "up")
    assert [b["block_id"] for b in voted][: len(returned)] == [b["block_id"] for b in returned]
    assert buttons(Message("x", voted))[ACTION_VOTE_UP]["style"] == "primary"
    assert with_vote([{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}], "up") == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}
    ]


# --- limits -------------------------------------------------------------------------------------


def test_limits_hold_for_huge_answers() -> None:
    big = "word & <b> " * 10_000
    spans = tuple((i, i + 4) for i in range(0, 100_000, 11))
    hits = [
        make_hit(big, spans, title=big, source=big, publisher=big, url="https://x.org/" + "a" * 400, number=i)
        for i in range(1, 51)
    ]
    for kw in ({}, {"ephemeral": True}, {"shared_by": "U123ABC"}, {"feedback": "up"}):
        message = answer_message(make_answer(*hits, question="q" * 10_000, terms=(big,) * 50), QID, **kw)
        check_limits(message)
        shown = sum(b["type"] == "section" for b in message.blocks)
        assert 1 <= shown < 50  # the rest are one click away
        assert parse_action_value(buttons(message)[ACTION_MORE]["value"]) == (QID, shown)


def test_cuts_never_split_an_escape_or_leave_bold_open() -> None:
    for excerpt, spans in [
        ("&" * 5000, ()),
        ("<>" * 3000, ()),
        ("ab " * 2000, tuple((i, i + 2) for i in range(0, 6000, 3))),
    ]:
        message = answer_message(make_answer(make_hit(excerpt, spans)), QID)
        text = message.blocks[0]["text"]["text"]
        assert len(text) <= 3000 and text.endswith("…")
        assert_inert(text)
        assert text.count("*") % 2 == 0


@pytest.mark.parametrize(
    ("excerpt", "spans", "bold"),
    [
        ("overspent budgets", ((0, 4), (4, 9)), ["overspent"]),  # touching spans: one run, no '**'
        ("CCGs overspent", ((0, 4), (4, 5), (5, 14)), ["CCGs", "overspent"]),  # a span of just a space
        ("CCGs overspent", ((0, 4), (2, 9)), ["CCGs overspent"]),  # overlapping
        ("CCGs overspent", ((0, 0), (3, 3), (20, 30), (-5, -1)), []),  # empty or outside the excerpt
        ("CCGs  overspent", ((4, 6),), []),  # only spaces
        ("CCGs \n overspent", ((0, 16),), ["CCGs", "overspent"]),  # bold stops at a line break
        ("CCGs overspent", ((1, 3),), ["CCGs"]),  # inside a word: Slack would show the '*'
        ("CCGs overspent", ((3, 6),), ["CCGs overspent"]),  # across a space, ends inside words
    ],
)
def test_bold_markers_sit_on_whole_words(excerpt: str, spans: tuple[tuple[int, int], ...], bold: list[str]) -> None:
    text = answer_message(make_answer(make_hit(excerpt, spans)), QID).blocks[0]["text"]["text"]
    assert unescape(text.replace("*", "")) == f"1. {excerpt}"
    assert BOLD.findall(text)[1:] == bold


def test_literal_stars_in_an_excerpt_get_no_markers_next_to_them() -> None:
    text = answer_message(make_answer(make_hit("a *CCGs* b", ((3, 7),))), QID).blocks[0]["text"]["text"]
    assert text == "*1.* a *CCGs* b"


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    excerpt=st.text(max_size=4000),
    title=st.text(max_size=500),
    question=st.text(max_size=500),
    spans=st.lists(st.tuples(st.integers(-10, 4100), st.integers(-10, 4100)), max_size=40),
    offset=st.integers(0, 20_000),
    more=st.booleans(),
    ephemeral=st.booleans(),
)
def test_any_text_makes_a_valid_inert_message(
    excerpt: str, title: str, question: str, spans: list[tuple[int, int]], offset: int, more: bool, ephemeral: bool
) -> None:
    hits = [make_hit(excerpt, tuple(spans), title=title, source=title, publisher=title)] * 3
    answer = make_answer(*hits, question=question, terms=(question, title), offset=offset, more=more)
    message = answer_message(answer, QID, titles=[title], ephemeral=ephemeral)
    check_limits(message)
    for text in mrkdwn(message):
        assert_inert(text)
    for button in buttons(message).values():
        assert parse_action_value(button["value"])[0] == QID


# --- other replies ------------------------------------------------------------------------------


def test_usage_explains_every_way_to_ask() -> None:
    text = mrkdwn(reply.usage_message())[0]
    for way in ("mention me", "direct message", "`/ask`", "thread"):
        assert way in text


def test_error_and_too_long_messages_say_what_happened() -> None:
    error = reply.error_message("the search took too long <!here>")
    assert "the search took too long &lt;!here&gt;" in mrkdwn(error)[0] and "try again" in mrkdwn(error)[0]
    assert "something went wrong" in mrkdwn(reply.error_message(""))[0]
    long = reply.too_long_message(10_000, 2000)
    assert "10,000 characters" in long.text and "at most 2,000" in long.text
    for message in (error, long, reply.refusal_message(), reply.admin_help_message(), reply.usage_message()):
        check_limits(message)
    assert "only the bot's admins" in reply.refusal_message().text
    assert all(c in mrkdwn(reply.admin_help_message())[0] for c in ("reload", "stats", "help"))


def test_slow_down_says_when_to_ask_again_in_whole_seconds_never_zero() -> None:
    assert [reply.slow_down_message(s, 10).text for s in (41.2, 0.01)] == [
        "You're asking faster than I can answer. Please try again in 42 s. "
        "I answer up to 10 questions a minute from each person, so that everyone gets theirs.",
        "You're asking faster than I can answer. Please try again in 1 s. "
        "I answer up to 10 questions a minute from each person, so that everyone gets theirs.",
    ]
    assert "up to 1 question a minute" in reply.slow_down_message(5, 1).text
    check_limits(reply.slow_down_message(5, 1))


def test_reload_report_lists_changes_counts_and_problems() -> None:
    report = ReloadReport(
        ok=True,
        added=tuple(f"new_{i}.txt" for i in range(30)),
        removed=("old.txt",),
        changed=("a&b.md",),
        articles=34,
        passages=410,
        problems=(
            LoadProblem(source="bad<1>.txt", message="not UTF-8"),
            LoadProblem(source="x.md", message="no date", skipped=False),
        ),
        seconds=1.234,
        version="abc123def456",
    )
    message = reply.reload_message(report)
    text = "\n".join(mrkdwn(message))
    assert "34 articles, 410 passages" in text and "1.2 s" in text and "abc123def456" in text
    assert "*Added* (30): new_0.txt, new_1.txt" in text and "and 20 more" in text and "new_10.txt" not in text
    assert "*Removed* (1): old.txt" in text and "*Changed* (1): a&amp;b.md" in text
    assert "bad&lt;1&gt;.txt (skipped): not UTF-8" in text and "x.md (loaded with a warning): no date" in text
    check_limits(message)
    nothing = "\n".join(mrkdwn(reply.reload_message(ReloadReport(ok=True, articles=5, passages=40))))
    assert "No articles added, removed or changed." in nothing


def test_failed_reload_says_why_and_that_the_old_index_still_answers() -> None:
    message = reply.reload_message(ReloadReport(ok=False, error="knowledge folder not found: /srv/kb", version="v1"))
    text = mrkdwn(message)[0]
    assert "Reload failed" in text and "knowledge folder not found: /srv/kb" in text
    assert "Still answering from the previous index (index version v1)" in text
    assert "previous index" in message.text


def test_stats_summarise_the_log() -> None:
    when = dt.datetime(2024, 5, 3, 14, 5, tzinfo=dt.UTC)
    stats = Stats(
        since=when - dt.timedelta(days=7),
        questions=40,
        abstained=10,
        errors=1,
        feedback_up=7,
        feedback_down=2,
        top_questions=(("How many CCGs overspent?", 5), ("<!channel> ping", 2)),
        unanswered=((when, "Where is the canteen?"),),
    )
    message = reply.stats_message(stats)
    text = "\n".join(mrkdwn(message))
    assert "Since 26 Apr 2024" in text and "40 questions, 10 unanswered (25%), 1 error" in text
    assert "👍 7" in text and "👎 2" in text
    assert "1. How many CCGs overspent? (×5)" in text and "2. &lt;!channel&gt; ping (×2)" in text
    assert "3 May 2024 14:05 UTC: Where is the canteen?" in text
    check_limits(message)
    huge = stats.model_copy(
        update={"top_questions": (("q" * 10_000, 1),) * 500, "unanswered": ((when, "&" * 10_000),) * 500}
    )
    check_limits(reply.stats_message(huge))
    empty = Stats(since=when, questions=0, abstained=0, errors=0, feedback_up=0, feedback_down=0)
    assert "0 questions, 0 unanswered (0%)" in reply.stats_message(empty).text


# --- what is bold: what was asked ---------------------------------------------------------------


def bold_in(index: Index, question: str) -> set[str]:
    """The words in bold anywhere in the Slack answer to `question` or its "Show context" passages."""
    answer = index.search(question, top=3)
    texts = sections(answer_message(answer, QID)) + sections(context_message(answer))
    return {unescape(b) for text in texts for b in BOLD.findall(text) if not b.endswith(".")}


def test_a_question_without_a_year_bolds_no_year(index: Index) -> None:
    for question in ("When was the Commissioning Support Programme set up?", "How many CCGs overspent?"):
        bold = bold_in(index, question)
        assert bold and not any(re.search(r"\b(?:19|20)\d\d\b", b) for b in bold), (question, bold)


def test_a_year_named_in_the_question_is_bold_however_it_is_typed(index: Index) -> None:
    for question in ("How many CCGs overspent in 2017-18?", "How many CCGs overspent in 17/18?"):
        bold = bold_in(index, question)
        assert "2017-18" in bold, (question, bold)
        assert not bold & {"2016-17", "2015-16", "2019-20", "2013-14"}  # years not asked about stay plain


def test_synonyms_and_acronym_long_forms_are_bold(index: Index) -> None:
    assert "local authorities" in bold_in(index, "How much did the programme save councils?")  # a synonym
    assert {"clinical commissioning groups", "CCGs"} <= bold_in(index, "How many CCGs overspent in 2017-18?")
    assert "CCGs" in bold_in(index, "how many clinical commissioning groups went over budget in 2017/18?")
