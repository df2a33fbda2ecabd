"""Logs: one line per event, text or JSON, at the level from settings, and never a secret.

The formatter tests log through real `logging` loggers into a string. The end-to-end tests run
`python -m bot serve` as an operator would, at LOG_LEVEL=DEBUG so that Bolt, slack_sdk and aiohttp
say everything they ever say, and search all of it for the tokens and the signing secret.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from bot import logs, reply
from bot.config import load_settings
from tests.fakeslack import JSON, FakeSlack, app_mention_event, json_body, signed_request, slash_command_form
from tests.slackbot import QUESTION, click_payload, mention_text, serving, shown
from tests.test_serve import (
    APP_TOKEN,
    BOT_TOKEN,
    MARKER,
    SIGNING_SECRET,
    START_TIMEOUT,
    bot_process,
    free_port,
)

SECRET = "xoxb-1234-very-secret"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A fake Slack that accepts this module's marked tokens."""
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        yield fake


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The process's log lines, as configured by `logs.configure`; the previous set-up restored after."""
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(before[0])
    for handler in before[1]:
        root.addHandler(handler)


def test_text_lines_carry_the_facts_as_key_value_pairs(captured: io.StringIO) -> None:
    logs.configure("INFO", "text", stream=captured)
    facts = {"query_id": "abc", "latency_ms": 12.5, "index_version": "v1", "error": "chat.postMessage failed"}
    logging.getLogger("bot.app").info("question %s", "answered", extra=facts)

    [line] = captured.getvalue().splitlines()
    assert " INFO bot.app question answered " in line
    assert line.endswith("query_id=abc latency_ms=12.5 index_version=v1 error='chat.postMessage failed'")


def test_json_lines_are_one_object_each_with_the_facts_as_fields(captured: io.StringIO) -> None:
    logs.configure("INFO", "json", stream=captured)
    log = logging.getLogger("bot.app")
    log.info("question answered", extra={"latency_ms": 3.25, "index_version": "v1", "question_words": "café"})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("search failed", extra={"query_id": "q1"})

    first, second = (json.loads(line) for line in captured.getvalue().splitlines())
    assert first["message"] == "question answered" and first["level"] == "INFO" and first["logger"] == "bot.app"
    assert dt.datetime.fromisoformat(first["time"]).utcoffset() == dt.timedelta(0)  # ISO 8601, UTC
    assert (first["latency_ms"], first["index_version"], first["question_words"]) == (3.25, "v1", "café")
    assert second["level"] == "ERROR" and second["query_id"] == "q1" and "RuntimeError: boom" in second["exc_info"]


def test_the_level_from_settings_hides_less_severe_lines(captured: io.StringIO) -> None:
    logs.configure("WARNING", "text", stream=captured)
    logging.getLogger("bot.app").info("routine")
    logging.getLogger("bot.app").warning("unusual")
    assert "unusual" in captured.getvalue() and "routine" not in captured.getvalue()


def test_configuring_twice_does_not_double_lines(captured: io.StringIO) -> None:
    logs.configure("INFO", "text", stream=captured)
    logs.configure("INFO", "text", stream=captured)
    logging.getLogger("bot").info("once")
    assert captured.getvalue().count("once") == 1


@pytest.mark.parametrize("style", ["text", "json"])
def test_a_secret_logged_by_anyone_anywhere_in_a_line_is_redacted(captured: io.StringIO, style: str) -> None:
    logs.configure("DEBUG", style, secrets=[SECRET, "s"], stream=captured)
    library = logging.getLogger("slack_sdk.web.async_base_client")
    library.debug("Sending a request - headers: {'Authorization': 'Bearer %s'}", SECRET)
    library.info("url", extra={"token": SECRET})
    try:
        raise ValueError(f"invalid token {SECRET}")
    except ValueError:
        library.exception("request failed")

    text = captured.getvalue()
    assert SECRET not in text
    assert text.count(logs.REDACTED) >= 3
    assert "request failed" in text  # a one-letter test value is not a secret to scrub from every word


@pytest.mark.parametrize(
    ("level", "line", "kept"),
    [
        (logging.INFO, "Unsuccessful Bolt execution result (status: 404, body: {body})", "(status: 404"),
        (logging.WARNING, "A global middleware (Mine) skipped calling `next()` ({body})", "(Mine) skipped calling"),
        (logging.DEBUG, 'Responding with status: 200 body: "{body}" (3 millis)', "Responding with status: 200"),
    ],
)
def test_library_lines_that_show_content_keep_only_what_happened(
    captured: io.StringIO, level: int, line: str, kept: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs.configure("DEBUG", "text", stream=captured)
    bolt = logging.getLogger("slack_bolt.AsyncApp")
    monkeypatch.setattr(bolt, "level", logging.NOTSET)  # Bolt copies the root's level when an app is made
    body = {"user": "UALICE01", "text": QUESTION}
    bolt.log(level, line.format(body=body))
    logging.getLogger("bot.app").info("the bot's own line: %s", "kept whole")

    first, second = captured.getvalue().splitlines()
    assert kept in first and first.endswith("[content not logged]")
    assert "UALICE01" not in first and QUESTION not in first
    assert second.endswith("the bot's own line: kept whole")


@pytest.mark.parametrize("value", ["debug", "Warning"])
def test_log_level_setting_accepts_any_case(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LOG_LEVEL", value)
    assert load_settings(_env_file=None).log_level == value.upper()


# --- the running bot ----------------------------------------------------------------------


async def test_http_bot_logs_one_json_line_per_question_and_no_secret_even_at_debug(
    slack: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    settings = {
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "HASH_USER_IDS": "true",
        "USER_ID_HASH_KEY": f"{MARKER}-hash-key-of-at-least-32-characters",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
    }
    url = f"http://127.0.0.1:{port}/slack/events"
    async with bot_process(tmp_path, "serve", "--http", "--host", "127.0.0.1", "--port", str(port), **settings) as bot:
        await bot.wait_for_line("listening on")
        for _ in range(2):
            event = app_mention_event(mention_text(QUESTION))
            assert (await signed_request(url, json_body(event), JSON, SIGNING_SECRET)).status == 200
        # A forged request, and a failed answer: the paths that log errors with context.
        assert (await signed_request(url, json_body(app_mention_event("hi")), JSON, "wrong-secret")).status == 401
        slack.fail_next("chat.postMessage", 200, error="channel_not_found")
        await signed_request(url, json_body(app_mention_event(mention_text(QUESTION))), JSON, SIGNING_SECRET)
        await slack.wait_for("chat.postMessage", 3)
        status = await bot.stop(signal.SIGTERM)

    assert status == 0
    lines = [json.loads(line) for line in bot.output if line.strip()]  # every line is a JSON object
    questions = [line for line in lines if line["message"].startswith("question ")]
    assert [q["message"] for q in questions].count("question answered") == 2
    [failed] = [q for q in questions if q["message"] == "question failed"]
    assert failed["level"] == "WARNING" and "channel_not_found" in failed["error"]
    assert all(q["latency_ms"] > 0 and len(q["index_version"]) == 12 and q["query_id"] for q in questions)
    assert any(line["level"] == "DEBUG" for line in lines)  # the libraries really were talking
    assert MARKER not in bot.printed


async def test_socket_mode_bot_at_debug_never_logs_its_tokens(slack: FakeSlack, tmp_path: Path) -> None:
    settings = {
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "LOG_LEVEL": "DEBUG",
    }
    async with bot_process(tmp_path, "serve", **settings) as bot:
        await slack.wait_connected(timeout=START_TIMEOUT)
        await slack.socket_send("events_api", app_mention_event(mention_text(QUESTION)))
        await slack.wait_for("chat.postMessage", ok=True)
        status = await bot.stop(signal.SIGTERM)

    assert status == 0
    assert "question answered" in bot.printed and " DEBUG " in bot.printed
    assert MARKER not in bot.printed


# --- privacy at every level ----------------------------------------------------------------


ALICE = "UALICE01"
ASKED = "Which CCGs overspent in 2017-18?"  # by /ask; QUESTION by mention


@pytest.mark.parametrize("http", [True, False], ids=["http", "socket_mode"])
async def test_at_debug_with_hashed_ids_no_user_id_or_question_reaches_the_log(
    tmp_path: Path, captured: io.StringIO, http: bool
) -> None:
    logs.configure("DEBUG", "text", stream=captured)
    key = "k" * 40
    extra = {} if http else {"slack_signing_secret": None}
    async with (
        FakeSlack() as slack,
        serving(
            slack, tmp_path, http=http, log_level="DEBUG", hash_user_ids=True, user_id_hash_key=key, **extra
        ) as bot,
    ):
        mention = app_mention_event(mention_text(QUESTION), user=ALICE)
        share_url = slack.response_url()
        if http:
            await bot.event(mention)
            _, answer_url = await bot.command(ASKED, user=ALICE)
        else:
            answer_url = slack.response_url()
            await slack.socket_send("events_api", mention)
            await slack.socket_send("slash_commands", slash_command_form(ASKED, response_url=answer_url, user_id=ALICE))
        await bot.posts()
        [answer] = await bot.responses(answer_url)
        share = click_payload(answer.params, reply.ACTION_SHARE, response_url=share_url, user=ALICE, ephemeral=True)
        if http:
            await bot.click(share)
        else:
            await slack.socket_send("interactive", share)
        [shared, *_] = await bot.responses(share_url)
        await bot.settle()

    logged = captured.getvalue()
    assert f"Shared by <@{ALICE}>" in shown(shared.params)  # the user id and the question did pass through
    assert " DEBUG " in logged and "question answered" in logged  # the libraries and the bot really were talking
    assert "chat.postMessage" in logged  # DEBUG still says which calls were made
    assert ALICE not in logged
    for question in (QUESTION, ASKED):
        for written in (question, quote(question), quote_plus(question), json.dumps(question)[1:-1]):
            assert written not in logged
