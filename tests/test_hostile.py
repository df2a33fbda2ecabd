"""Hostile requests to the bot's HTTP endpoint, and hostile clicks and commands inside Slack.

Real: the Bolt app served by `bot.serve.running` over real HTTP, its SQLite query log (read here
straight from the file), the real knowledge folder. Fake: Slack's servers only (tests/fakeslack.py).

Whatever arrives unsigned, stale, oversized, malformed or of the wrong kind is refused with a 4xx
before anything runs: no Slack call, no row in the query log, and the bot answers the next real
question as before. Inside Slack, clicks and admin commands from the wrong person change nothing and
get a polite note. tests/test_app.py has the everyday cases (a forged secret, a stale request, a
vote or share by someone else, forged button values, a non-admin's reload); these are the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import reply
from bot.connections import HEAD_SECONDS
from bot.inbound import BODY_SECONDS, MAX_BODY
from tests.conftest import KNOWLEDGE
from tests.fakeslack import (
    CHANNEL_ID,
    FORM,
    JSON,
    SIGNING_SECRET,
    USER_ID,
    FakeSlack,
    JsonDict,
    app_mention_event,
    block_actions_payload,
    event_callback,
    form_body,
    http_request,
    interactive_body,
    json_body,
    signed_request,
    slack_headers,
    slash_command_form,
)
from tests.slackbot import (
    ANSWER,
    NEW_ARTICLE,
    NEW_ARTICLE_TEXT,
    QUESTION,
    Bot,
    buttons,
    click_payload,
    mention_text,
    posted,
    reads,
    serving,
)

OTHER_USER = "U999"
OTHER_CHANNEL = "C999"
STALE = 6 * 60  # seconds: past Slack's five-minute window, either way
RAW_REPLY_SECONDS = 10.0  # a hang fails the test; a bot that answers takes milliseconds


@pytest.fixture
async def bot(slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Bot]:
    """The bot over HTTP, reading the real knowledge folder; USER_ID is its admin."""
    async with serving(slack, tmp_path, admin_user_ids=USER_ID) as running:
        yield running


# --- what a test reads -----------------------------------------------------------------------


def logged(bot: Bot) -> list[tuple[Any, ...]]:
    """Every row of the query log's file, every column: questions, then admin command attempts."""
    path = Path(bot.settings.query_log_path).resolve()
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        questions = db.execute("SELECT * FROM queries ORDER BY time, id").fetchall()
        admin = db.execute("SELECT * FROM admin_commands ORDER BY id").fetchall()
    return [("queries", *row) for row in questions] + [("admin_commands", *row) for row in admin]


def question_rows(bot: Bot) -> list[tuple[Any, ...]]:
    return [row for row in logged(bot) if row[0] == "queries"]


def questions(bot: Bot) -> list[tuple[str | None, str, str]]:
    """(event_id, surface, question) of each logged question, read from the file."""
    path = Path(bot.settings.query_log_path).resolve()
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT event_id, surface, question FROM queries ORDER BY time").fetchall()


async def still_answers(bot: Bot) -> None:
    """A real question after the hostile request is answered in its thread and logged, once."""
    posts_before = len(bot.slack.calls("chat.postMessage"))
    event = app_mention_event(mention_text(QUESTION))
    assert (await bot.event(event)).status == 200
    calls = await bot.slack.wait_for("chat.postMessage", posts_before + 1, ok=True)
    await bot.settle()
    answer = calls[-1].params
    assert (answer["channel"], answer["thread_ts"]) == (CHANNEL_ID, event["event"]["ts"])
    assert ANSWER in reads(answer)
    assert [row for row in questions(bot) if row[0] == event["event_id"]] == [(event["event_id"], "mention", QUESTION)]


# --- hostile HTTP requests: a table ------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One HTTP request exactly as sent: any method, body and headers, signed or not."""

    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"


def good_body() -> bytes:
    """An @mention that the bot would answer, were the request around it sound."""
    return json_body(app_mention_event(mention_text(QUESTION)))


def signed(body: bytes, content_type: str = JSON, **options: Any) -> Request:
    return Request(body, slack_headers(body, content_type, **options))


def without(headers: dict[str, str], *names: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key not in names}


def command(url: str, /, **fields: str) -> dict[str, str]:
    """An `/ask QUESTION` slash command's fields, some of them changed or (as "-") taken out."""
    form = slash_command_form(QUESTION, response_url=url) | fields
    return {key: value for key, value in form.items() if value != "-"}


def click(response_url: str, **changes: Any) -> JsonDict:
    """A 👍 click on an answer, with fields changed (a value of None takes the field out)."""
    payload = block_actions_payload(reply.ACTION_VOTE_UP, '{"q":"abc","o":0}', response_url=response_url)
    payload |= changes
    return {key: value for key, value in payload.items() if value is not None}


def mention(**event_fields: Any) -> bytes:
    """An @mention event with fields of the event changed (a value of None takes the field out)."""
    event = app_mention_event(mention_text(QUESTION))["event"] | event_fields
    return json_body(event_callback({key: value for key, value in event.items() if value is not None}))


def byte_signature(body: bytes) -> dict[str, str]:
    """Slack's signature computed over raw bytes, for a body that slack_sdk cannot sign (not UTF-8)."""
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def nested(depth: int) -> bytes:
    return b'{"type":"event_callback","event":' + b"[" * depth + b"]" * depth + b"}"


Build = Callable[[str], Request]  # from a fresh response_url (for commands and clicks) to the request
HOSTILE: dict[str, tuple[int, Build]] = {
    # Signatures and timestamps
    "no signature headers": (401, lambda url: Request(good_body(), {"Content-Type": JSON})),
    "timestamp without a signature": (
        401,
        lambda url: Request(b := good_body(), without(slack_headers(b, JSON), "X-Slack-Signature")),
    ),
    "signature without a timestamp": (
        401,
        lambda url: Request(b := good_body(), without(slack_headers(b, JSON), "X-Slack-Request-Timestamp")),
    ),
    "signature that is not a signature": (
        401,
        lambda url: Request(b := good_body(), slack_headers(b, JSON) | {"X-Slack-Signature": "v0=" + "0" * 64}),
    ),
    "signature over a different body": (
        401,
        lambda url: Request(good_body(), slack_headers(json_body(app_mention_event(mention_text("hi"))), JSON)),
    ),
    "signature over the body with a byte added": (
        401,
        lambda url: Request(good_body() + b" ", slack_headers(good_body(), JSON)),
    ),
    "timestamp just over five minutes old": (
        401,
        lambda url: signed(good_body(), timestamp=int(time.time()) - STALE),
    ),
    "timestamp from the future": (401, lambda url: signed(good_body(), timestamp=int(time.time()) + STALE)),
    "non-numeric timestamp, signed with it": (401, lambda url: signed(good_body(), timestamp="yesterday")),
    "malformed JSON, unsigned": (401, lambda url: Request(b"{not json", {"Content-Type": JSON})),
    "slash command, unsigned": (
        401,
        lambda url: Request(form_body(command(url)), {"Content-Type": FORM}),
    ),
    "admin command, unsigned": (
        401,
        lambda url: Request(form_body(command(url, command="/ask-admin", text="reload")), {"Content-Type": FORM}),
    ),
    "button click, unsigned": (
        401,
        lambda url: Request(interactive_body(click(url)), {"Content-Type": FORM}),
    ),
    "body that is not UTF-8, signed over its bytes": (
        401,  # Bolt and slack_sdk check a signature over the body as text: this one cannot carry a valid one
        lambda url: Request(b := b'{"type": "\xff"}', {"Content-Type": JSON} | byte_signature(b)),
    ),
    # Size
    "body over the size limit, signed": (
        413,
        lambda url: signed(json_body({"type": "event_callback", "padding": "x" * MAX_BODY})),
    ),
    # Malformed JSON, validly signed
    "malformed JSON": (400, lambda url: signed(b'{"type": "event_callback", "event": {')),
    "empty JSON body": (400, lambda url: signed(b"")),
    "JSON array": (400, lambda url: signed(b"[1, 2, 3]")),
    "JSON string": (400, lambda url: signed(b'"event_callback"')),
    "JSON null": (400, lambda url: signed(b"null")),
    "JSON nested too deep to parse": (400, lambda url: signed(nested(100_000))),
    "empty JSON object": (400, lambda url: signed(b"{}")),
    "event_callback without an event": (
        400,
        lambda url: signed(json_body({"type": "event_callback", "event_id": "Ev1", "team_id": "T1"})),
    ),
    "event_callback whose event is text": (
        400,
        lambda url: signed(json_body({"type": "event_callback", "event_id": "Ev1", "event": "app_mention"})),
    ),
    "event_callback without an event_id": (
        400,
        lambda url: signed(json_body(app_mention_event(mention_text(QUESTION)) | {"event_id": None})),
    ),
    "mention whose text is a number": (400, lambda url: signed(mention(text=2017))),
    "mention without a channel": (400, lambda url: signed(mention(channel=None))),
    "mention whose user is an object": (400, lambda url: signed(mention(user={"id": USER_ID}))),
    "mention whose team_id is a list": (
        400,
        lambda url: signed(json_body(app_mention_event(mention_text(QUESTION)) | {"team_id": ["T1"]})),
    ),
    "authorizations that are not a list": (
        400,
        lambda url: signed(json_body(app_mention_event(mention_text(QUESTION)) | {"authorizations": "T1"})),
    ),
    "url_verification without a challenge": (400, lambda url: signed(json_body({"type": "url_verification"}))),
    # Malformed form data, validly signed
    "form data that is not form data": (400, lambda url: signed(b"%%%&&&===", FORM)),
    "empty form": (400, lambda url: signed(b"", FORM)),
    "form that is neither a command nor a payload": (400, lambda url: signed(form_body({"text": QUESTION}), FORM)),
    "slash command with nothing but its name": (400, lambda url: signed(b"command=%2Fask", FORM)),
    "slash command without user_id": (400, lambda url: signed(form_body(command(url, user_id="-")), FORM)),
    "slash command without response_url": (400, lambda url: signed(form_body(command(url, response_url="-")), FORM)),
    "payload that is not JSON": (400, lambda url: signed(b"payload=notjson", FORM)),
    "payload that is a JSON list": (400, lambda url: signed(form_body({"payload": "[1]"}), FORM)),
    "payload without a type": (400, lambda url: signed(interactive_body(click(url, type=None)), FORM)),
    "click without actions": (400, lambda url: signed(interactive_body(click(url, actions=None)), FORM)),
    "click with an empty list of actions": (400, lambda url: signed(interactive_body(click(url, actions=[])), FORM)),
    "click whose actions are text": (400, lambda url: signed(interactive_body(click(url, actions="vote_up")), FORM)),
    "click without a user": (400, lambda url: signed(interactive_body(click(url, user=None)), FORM)),
    "click whose channel is text": (400, lambda url: signed(interactive_body(click(url, channel=CHANNEL_ID)), FORM)),
    # The wrong kind of request
    "JSON event sent as text/plain": (415, lambda url: signed(good_body(), "text/plain")),
    "JSON event with no content type": (
        415,
        lambda url: Request(b := good_body(), without(slack_headers(b, JSON), "Content-Type")),
    ),
    "XML": (415, lambda url: signed(b"<event>app_mention</event>", "application/xml")),
    "slash command as multipart/form-data": (415, lambda url: signed(b"--x--\r\n", "multipart/form-data; boundary=x")),
    "GET on the events path": (405, lambda url: Request(None, method="GET")),
    "PUT on the events path, signed": (405, lambda url: Request(b := good_body(), slack_headers(b, JSON), "PUT")),
    "DELETE on the events path": (405, lambda url: Request(None, method="DELETE")),
}


@pytest.mark.parametrize(("status", "build"), HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_request_is_refused_and_changes_nothing(bot: Bot, status: int, build: Build) -> None:
    calls_before = bot.slack.calls()
    request = build(bot.slack.response_url())

    answer = await http_request(bot.events_url, request.body, request.headers, method=request.method)
    await bot.settle()

    assert answer.status == status, answer.text
    assert bot.slack.calls() == calls_before  # no message, no response_url post, not even a lookup
    assert logged(bot) == []  # no question, no admin attempt
    await still_answers(bot)


# --- bodies that are too big, or not what their headers say ------------------------------------


async def raw_exchange(
    bot: Bot, head: bytes, body: bytes = b"", *, end_body: bool = False, wait: float = RAW_REPLY_SECONDS
) -> bytes:
    """Write `head` and `body` on a plain TCP connection and read what the bot answers, without closing
    our side (unless `end_body`): a bot that waited for more of the body would never answer."""
    assert bot.running.url is not None
    host, port = bot.running.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + body)
        await writer.drain()
        if end_body:
            writer.write_eof()
        async with asyncio.timeout(wait):
            return await reader.read(4096)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def head(*lines: str) -> bytes:
    """A POST to the events path with these header lines."""
    return "\r\n".join(["POST /slack/events HTTP/1.1", "Host: 127.0.0.1", *lines, "", ""]).encode()


def status_of(raw_answer: bytes) -> int:
    """The status code of a raw HTTP answer: b"HTTP/1.1 413 ..." gives 413."""
    return int(raw_answer.split(b" ", 2)[1])


async def test_body_declared_over_the_limit_is_refused_before_any_of_it_is_sent(bot: Bot) -> None:
    declared = 100 * MAX_BODY
    sent = head(f"Content-Type: {JSON}", f"Content-Length: {declared}")

    answer = await raw_exchange(bot, sent, b'{"type": ')  # and not a byte more
    await bot.settle()

    assert status_of(answer) == 413
    assert bot.slack.calls("chat.postMessage") == []
    assert logged(bot) == []
    await still_answers(bot)


async def test_chunked_body_is_refused_as_soon_as_it_passes_the_limit(bot: Bot) -> None:
    # No Content-Length: the bot counts as it reads. The stream is never ended, so an answer proves the
    # bot stopped reading at the limit instead of holding the body in memory until its end.
    chunk = b" " * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_BODY // len(chunk) + 2))

    answer = await raw_exchange(bot, head(f"Content-Type: {JSON}", "Transfer-Encoding: chunked"), chunks)
    await bot.settle()

    assert status_of(answer) == 413
    assert bot.slack.calls("chat.postMessage") == []
    assert logged(bot) == []
    await still_answers(bot)


async def test_chunked_body_within_the_limit_is_answered(bot: Bot) -> None:
    event = app_mention_event(mention_text(QUESTION))
    body = json_body(event)
    headers = "\r\n".join(f"{key}: {value}" for key, value in slack_headers(body, JSON).items())
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)

    answer = await raw_exchange(bot, head(headers, "Transfer-Encoding: chunked"), chunks)

    assert status_of(answer) == 200
    [call] = await bot.posts()
    assert call.params["thread_ts"] == event["event"]["ts"]


@pytest.mark.parametrize("length", ["shorter", "absent"])
async def test_content_length_that_does_not_match_the_body_is_refused(bot: Bot, length: str) -> None:
    # The signature is over the whole body; the bot reads only as much as Content-Length says (none when
    # it is absent) and takes the rest for the next request.
    body = good_body()
    headers = [f"{key}: {value}" for key, value in slack_headers(body, JSON).items()]
    if length == "shorter":
        headers.append(f"Content-Length: {len(body) // 2}")

    answer = await raw_exchange(bot, head(*headers), body)
    await bot.settle()

    assert 400 <= status_of(answer) < 500
    assert bot.slack.calls("chat.postMessage") == []
    assert logged(bot) == []
    await still_answers(bot)


async def test_body_cut_short_of_its_content_length_is_not_processed(bot: Bot) -> None:
    body = good_body()
    headers = [f"{key}: {value}" for key, value in slack_headers(body, JSON).items()]

    # The sender promises the whole body, sends half, and closes its side.
    answer = await raw_exchange(bot, head(*headers, f"Content-Length: {len(body)}"), body[:100], end_body=True)
    await bot.settle()

    assert answer == b"" or 400 <= status_of(answer) < 500  # the sender has gone: closed unanswered, or a 4xx
    assert bot.slack.calls("chat.postMessage") == []
    assert logged(bot) == []
    await still_answers(bot)


async def test_sender_that_stalls_mid_body_is_cut_off_with_408(bot: Bot) -> None:
    body = good_body()
    headers = [f"{key}: {value}" for key, value in slack_headers(body, JSON).items()]

    # The sender promises the whole body, sends half, and keeps the connection open (a slow-loris).
    started = time.monotonic()
    answer = await raw_exchange(
        bot, head(*headers, f"Content-Length: {len(body)}"), body[:100], wait=BODY_SECONDS + RAW_REPLY_SECONDS
    )
    await bot.settle()

    assert status_of(answer) == 408
    assert time.monotonic() - started >= BODY_SECONDS  # it was given the time Slack would need, and no more
    assert bot.slack.calls("chat.postMessage") == []
    assert logged(bot) == []
    await still_answers(bot)


# --- what Slack sends that looks odd but is not hostile ---------------------------------------


async def test_ask_from_a_channel_named_payload_is_answered(bot: Bot) -> None:
    # Bolt on its own reads any form with "payload" in it as a button click, and found none here (404).
    response_url = bot.slack.response_url()
    fields = slash_command_form(QUESTION, response_url=response_url, channel_name="payload-reviews")

    http = await signed_request(bot.events_url, form_body(fields), FORM)

    assert http.status == 200
    [answer] = await bot.responses(response_url)
    assert ANSWER in reads(answer.params)
    await bot.settle()
    assert questions(bot) == [(None, "command", QUESTION)]


@pytest.mark.parametrize("signature", ["signed", "unsigned"])
async def test_slack_certificate_check_is_answered_and_runs_nothing(bot: Bot, signature: str) -> None:
    # Slack's ssl_check probe; Bolt answers it 200 without running a listener, signed or not.
    body = form_body({"ssl_check": "1", "token": "legacy-verification-token"})
    headers = slack_headers(body, FORM) if signature == "signed" else {"Content-Type": FORM}
    calls_before = bot.slack.calls()

    answer = await http_request(bot.events_url, body, headers)
    await bot.settle()

    assert answer.status == 200
    assert bot.slack.calls() == calls_before
    assert logged(bot) == []


# --- admin commands from non-admins -----------------------------------------------------------


@pytest.mark.parametrize("text", ["reload", "stats", "RELOAD now", "stats 9999"])
async def test_non_admin_command_is_refused_and_changes_and_reveals_nothing(
    slack: FakeSlack, tmp_path: Path, text: str
) -> None:
    knowledge = Path(shutil.copytree(KNOWLEDGE, tmp_path / "knowledge"))
    async with serving(slack, tmp_path, knowledge_dir=knowledge, admin_user_ids=USER_ID) as bot:
        event = app_mention_event(mention_text(QUESTION))
        await bot.event(event)
        await bot.posts()
        (knowledge / NEW_ARTICLE).write_text(NEW_ARTICLE_TEXT, encoding="utf-8")  # a reload would find it
        version = bot.running.engine.index.version
        await bot.settle()
        questions_before = question_rows(bot)

        http, response_url = await bot.command(text, command="/ask-admin", user=OTHER_USER)
        [note] = await bot.responses(response_url)
        await bot.settle()

        assert http.status == 200
        assert "Sorry, only the bot's admins can use /ask-admin" in reads(note.params)
        assert QUESTION not in reads(note.params) and "questions" not in reads(note.params)  # no stats
        assert note.params.get("response_type") != "in_channel"
        assert bot.running.engine.index.version == version
        assert not bot.running.engine.reloading
        assert question_rows(bot) == questions_before
        assert bot.admin_attempts() == [(OTHER_USER, text.split()[0].lower(), False)]
        assert len(bot.responses_now(response_url)) == 1  # no "Reloading…", no report
        assert len(slack.calls("chat.postMessage")) == 1  # the answer to the question, nothing since


# --- button clicks that name the wrong question -----------------------------------------------


@dataclass(frozen=True)
class Click:
    action: str
    user: str = USER_ID
    channel: str = CHANNEL_ID
    value: str | None = None  # None: the answer's own value (its question, offset 0)
    note: str = ""  # what the clicker is told


OWN = None
UNKNOWN = json.dumps({"q": "f" * 32, "o": 0}, separators=(",", ":"))  # well formed; no such question
FORGED = '{"q":"../../etc","o":0}'
RATE = "Only the person who asked can rate this answer"
SHARE = "Only the person who asked can share this answer"
MORE = "That button doesn't belong to a question I know"
CLICKS = {
    "👍 on another user's question": Click(reply.ACTION_VOTE_UP, user=OTHER_USER, note=RATE),
    "👎 on another user's question": Click(reply.ACTION_VOTE_DOWN, user=OTHER_USER, note=RATE),
    "share of another user's question": Click(reply.ACTION_SHARE, user=OTHER_USER, note=SHARE),
    "share naming a forged id": Click(reply.ACTION_SHARE, value=FORGED, note=SHARE),
    "share naming an unknown id": Click(reply.ACTION_SHARE, value=UNKNOWN, note=SHARE),
    "more results from another channel": Click(reply.ACTION_MORE, user=OTHER_USER, channel=OTHER_CHANNEL, note=MORE),
    "more results from another channel, by its asker": Click(reply.ACTION_MORE, channel=OTHER_CHANNEL, note=MORE),
    "more results past the last offset": Click(reply.ACTION_MORE, value="OFFSET", note=MORE),
    "context from another channel": Click(reply.ACTION_CONTEXT, user=OTHER_USER, channel=OTHER_CHANNEL, note=MORE),
    "context naming a forged id": Click(reply.ACTION_CONTEXT, value=FORGED, note=MORE),
    "👎 naming an unknown id": Click(reply.ACTION_VOTE_DOWN, value=UNKNOWN, note="I can't find that question"),
}


@pytest.mark.parametrize("wrong", CLICKS.values(), ids=CLICKS.keys())
async def test_click_naming_the_wrong_question_changes_nothing(bot: Bot, wrong: Click) -> None:
    await bot.event(app_mention_event(mention_text(QUESTION)))
    [call] = await bot.posts()
    message = posted(call)
    vote_url = bot.slack.response_url()
    await bot.click(click_payload(message, reply.ACTION_VOTE_UP, response_url=vote_url))  # the asker: 👍
    await bot.responses(vote_url)
    await bot.settle()
    rows_before, calls_before = logged(bot), bot.slack.calls()
    own = buttons(message)[reply.ACTION_VOTE_UP]
    value = {None: own, "OFFSET": own.replace('"o":0', '"o":10001')}.get(wrong.value, wrong.value)
    assert value is not None
    click_url = bot.slack.response_url()
    payload = block_actions_payload(
        wrong.action,
        value,
        response_url=click_url,
        user=wrong.user,
        channel=wrong.channel,
        message_ts=message["ts"],
        block_id="answer_actions",
    )

    http = await bot.click(payload)
    [note] = await bot.responses(click_url)
    await bot.settle()

    assert http.status == 200
    assert wrong.note in note.params["text"]
    assert (note.params["response_type"], note.params["replace_original"]) == ("ephemeral", False)
    assert logged(bot) == rows_before  # the asker's 👍 and its time, untouched; nothing added
    assert bot.slack.calls()[len(calls_before) :] == [note]  # only the note: nothing posted, shared or deleted


# --- Slack's headers, malformed ---------------------------------------------------------------


def timestamp_headers(body: bytes, *timestamps: str) -> list[str]:
    """Header lines for `body`, signed with the first of `timestamps` and sending every one of them."""
    headers = slack_headers(body, JSON, timestamp=timestamps[0])
    lines = [f"{key}: {value}" for key, value in headers.items() if key != "X-Slack-Request-Timestamp"]
    return [*lines, *(f"X-Slack-Request-Timestamp: {ts}" for ts in timestamps), f"Content-Length: {len(body)}"]


def signature_headers(body: bytes, *signatures: str) -> list[str]:
    headers = slack_headers(body, JSON)
    lines = [f"{key}: {value}" for key, value in headers.items() if key != "X-Slack-Signature"]
    return [*lines, *(f"X-Slack-Signature: {s}" for s in signatures), f"Content-Length: {len(body)}"]


MALFORMED_HEADERS: dict[str, tuple[int, Callable[[bytes], list[str]]]] = {
    "400-digit timestamp, signed with it": (401, lambda body: timestamp_headers(body, "9" * 400)),
    "400-digit negative timestamp, signed with it": (401, lambda body: timestamp_headers(body, "-" + "9" * 400)),
    "timestamp too long for a header": (400, lambda body: timestamp_headers(body, "9" * 10_000)),
    "negative timestamp, signed with it": (401, lambda body: timestamp_headers(body, str(-int(time.time())))),
    "timestamp with a fraction, signed with it": (401, lambda body: timestamp_headers(body, f"{time.time():.3f}")),
    "timestamp in exponent notation, signed with it": (401, lambda body: timestamp_headers(body, "1.7e9")),
    "timestamp in other digits, signed with it": (401, lambda body: timestamp_headers(body, "١٧٠٠٠٠٠٠٠٠")),
    "timestamp with letters outside ASCII, signed with it": (401, lambda body: timestamp_headers(body, "17ü0")),
    "empty timestamp, signed with it": (401, lambda body: timestamp_headers(body, "")),
    "two timestamps, signed with the first": (
        400,
        lambda body: timestamp_headers(body, str(int(time.time())), "9" * 400),
    ),
    "the same timestamp twice, signed with it": (
        400,
        lambda body: timestamp_headers(body, str(ts := int(time.time())), str(ts)),
    ),
    "two signatures, the first one right": (
        400,
        lambda body: signature_headers(body, slack_headers(body, JSON)["X-Slack-Signature"], "v0=" + "0" * 64),
    ),
    "empty signature": (401, lambda body: signature_headers(body, "")),
    "signature of 5,000 characters": (401, lambda body: signature_headers(body, "v0=" + "f" * 5000)),
    "signature outside ASCII": (401, lambda body: signature_headers(body, "v0=" + "é" * 64)),
}


@pytest.mark.parametrize(("status", "build"), MALFORMED_HEADERS.values(), ids=MALFORMED_HEADERS.keys())
async def test_malformed_slack_headers_are_refused_without_a_traceback(
    bot: Bot, caplog: pytest.LogCaptureFixture, status: int, build: Callable[[bytes], list[str]]
) -> None:
    caplog.set_level(logging.DEBUG)
    body = good_body()
    calls_before = bot.slack.calls()

    answer = await raw_exchange(bot, head(*build(body)), body)
    await bot.settle()

    assert status_of(answer) == status, answer
    assert bot.slack.calls() == calls_before
    assert logged(bot) == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    assert "Traceback" not in caplog.text
    await still_answers(bot)


async def test_a_flood_of_unsigned_requests_is_refused_each_time_and_logged_in_a_few_lines(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.inbound")
    body = good_body()

    async with aiohttp.ClientSession() as session:
        statuses: list[int] = []
        for _ in range(20):  # 1,000 in all, 50 at a time
            sent = (http_request(bot.events_url, body, {"Content-Type": JSON}, session=session) for _ in range(50))
            statuses += [answer.status for answer in await asyncio.gather(*sent)]
    big = signed(json_body({"type": "event_callback", "padding": "x" * MAX_BODY}))
    assert (await http_request(bot.events_url, big.body, big.headers)).status == 413
    await bot.settle()

    assert statuses == [401] * 1000
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.inbound"]
    assert 1 <= len(lines) <= 3, lines
    assert "refused a request to /slack/events with HTTP 401: invalid request: no valid Slack signature" in lines[0]
    assert bot.slack.calls("chat.postMessage") == []
    assert logged(bot) == []


async def test_summary_of_refused_requests_counts_them_by_status(
    slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.inbound")
    async with serving(slack, tmp_path) as bot:
        for _ in range(5):
            assert (await http_request(bot.events_url, good_body(), {"Content-Type": JSON})).status == 401
        big = signed(json_body({"type": "event_callback", "padding": "x" * MAX_BODY}))
        assert (await http_request(bot.events_url, big.body, big.headers)).status == 413
    # Shutting down says what was refused since the last line, rather than leave it unsaid.
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.inbound"]
    assert len(lines) == 2, lines
    assert lines[1].startswith("refused 5 more requests to /slack/events in the last"), lines
    assert lines[1].endswith(": 401 ×4, 413 ×1"), lines


# --- slow clients -------------------------------------------------------------------------------


async def test_connection_that_stops_mid_headers_is_closed_within_the_header_time_limit(bot: Bot) -> None:
    started = time.monotonic()
    answer = await raw_exchange(
        bot, b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slack-", wait=HEAD_SECONDS + RAW_REPLY_SECONDS
    )

    assert answer == b""  # closed, unanswered
    assert time.monotonic() - started >= HEAD_SECONDS * 0.9  # it was given the time a client needs
    await still_answers(bot)
