"""The Slack bot end to end over HTTP, as Slack uses it.

Real: the Bolt app (bot/app.py) served by `bot.serve.running` over real HTTP on a local port,
its real slack_sdk client, a real SQLite query log in tmp_path, and the real knowledge folder (a
copy in tmp_path for the tests that change it). Fake: Slack's servers only (tests/fakeslack.py),
which sign nothing, answer the bot's Web API calls and response_url posts, and record them.

Each test plays Slack's part (signed events, slash commands, button clicks) and asserts what a
user would see (the messages the bot posted) and what an admin would see (the query log).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import reply
from bot.models import format_date
from bot.slack_client import SERVER_ERROR_RETRIES
from tests.conftest import KNOWLEDGE
from tests.fakeslack import (
    BOT_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GROUP_DM_CHANNEL_ID,
    JSON,
    TEAM_ID,
    USER_ID,
    FakeSlack,
    JsonDict,
    app_mention_event,
    dm_event,
    event_callback,
    json_body,
    new_ts,
    signed_request,
    thread_message_event,
)
from tests.mrkdwn import unescape
from tests.slackbot import (
    ANSWER,
    NAO_FILE,
    NAO_PASSAGE,
    NEW_ARTICLE,
    NEW_ARTICLE_ANSWER,
    NEW_ARTICLE_TEXT,
    QUESTION,
    Bot,
    block_texts,
    buttons,
    click_payload,
    markup,
    mention_text,
    posted,
    reads,
    serving,
    shown,
)

OTHER_USER = "U999"
OFF_TOPIC = "recipe for banana bread"


@pytest.fixture
async def bot(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    """The bot over HTTP, reading the real knowledge folder; nobody is an admin."""
    async with serving(slack, tmp_path) as running:
        yield running


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    """A copy of the real knowledge folder that a test may change."""
    return Path(shutil.copytree(KNOWLEDGE, tmp_path / "knowledge"))


@pytest.fixture
async def admin_bot(slack: FakeSlack, tmp_path: Path, knowledge: Path) -> AsyncIterator[Bot]:
    """The bot over HTTP, reading the copied knowledge folder, with USER_ID as its admin."""
    async with serving(slack, tmp_path, knowledge_dir=knowledge, admin_user_ids=USER_ID) as running:
        yield running


async def ask(bot: Bot, question: str, **fields: Any) -> JsonDict:
    """@mention the bot with `question` in the channel; returns the event payload sent."""
    event = app_mention_event(mention_text(question), **fields)
    assert (await bot.event(event)).status == 200
    return event


def channel_message(text: str, **fields: Any) -> JsonDict:
    """A plain message in a channel, not in a thread (message.channels)."""
    ts = new_ts()
    event = {"type": "message", "channel_type": "channel", "user": USER_ID, "text": text}
    return event_callback(event | {"ts": ts, "event_ts": ts, "channel": CHANNEL_ID} | fields)


# --- where people ask ----------------------------------------------------------------------


async def test_mention_is_answered_once_in_its_thread_with_a_cited_excerpt(bot: Bot) -> None:
    event = await ask(bot, QUESTION)

    [call] = await bot.posts()
    [row] = await bot.rows()
    message = call.params
    assert len(bot.slack.calls("chat.postMessage")) == 1
    assert (message["channel"], message["thread_ts"]) == (CHANNEL_ID, event["event"]["ts"])
    assert ANSWER in reads(message)
    assert ANSWER in message["text"]  # the plain-text fallback for notifications
    assert "*CCGs*" in block_texts(message)  # the question's terms are highlighted
    citation = next(text for text in shown(message).splitlines() if text.startswith("Spending watchdog concern"))
    # compact; the publisher comes from knowledge/articles.yaml
    assert citation == (
        "Spending watchdog concern at proportion of CCGs… · Local Government Lawyer · "
        f"{NAO_FILE}, passage 2 · Direct match"
    )
    assert (row.surface, row.team, row.channel, row.user) == ("mention", TEAM_ID, CHANNEL_ID, USER_ID)
    assert row.question == QUESTION  # without the mention markup
    assert row.results[0].passage == NAO_PASSAGE
    assert row.index_version == bot.running.engine.index.version
    assert (row.abstained, row.error, row.event_id) == (False, None, event["event_id"])
    assert row.latency_ms > 0


async def test_direct_message_is_answered_in_the_dm(bot: Bot) -> None:
    assert (await bot.event(dm_event(QUESTION))).status == 200

    [call] = await bot.posts()
    [row] = await bot.rows()
    assert call.params["channel"] == DM_CHANNEL_ID
    assert "thread_ts" not in call.params  # a DM is a conversation, not a thread
    assert ANSWER in reads(call.params)
    assert (row.surface, row.channel, row.question) == ("dm", DM_CHANNEL_ID, QUESTION)


async def test_mention_inside_a_dm_delivered_as_mention_and_as_message_is_answered_once(bot: Bot) -> None:
    ts, text = new_ts(), mention_text(QUESTION)
    both = [app_mention_event(text, channel=DM_CHANNEL_ID, ts=ts), dm_event(text, ts=ts)]

    replies = await asyncio.gather(*(bot.event(event) for event in both))

    assert [r.status for r in replies] == [200, 200]
    await bot.posts()
    rows = await bot.rows()
    assert len(bot.slack.calls("chat.postMessage")) == 1
    assert [(row.surface, row.question) for row in rows] == [("dm", QUESTION)]


async def test_group_dm_mention_and_follow_up_are_answered_in_the_thread_and_nothing_else(bot: Bot) -> None:
    """With message.mpim the bot hears every message of a group DM it is in; it answers only a mention
    (delivered both as app_mention and as a message) and follow-ups in a thread it answered."""
    chatter = channel_message(QUESTION, channel=GROUP_DM_CHANNEL_ID, channel_type="mpim")
    ts, text = new_ts(), mention_text(QUESTION)
    mention = app_mention_event(text, channel=GROUP_DM_CHANNEL_ID, ts=ts)
    also_a_message = channel_message(text, channel=GROUP_DM_CHANNEL_ID, channel_type="mpim", ts=ts, event_ts=ts)

    replies = [await bot.event(event) for event in (chatter, mention, also_a_message)]

    [answer] = await bot.posts(1)
    assert [r.status for r in replies] == [200, 200, 200]
    assert (answer.params["channel"], answer.params["thread_ts"]) == (GROUP_DM_CHANNEL_ID, ts)
    assert ANSWER in reads(answer.params)

    in_group_dm = {"channel": GROUP_DM_CHANNEL_ID, "channel_type": "mpim"}
    await bot.event(thread_message_event("and in 2016-17?", thread_ts=ts, **in_group_dm))
    await bot.event(thread_message_event("and in 2016-17?", thread_ts=chatter["event"]["ts"], **in_group_dm))

    [_, follow_up] = await bot.posts(2)
    rows = await bot.rows()
    assert (follow_up.params["channel"], follow_up.params["thread_ts"]) == (GROUP_DM_CHANNEL_ID, ts)
    assert "57 CCGs in 2016-17" in reads(follow_up.params)
    assert [(row.surface, row.channel, row.question) for row in rows] == [
        ("mention", GROUP_DM_CHANNEL_ID, QUESTION),
        ("thread", GROUP_DM_CHANNEL_ID, "How many CCGs overspent in 2016-17?"),
    ]
    assert len(bot.slack.calls("chat.postMessage")) == 2  # not the chatter, nor a reply in its thread


async def test_short_follow_up_in_the_thread_is_read_with_the_question(bot: Bot) -> None:
    first = await ask(bot, QUESTION)
    thread = first["event"]["ts"]
    await bot.posts(1)

    assert (await bot.event(thread_message_event("and in 2016-17?", thread_ts=thread))).status == 200

    [_, call] = await bot.posts(2)
    [_, row] = await bot.rows()
    assert call.params["thread_ts"] == thread
    assert "57 CCGs in 2016-17" in reads(call.params)
    assert (row.surface, row.question) == ("thread", "How many CCGs overspent in 2016-17?")
    assert row.typed == "and in 2016-17?"


async def in_thread(bot: Bot, question: str, follow_up: str) -> tuple[Any, Any]:
    """Ask `question`, then `follow_up` in the answer's thread: the two posts (the answer, the follow-up's)."""
    first = await ask(bot, question)
    await bot.posts(1)
    await bot.event(thread_message_event(follow_up, thread_ts=first["event"]["ts"]))
    [answer, call] = await bot.posts(2)
    return answer, call


async def test_the_year_before_in_a_thread_answers_for_that_year_and_says_what_it_searched(bot: Bot) -> None:
    first_answer, call = await in_thread(bot, QUESTION, "and the year before?")
    [_, row] = await bot.rows()
    assert "Searching for" not in reads(first_answer.params)  # the question searched is the one typed
    assert reads(call.params).startswith("Searching for: How many CCGs overspent in 2016-17?")
    assert call.params["blocks"][0]["type"] == "context"  # above the answer
    assert "57 CCGs in 2016-17" in reads(call.params)
    assert (row.question, row.typed) == ("How many CCGs overspent in 2016-17?", "and the year before?")


async def test_what_did_he_say_in_a_thread_asks_about_the_person_the_answer_named(bot: Bot) -> None:
    question = "who is the head of the spending watchdog that reviewed CCGs?"
    answer, call = await in_thread(bot, question, "what did he say?")
    assert "Amyas Morse" in reads(answer.params)
    assert reads(call.params).startswith("Searching for: what did Amyas Morse say?")
    assert "We have seen almost three decades of change to NHS commissioning" in reads(call.params)


async def test_a_complete_question_in_the_thread_is_answered_on_its_own(bot: Bot) -> None:
    _, call = await in_thread(bot, QUESTION, "and how many CCGs were rated inadequate?")
    [_, row] = await bot.rows()
    assert "Searching for" not in reads(call.params)
    assert "‘requires improvement’ or ‘inadequate’" in reads(call.params)
    assert (row.question, row.typed) == ("and how many CCGs were rated inadequate?", None)


async def test_chit_chat_in_the_thread_is_ignored_and_the_next_follow_up_still_reads_the_question(bot: Bot) -> None:
    first = await ask(bot, QUESTION)
    thread = first["event"]["ts"]
    await bot.posts(1)

    for text in ("thanks!", "ok", "👍"):
        await bot.event(thread_message_event(text, thread_ts=thread))
    await bot.event(thread_message_event("and the year before?", thread_ts=thread))

    [_, call] = await bot.posts(2)
    await bot.settle()
    assert len(bot.slack.calls("chat.postMessage")) == 2
    assert [row.question for row in await bot.rows()] == [QUESTION, "How many CCGs overspent in 2016-17?"]
    assert "57 CCGs in 2016-17" in reads(call.params)


async def test_follow_up_that_mentions_the_bot_is_read_with_the_thread_too(bot: Bot) -> None:
    first = await ask(bot, QUESTION)
    thread = first["event"]["ts"]
    await bot.posts(1)

    await ask(bot, "and in 2016-17?", thread_ts=thread)

    [_, call] = await bot.posts(2)
    [_, row] = await bot.rows()
    assert call.params["thread_ts"] == thread
    assert "57 CCGs in 2016-17" in reads(call.params)
    assert (row.surface, row.question) == ("mention", "How many CCGs overspent in 2016-17?")
    assert "Searching for: How many CCGs overspent in 2016-17?" in reads(call.params)


async def test_follow_up_naming_a_new_subject_keeps_the_thread_topic(bot: Bot) -> None:
    first = await ask(bot, QUESTION)
    await bot.posts(1)

    await bot.event(thread_message_event("what about ICSs?", thread_ts=first["event"]["ts"]))

    [_, call] = await bot.posts(2)
    [_, row] = await bot.rows()
    assert row.question == f"{QUESTION} ICSs"
    cited = "Spending watchdog warns of impact of service and… · Local Government Lawyer · 001_b0b6f014ac911fae.txt"
    assert cited in reads(call.params)


async def test_messages_not_addressed_to_the_bot_get_no_reply(bot: Bot) -> None:
    unanswered_thread = thread_message_event("and in 2016-17?", thread_ts=new_ts())
    plain = channel_message(QUESTION)

    replies = [await bot.event(unanswered_thread), await bot.event(plain)]

    assert [r.status for r in replies] == [200, 200]
    assert await bot.rows() == []
    assert bot.slack.calls("chat.postMessage") == []


async def test_own_messages_and_other_bots_get_no_reply(bot: Bot) -> None:
    first = await ask(bot, QUESTION)
    thread = first["event"]["ts"]
    [answer] = await bot.posts(1)
    bots = {"user": OTHER_USER, "bot_id": "B999"}
    ignored = [
        # The bot's own answer comes back as a message in the thread it answered.
        thread_message_event(answer.params["text"], thread_ts=thread, user=BOT_USER_ID, bot_id=BOT_ID),
        dm_event(QUESTION, user=BOT_USER_ID, bot_id=BOT_ID),
        dm_event(QUESTION, subtype="bot_message", **bots),
        thread_message_event("and in 2016-17?", thread_ts=thread, subtype="bot_message", **bots),
        app_mention_event(mention_text(QUESTION), **bots),
    ]

    replies = [await bot.event(event) for event in ignored]

    assert [r.status for r in replies] == [200] * len(ignored)
    assert len(await bot.rows()) == 1
    assert len(bot.slack.calls("chat.postMessage")) == 1


async def test_empty_mention_gets_a_usage_hint_in_the_thread(bot: Bot) -> None:
    event = app_mention_event(f"<@{BOT_USER_ID}>")

    await bot.event(event)

    [call] = await bot.posts()
    assert call.params["thread_ts"] == event["event"]["ts"]
    assert "mention me, then your question" in reads(call.params)
    assert await bot.rows() == []


@pytest.mark.parametrize("shape", ["words", "one long word", "markup"])
async def test_a_100000_character_question_gets_a_clear_reply_and_the_bot_goes_on(bot: Bot, shape: str) -> None:
    filler = {
        "words": "commissioning budget " * 5000,
        "one long word": "x" * 100_000,
        "markup": "<!channel> <@U0999> *budget* " * 4000,
    }
    event = app_mention_event(mention_text(filler[shape]))

    assert (await bot.event(event)).status == 200
    [call] = await bot.posts()
    await bot.event(app_mention_event(mention_text(QUESTION)))
    [_, answer] = await bot.posts(count=2)

    assert call.params["thread_ts"] == event["event"]["ts"]
    assert re.search(r"That question is [\d,]+ characters long and I can search at most 2,000", reads(call.params))
    assert "<!channel>" not in str(call.params)  # nothing of it is echoed unescaped
    assert ANSWER in reads(answer.params)


# --- /ask ----------------------------------------------------------------------------------


async def test_empty_ask_gets_usage_hint_in_the_acknowledgement(bot: Bot) -> None:
    http, response_url = await bot.command("   ")

    assert http.status == 200
    assert "`/ask` and your question" in shown(http.json())
    assert await bot.rows() == []
    assert bot.responses_now(response_url) == []


async def test_ask_answers_only_the_asker_then_share_posts_it_in_the_channel(bot: Bot) -> None:
    http, response_url = await bot.command(QUESTION)

    assert (http.status, http.text) == (200, "")  # acknowledged at once; the answer follows
    [answer] = await bot.responses(response_url)
    ephemeral = answer.params
    assert ephemeral["response_type"] == "ephemeral"
    assert ANSWER in reads(ephemeral)
    assert f"Question: {QUESTION}" in reads(ephemeral)
    assert reply.ACTION_SHARE in buttons(ephemeral)
    [row] = await bot.rows()
    assert (row.surface, row.user, row.channel, row.question) == ("command", USER_ID, CHANNEL_ID, QUESTION)

    click_url = bot.slack.response_url()
    await bot.click(click_payload(ephemeral, reply.ACTION_SHARE, response_url=click_url, ephemeral=True))

    shared, deleted = await bot.responses(click_url, 2)
    assert shared.params["response_type"] == "in_channel"
    assert f"Shared by <@{USER_ID}>" in shown(shared.params)
    assert ANSWER in reads(shared.params)
    assert reply.ACTION_SHARE not in buttons(shared.params)
    assert deleted.params["delete_original"] is True
    assert len(await bot.rows()) == 1  # sharing is not a new question


async def test_only_the_asker_can_share_an_answer(bot: Bot) -> None:
    _, response_url = await bot.command(QUESTION)
    [answer] = await bot.responses(response_url)
    click_url = bot.slack.response_url()

    payload = click_payload(answer.params, reply.ACTION_SHARE, response_url=click_url, user=OTHER_USER, ephemeral=True)
    await bot.click(payload)

    [note] = await bot.responses(click_url)
    await bot.settle()
    assert note.params["response_type"] == "ephemeral"
    assert "Only the person who asked can share" in note.params["text"]
    assert len(bot.responses_now(click_url)) == 1  # nothing in the channel, nothing deleted


# --- buttons on an answer ------------------------------------------------------------------


async def answered_in_channel(bot: Bot) -> JsonDict:
    """Ask QUESTION by mention and return the answer as Slack stored it (with its ts)."""
    await ask(bot, QUESTION)
    [call] = await bot.posts()
    return posted(call)


async def test_a_second_vote_changes_the_feedback_and_the_message_shows_it(bot: Bot) -> None:
    message = await answered_in_channel(bot)

    up_url = bot.slack.response_url()
    await bot.click(click_payload(message, reply.ACTION_VOTE_UP, response_url=up_url))
    [up] = await bot.responses(up_url)
    voted = message | {"blocks": up.params["blocks"]}  # the message as Slack now shows it
    down_url = bot.slack.response_url()
    await bot.click(click_payload(voted, reply.ACTION_VOTE_DOWN, response_url=down_url))
    [down] = await bot.responses(down_url)

    assert up.params["replace_original"] is True
    assert "marked as helpful 👍" in shown(up.params)
    assert down.params["replace_original"] is True
    assert "marked as not helpful 👎" in shown(down.params)
    assert "marked as helpful 👍" not in shown(down.params)
    assert ANSWER in reads(down.params)  # the answer itself is still there
    [row] = await bot.rows()
    assert row.feedback == "down"


async def test_only_the_asker_can_vote(bot: Bot) -> None:
    message = await answered_in_channel(bot)
    click_url = bot.slack.response_url()

    await bot.click(click_payload(message, reply.ACTION_VOTE_UP, response_url=click_url, user=OTHER_USER))

    [note] = await bot.responses(click_url)
    assert note.params.get("replace_original") is False
    assert "Only the person who asked can rate" in note.params["text"]
    [row] = await bot.rows()
    assert row.feedback is None


@pytest.mark.parametrize("forged", ["not json", json.dumps({"q": "0" * 32, "o": 0}, separators=(",", ":"))])
async def test_forged_button_values_are_refused(bot: Bot, forged: str) -> None:
    message = await answered_in_channel(bot)
    actions = (reply.ACTION_VOTE_UP, reply.ACTION_VOTE_DOWN, reply.ACTION_MORE)
    urls = [bot.slack.response_url() for _ in actions]

    for action, url in zip(actions, urls, strict=True):
        await bot.click(click_payload(message, action, response_url=url, value=forged))

    notes = [(await bot.responses(url))[0].params for url in urls]
    await bot.settle()
    assert all(note.get("replace_original") is False for note in notes)
    assert all("I can't find that question" in note["text"] or "doesn't belong" in note["text"] for note in notes)
    [row] = await bot.rows()
    assert row.feedback is None
    assert len(bot.slack.calls("chat.postMessage")) == 1  # no "more results" either


async def test_more_results_posts_the_next_results_in_the_thread(bot: Bot) -> None:
    message = await answered_in_channel(bot)
    assert "*3.*" in block_texts(message)
    click_url = bot.slack.response_url()

    # Anyone in the channel may ask for more.
    await bot.click(click_payload(message, reply.ACTION_MORE, response_url=click_url, user=OTHER_USER))

    [_, more] = await bot.posts(2)
    assert (more.params["channel"], more.params["thread_ts"]) == (CHANNEL_ID, message["thread_ts"])
    text = block_texts(more.params)
    assert "More results, from result 4" in text
    assert "*4.*" in text and "*1.*" not in text
    assert len(await bot.rows()) == 1  # not a new question


async def test_an_answer_leads_with_its_sentence_and_show_context_gives_the_passage_to_the_clicker(bot: Bot) -> None:
    await ask(bot, QUESTION)
    [answer] = await bot.posts()
    first = block_texts(answer.params).split("\n")[0]
    click_url = bot.slack.response_url()

    await bot.click(click_payload(posted(answer), reply.ACTION_CONTEXT, response_url=click_url, user=OTHER_USER))

    [context] = await bot.responses(click_url)
    assert unescape(first).startswith("*1.* In *2017-18*, 75 of 207 *CCGs* (36%) spent more than planned")
    assert "The NAO added that" not in reads(answer.params)  # the rest of the passage waits for the click
    assert (context.params["response_type"], context.params["replace_original"]) == ("ephemeral", False)
    assert "The NAO added that as part of their total budget plan" in reads(context.params)
    assert len(bot.slack.calls("chat.postMessage")) == 1 and len(await bot.rows()) == 1  # nothing new posted or asked


async def test_private_answer_pages_and_votes_stay_private(bot: Bot) -> None:
    _, response_url = await bot.command(QUESTION)
    [answer] = await bot.responses(response_url)
    more_url, vote_url = bot.slack.response_url(), bot.slack.response_url()

    await bot.click(click_payload(answer.params, reply.ACTION_MORE, response_url=more_url, ephemeral=True))
    [more] = await bot.responses(more_url)
    # Slack does not send an ephemeral message back with a click on it.
    await bot.click(click_payload(more.params, reply.ACTION_VOTE_DOWN, response_url=vote_url, ephemeral=True))
    [voted] = await bot.responses(vote_url)

    assert more.params["response_type"] == "ephemeral"
    assert "*4.*" in block_texts(more.params)
    assert voted.params["replace_original"] is True
    assert "marked as not helpful 👎" in reads(voted.params)
    assert "*4.*" in block_texts(voted.params)  # the page that was voted on, not the first one
    assert bot.slack.calls("chat.postMessage") == []
    [row] = await bot.rows()
    assert row.feedback == "down"


async def test_more_results_in_a_dm_stay_in_the_dm(bot: Bot) -> None:
    await bot.event(dm_event(QUESTION))
    [call] = await bot.posts()

    await bot.click(click_payload(posted(call), reply.ACTION_MORE, response_url=bot.slack.response_url()))

    [_, more] = await bot.posts(2)
    assert more.params["channel"] == DM_CHANNEL_ID
    assert "thread_ts" not in more.params
    assert "*4.*" in block_texts(more.params)


# --- what the bot says ---------------------------------------------------------------------


async def test_no_text_from_users_or_articles_can_ping_anyone(bot: Bot) -> None:
    # As Slack sends them: real mentions as markup, typed "<", ">" and "&" as entities.
    hostile = f"<!channel> what about <@{OTHER_USER}> &amp; CCGs &lt;b&gt;?"
    typed_markup = f"&lt;!channel&gt; &lt;@{OTHER_USER}&gt; {QUESTION} &amp; &lt;!everyone&gt;"
    await ask(bot, hostile)
    await ask(bot, f"&lt;!here&gt; {OFF_TOPIC}")
    _, response_url = await bot.command(typed_markup)
    [ephemeral] = await bot.responses(response_url)
    share_url = bot.slack.response_url()
    await bot.click(click_payload(ephemeral.params, reply.ACTION_SHARE, response_url=share_url, ephemeral=True))
    [shared, _] = await bot.responses(share_url, 2)
    mentions = await bot.posts(2)
    await bot.settle()

    # The question is echoed in the /ask answer and the shared one: as text, not as markup.
    assert f"Question: <!channel> <@{OTHER_USER}> {QUESTION}" in reads(ephemeral.params)
    assert "&lt;!channel&gt;" in shown(shared.params)
    sent = [call.params for call in [*mentions, ephemeral, shared]]
    assert [markup(message) for message in sent] == [set(), set(), set(), {f"<@{USER_ID}>"}]
    # The log keeps what was asked, as words: mentions become "someone", entities become characters.
    assert "what about someone & CCGs <b>?" in {row.question for row in await bot.rows()}


async def test_off_topic_question_says_nothing_was_found_and_what_is_covered(bot: Bot) -> None:
    await ask(bot, OFF_TOPIC)

    [call] = await bot.posts()
    [row] = await bot.rows()
    text = reads(call.params)
    assert "Nothing in the knowledge base answers that." in text
    assert "Searched for: recipe, banana, bread" in text
    assert "The knowledge base has 5 articles:" in text
    assert all(article.title in text for article in bot.running.engine.index.articles)
    assert (row.abstained, row.results, row.unknown_words) == (True, (), ("recipe", "banana", "bread"))
    assert reply.ACTION_VOTE_DOWN in buttons(call.params)  # a 👎 marks a gap in the knowledge base


async def test_domain_worded_question_on_a_missing_subject_is_not_covered(bot: Bot) -> None:
    """Issue 14: 'trusts', 'pay', 'year' match the articles, but nothing mentions PFI."""
    await ask(bot, "How much do hospital trusts still pay each year on PFI deals?")

    [call] = await bot.posts()
    [row] = await bot.rows()
    text = reads(call.params)
    assert "Nothing in the knowledge base mentions PFI." in text
    assert "passage" not in text  # no excerpt is offered as an answer
    assert (row.abstained, row.results) == (True, ())
    assert "pfi" in row.unknown_words


async def test_misspelt_question_is_corrected_shown_and_answered(bot: Bot) -> None:
    await ask(bot, "how many ccgs overspnet in 2017-18?")

    [call] = await bot.posts()
    text = reads(call.params)
    assert "Searching for: how many ccgs overspent in 2017-18?" in text
    assert ANSWER in text
    assert "Direct match" in text


# --- Slack protocol ------------------------------------------------------------------------


async def test_retried_delivery_is_answered_once(bot: Bot) -> None:
    event = app_mention_event(mention_text(QUESTION))

    first = await bot.event(event)
    await bot.posts()
    retry = await bot.event(event, retry_num=1)
    retry_during = await asyncio.gather(bot.event(event, retry_num=2), bot.event(event, retry_num=3))

    assert [r.status for r in (first, retry, *retry_during)] == [200] * 4
    assert len(await bot.rows()) == 1
    assert len(bot.slack.calls("chat.postMessage")) == 1


async def test_retry_after_a_restart_is_not_answered_again(slack: FakeSlack, tmp_path: Path) -> None:
    event = app_mention_event(mention_text(QUESTION))
    async with serving(slack, tmp_path) as before:
        await before.event(event)
        await before.posts()

    async with serving(slack, tmp_path) as after:  # same query log file
        assert (await after.event(event, retry_num=1)).status == 200
        assert len(await after.rows()) == 1
    assert len(slack.calls("chat.postMessage")) == 1


async def test_fifty_questions_at_once_are_all_answered_and_logged(bot: Bot) -> None:
    events = [app_mention_event(mention_text(QUESTION)) for _ in range(50)]

    replies = await asyncio.gather(*(bot.event(event) for event in events))

    assert {r.status for r in replies} == {200}
    posts = await bot.posts(50)
    rows = await bot.rows()
    assert {call.params["thread_ts"] for call in posts} == {event["event"]["ts"] for event in events}
    assert len(rows) == 50
    assert {row.event_id for row in rows} == {event["event_id"] for event in events}
    assert all(ANSWER in reads(call.params) for call in posts)


async def test_rate_limited_answer_is_retried_after_retry_after(bot: Bot) -> None:
    bot.slack.rate_limit_next("chat.postMessage", retry_after=1)

    await ask(bot, QUESTION)

    [call] = await bot.posts()
    [row] = await bot.rows()
    limited, delivered = bot.slack.calls("chat.postMessage")
    assert (limited.status, delivered.status) == (429, 200)
    assert delivered.at - limited.at >= 0.9  # Retry-After was respected
    assert ANSWER in reads(call.params)
    assert row.error is None


async def test_undeliverable_answer_is_logged_and_the_bot_keeps_answering(bot: Bot) -> None:
    bot.slack.fail_next("chat.postMessage", 500, times=1 + SERVER_ERROR_RETRIES)

    await ask(bot, QUESTION)
    await bot.slack.wait_for("chat.postMessage", 1 + SERVER_ERROR_RETRIES, ok=False)
    [failed] = await bot.rows()
    await ask(bot, OFF_TOPIC)

    [call] = await bot.posts()
    [_, answered] = await bot.rows()
    assert failed.error == "the reply could not be delivered: Slack answered HTTP 500 internal_error"
    assert failed.results[0].passage == NAO_PASSAGE  # what the bot would have said is still logged
    assert "Nothing in the knowledge base answers that." in reads(call.params)
    assert answered.error is None


async def test_forged_and_stale_requests_are_refused(bot: Bot) -> None:
    body = json_body(app_mention_event(mention_text(QUESTION)))

    forged = await signed_request(bot.events_url, body, JSON, secret="not-the-signing-secret")
    stale = await signed_request(bot.events_url, body, JSON, timestamp=int(time.time()) - 10 * 60)

    assert (forged.status, stale.status) == (401, 401)
    assert await bot.rows() == []
    assert bot.slack.calls("chat.postMessage") == []


async def test_every_subscribed_event_is_acknowledged(bot: Bot) -> None:
    # The manifests subscribe to app_mention, message.im, message.channels, message.groups and
    # message.mpim: an event with no listener gets 404, and Slack retries it.
    deliveries = [
        app_mention_event(mention_text(QUESTION)),
        dm_event(QUESTION),
        channel_message("hello all"),
        channel_message("hello group", channel="G111", channel_type="group"),
        channel_message("hello group DM", channel=GROUP_DM_CHANNEL_ID, channel_type="mpim"),
    ]

    replies = [await bot.event(event) for event in deliveries]

    assert [r.status for r in replies] == [200] * len(deliveries)
    assert len(await bot.posts(2)) == 2


async def test_url_verification_is_answered_with_the_challenge(bot: Bot) -> None:
    http = await bot.event({"type": "url_verification", "token": "x", "challenge": "c-123"})

    assert (http.status, http.json()) == (200, {"challenge": "c-123"})


async def test_health_reports_the_index_version(bot: Bot) -> None:
    status, health = await bot.health()

    assert status == 200
    assert health["ok"] is True
    assert health["index_version"] == bot.running.engine.index.version
    assert (health["articles"], health["passages"]) == (5, len(bot.running.engine.index.passages))


# --- admins --------------------------------------------------------------------------------


async def admin(bot: Bot, text: str, *, user: str = USER_ID, count: int = 1) -> list[str]:
    """Run `/ask-admin text` and return what the bot answered (plain text), waiting for `count` replies."""
    http, response_url = await bot.command(text, command="/ask-admin", user=user)
    assert http.status == 200
    return [reads(call.params) for call in await bot.responses(response_url, count)]


async def test_reload_reports_what_changed_and_answers_from_the_new_articles(admin_bot: Bot, knowledge: Path) -> None:
    old = admin_bot.running.engine.index.version
    (knowledge / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")
    changed = knowledge / "003_6bb7e4c893f45a2a.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nA late correction to this article.\n")
    (knowledge / "004_41aa59598580c461.txt").unlink()

    started, report = await admin(admin_bot, "reload", count=2)
    await ask(admin_bot, "What is the Wombat Commissioning Framework?")

    new = admin_bot.running.engine.index
    assert "Reloading the knowledge base" in started
    assert re.search(r"Knowledge base reloaded in \d+\.\d s", report)
    assert f"5 articles, {len(new.passages)} passages" in report
    assert f"Added (1): {NEW_ARTICLE}" in report
    assert "Removed (1): 004_41aa59598580c461.txt" in report
    assert "Changed (1): 003_6bb7e4c893f45a2a.txt" in report
    assert new.version != old and new.version in report
    [call] = await admin_bot.posts()
    assert f"{NEW_ARTICLE}, passage" in shown(call.params)
    assert NEW_ARTICLE_ANSWER in reads(call.params)
    [row] = await admin_bot.rows()
    assert row.index_version == new.version
    assert admin_bot.admin_attempts() == [(USER_ID, "reload", True)]


@pytest.mark.parametrize("break_it", ["empty", "missing", "unreadable"])
async def test_failed_reload_says_why_and_keeps_answering_from_the_old_index(
    admin_bot: Bot, knowledge: Path, break_it: str
) -> None:
    old = admin_bot.running.engine.index.version
    for article in knowledge.glob("0*.txt"):
        if break_it == "empty":
            article.unlink()
        elif break_it == "unreadable":  # e.g. a PDF or a Word file saved under a .txt name
            article.write_bytes(b"%PDF-1.7\n\x00\xff\xfe binary \x00" * 50)
    if break_it == "missing":
        knowledge.rename(knowledge.with_name("moved"))

    [_, report] = await admin(admin_bot, "reload", count=2)
    await ask(admin_bot, QUESTION)

    reason = {
        "empty": "has no article files (.txt, .md, .pdf",
        "missing": "does not exist",
        "unreadable": "binary file, not text",
    }
    assert "Reload failed:" in report and reason[break_it] in report
    assert f"Still answering from the previous index (index version {old})" in report
    [call] = await admin_bot.posts()
    assert ANSWER in reads(call.params)
    [row] = await admin_bot.rows()
    assert row.index_version == old == admin_bot.running.engine.index.version


async def test_questions_during_a_reload_are_answered_from_the_old_index(admin_bot: Bot, knowledge: Path) -> None:
    # Enough articles that indexing takes a second or two in its worker thread.
    filler = " ".join(f"w{n}x{n * 7 % 13}" for n in range(400))
    for n in range(150):
        (knowledge / f"bulk_{n:03d}.txt").write_text(f"Bulk article {n}\n\n{filler} {n}.\n\n{filler} end {n}.\n")
    old = admin_bot.running.engine.index.version
    _, response_url = await admin_bot.command("reload", command="/ask-admin")
    await admin_bot.responses(response_url)  # "Reloading…": the reload has been asked for

    await ask(admin_bot, QUESTION)
    [call] = await admin_bot.posts()
    reloading = admin_bot.running.engine.reloading
    reports_so_far = len(admin_bot.responses_now(response_url))
    [_, report] = await admin_bot.responses(response_url, 2, timeout=30)
    [row] = await admin_bot.rows()

    assert reloading and reports_so_far == 1  # the answer came while the reload was still running
    assert ANSWER in reads(call.params)
    assert row.index_version == old
    assert "Added (150)" in reads(report.params)
    assert admin_bot.running.engine.index.version not in (None, old)


async def test_stats_count_the_last_questions(admin_bot: Bot) -> None:
    await ask(admin_bot, QUESTION)
    await ask(admin_bot, QUESTION)
    await ask(admin_bot, OFF_TOPIC)
    [first, *_] = await admin_bot.posts(3)
    vote_url = admin_bot.slack.response_url()
    await admin_bot.click(click_payload(posted(first), reply.ACTION_VOTE_UP, response_url=vote_url))
    await admin_bot.responses(vote_url)
    await admin_bot.settle()

    [stats] = await admin(admin_bot, "stats")

    assert "3 questions, 1 unanswered (33%), 0 errors, feedback 👍 1 / 👎 0" in stats
    assert f"1. {QUESTION} (×2)" in stats
    assert "Latest unanswered" in stats and OFF_TOPIC in stats


async def test_stats_take_the_period_queries_summary_takes(admin_bot: Bot) -> None:
    """`/ask-admin stats [PERIOD]`: bot.review.period_start, as `queries summary --since`; 30 days by default."""
    await ask(admin_bot, QUESTION)
    await admin_bot.posts()
    await admin_bot.settle()
    today = dt.datetime.now(dt.UTC)

    [default] = await admin(admin_bot, "stats")
    [week] = await admin(admin_bot, "stats 7d")
    [future] = await admin(admin_bot, "stats 2999-01-01")
    [wrong] = await admin(admin_bot, "stats last week")

    assert f"Since {format_date((today - dt.timedelta(days=30)).date())}: 1 question, 0 unanswered" in default
    assert f"Since {format_date((today - dt.timedelta(days=7)).date())}: 1 question, 0 unanswered" in week
    assert "Since 1 Jan 2999: 0 questions" in future
    assert "/ask-admin stats 'last week' is neither a duration nor a date: use e.g. 7d" in wrong
    assert "/ask-admin stats [PERIOD]" in wrong  # with the commands, and what a period may be


async def test_admin_help_lists_the_commands(admin_bot: Bot) -> None:
    [help_text] = await admin(admin_bot, "help")

    assert all(f"/ask-admin {verb}" in help_text for verb in ("reload", "stats", "help"))


async def test_non_admin_is_refused_politely_and_the_attempt_is_logged(admin_bot: Bot, knowledge: Path) -> None:
    (knowledge / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")
    old = admin_bot.running.engine.index.version

    [answer] = await admin(admin_bot, "reload", user=OTHER_USER)
    await admin_bot.settle()

    assert "Sorry, only the bot's admins can use /ask-admin" in answer
    assert admin_bot.running.engine.index.version == old  # nothing was reloaded
    assert admin_bot.admin_attempts() == [(OTHER_USER, "reload", False)]


async def test_workspace_admins_are_admins_when_configured(slack: FakeSlack, tmp_path: Path) -> None:
    slack.add_user("UADMIN", is_admin=True)
    slack.add_user("UOWNER", is_owner=True)
    slack.add_user("UMEMBER")

    async with serving(slack, tmp_path, workspace_admins_are_admins=True) as bot:
        answers = {user: (await admin(bot, "help", user=user))[0] for user in ("UADMIN", "UOWNER", "UMEMBER")}
        await bot.settle()
        attempts = bot.admin_attempts()

    assert "Admin commands" in answers["UADMIN"] and "Admin commands" in answers["UOWNER"]
    assert "only the bot's admins" in answers["UMEMBER"]
    assert attempts == [("UADMIN", "help", True), ("UOWNER", "help", True), ("UMEMBER", "help", False)]
