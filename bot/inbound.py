"""What reaches Bolt from the HTTP port: only signed requests of the shape Slack sends.

Bolt parses a request's body before it checks the signature, and answers 500 to a body it cannot
parse, to one of a shape it does not expect, and to a timestamp that is not a number; and it reads a
form whose text merely contains the word "payload" as an empty body. So each request is checked here
first: its size (413), its signature (401), its content type (415), then its shape (400). Only a
signed request of the shape Slack sends reaches Bolt, which checks the signature again, and Bolt is
given the fields as parsed here.

Anyone can send requests, so refusals are logged through a Tally: the first in full, then a count
per minute. Requests too malformed for aiohttp to parse (a header over 8 KB, a broken request line)
are answered 400 by aiohttp itself, which logs each with a traceback; `ClientErrors` counts them in
the same tally instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.tally import Tally

logger = logging.getLogger("bot.inbound")

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's requests are a few KB; anything near this is not Slack
BODY_SECONDS = 5.0  # Slack sends its few KB at once; a sender that stalls mid-body is not Slack
JSON = "application/json"  # Events API
FORM = "application/x-www-form-urlencoded"  # slash commands, button clicks (payload=<JSON>), ssl_check
SIGNATURE_HEADERS = ("X-Slack-Request-Timestamp", "X-Slack-Signature")


class Malformed(ValueError):
    """A signed request Slack would not send; the message says why."""


def refusals() -> Tally:
    """The log of refused requests, for `checked` and `ClientErrors`."""
    return Tally(logger, f"refused {{count}} more requests to {EVENTS_PATH}")


def refuse(tally: Tally, status: int, why: str) -> web.Response:
    tally.add(str(status), "refused a request to %s with HTTP %d: %s", EVENTS_PATH, status, why)
    return web.json_response({"ok": False, "error": why}, status=status)


class ClientErrors(logging.Filter):
    """For aiohttp's server logger: a request aiohttp refused as malformed (4xx) is counted in `tally`,
    not logged with a traceback; anything else (a fault of the bot's) is logged as before."""

    def __init__(self, tally: Tally) -> None:
        super().__init__()
        self._tally = tally

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and 400 <= error.code < 500:
            why = f"malformed HTTP: {error.message}"
            self._tally.add(str(error.code), "refused a request with HTTP %d: %s", error.code, why)
            return False
        return True


async def checked(request: web.Request, verifier: SignatureVerifier, tally: Tally) -> web.Response | AsyncBoltRequest:
    """The request as Bolt should see it, or the answer that refuses it (logged in `tally`)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return refuse(tally, 413, f"the body is over {MAX_BODY} bytes")  # refused before a byte of it is read
    try:
        async with asyncio.timeout(BODY_SECONDS):
            raw = await request.read()  # aiohttp stops reading past client_max_size (MAX_BODY), answering 413
    except TimeoutError:  # aiohttp has no body time-out of its own: a stalled sender would hold on for ever
        return refuse(tally, 408, f"the body did not arrive within {BODY_SECONDS:.0f} s")
    for name in SIGNATURE_HEADERS:  # which copy would Bolt, or a proxy, read? Slack sends one
        if len(request.headers.getall(name, ())) > 1:
            return refuse(tally, 400, f"malformed request: more than one {name} header")
    if not _signed(verifier, raw, request) and not (request.content_type == FORM and _is_ssl_check(raw)):
        return refuse(tally, 401, "invalid request: no valid Slack signature")
    if request.content_type not in (JSON, FORM):
        return refuse(tally, 415, f"unsupported content type {request.content_type!r}")
    try:
        fields = _event_body(raw) if request.content_type == JSON else _form_body(raw)
        bolt_request = AsyncBoltRequest(body=raw.decode(), query=request.query_string, headers=dict(request.headers))
        # Bolt reads a form whose text merely contains the word "payload" as an empty body: give it the fields.
        bolt_request.body = fields
        bolt_request.context = build_async_context(AsyncBoltContext(), fields)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return refuse(tally, 400, f"malformed request: {exc}")
    except Exception as exc:  # Bolt's own reading of a shape not checked here
        return refuse(tally, 400, f"malformed request: {type(exc).__name__}: {exc}")
    return bolt_request


def _signed(verifier: SignatureVerifier, raw: bytes, request: web.Request) -> bool:
    """Whether the request carries Slack's signature of `raw`, made within the last five minutes."""
    timestamp, signature = (request.headers.get(name) for name in SIGNATURE_HEADERS)
    try:
        return verifier.is_valid(raw, timestamp, signature)
    # A timestamp that is not a number (ValueError), or too big for a float (OverflowError); a body that is
    # not UTF-8 (UnicodeDecodeError); a signature with characters outside ASCII (hmac: TypeError).
    except (ValueError, OverflowError, TypeError):
        return False


def _is_ssl_check(raw: bytes) -> bool:
    """Slack's certificate check (`ssl_check=1`), which Bolt answers 200 without running any listener."""
    try:
        return dict(parse_qsl(raw.decode(), keep_blank_values=True)).get("ssl_check") == "1"
    except ValueError:
        return False


def _event_body(raw: bytes) -> dict[str, Any]:
    """An Events API body, parsed; Malformed if it is not one Slack sends."""
    body = _object(json.loads(raw), "the body")
    _strings(body, "the body", "type")
    if body["type"] == "url_verification":
        _strings(body, "url_verification", "challenge")
    elif body["type"] == "event_callback":
        _strings(body, "event_callback", "event_id")
        _strings(body, "event_callback", "team_id", "api_app_id", "enterprise_id", required=False)
        for authorization in _list(body, "authorizations"):
            _object(authorization, "an authorization")
        event = _object(body.get("event"), "event")
        _strings(event, "event", "type")
        if event["type"] in ("app_mention", "message"):  # the events the listeners read
            _strings(event, event["type"], "channel", "ts", *(["text"] if event["type"] == "app_mention" else []))
            optional = ("user", "text", "thread_ts", "channel_type", "subtype", "bot_id", "team", "user_team")
            _strings(event, event["type"], *optional, required=False)
    return body


def _form_body(raw: bytes) -> dict[str, Any]:
    """A slash command's fields or a button click's payload; Malformed if it is not one Slack sends."""
    fields = dict(parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=True, errors="strict"))
    if "payload" in fields:
        payload = _object(json.loads(fields["payload"]), "payload")
        _strings(payload, "payload", "type")
        if payload["type"] == "block_actions":
            _strings(_object(payload.get("user"), "user"), "user", "id")
            actions = _list(payload, "actions")
            if not actions:
                raise Malformed("block_actions has no actions")
            for action in actions:
                _strings(_object(action, "an action"), "an action", "action_id")
                _strings(action, "an action", "value", "block_id", required=False)
            for name in ("channel", "container", "message", "team"):
                if payload.get(name) is not None:
                    _object(payload[name], name)
            _strings(payload, "block_actions", "response_url", required=False)
        return payload
    if "command" in fields:
        _strings(fields, fields["command"], "user_id", "channel_id", "team_id", "response_url")
        return fields
    if fields.get("ssl_check") == "1":
        return fields
    raise Malformed("neither a slash command nor a payload")


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not a JSON object")
    return value


def _list(fields: Mapping[str, Any], name: str) -> list[Any]:
    value = fields.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{name} is not a list")
    return value


def _strings(fields: Mapping[str, Any], where: str, *names: str, required: bool = True) -> None:
    """Each of `names` is a string in `fields`; when not `required`, a missing or null one is allowed too."""
    for name in names:
        value = fields.get(name)
        if not isinstance(value, str) and (required or value is not None):
            raise Malformed(f"{name} in {where} is {'missing' if value is None else 'not text'}")
