"""The bot's Slack Web API client: pointed at SLACK_API_URL, retrying rate limits, outages and time-outs.

slack_sdk's async client retries only connection errors by default. Ours also waits out HTTP
429 (for as long as `Retry-After` says), retries 500/503 with exponential backoff, and retries a
time-out with the same backoff, but only for a call that is safe to repeat (`SAFE_TO_REPEAT`:
reads, apps.connections.open and chat.update). Any other call that times out, chat.postMessage
above all, raises at once: Slack may have carried it out and only its answer been lost.

slack_sdk counts retries per request, across all handlers: a handler retries only while the
request's retries so far, of any kind, are below its own limit. So a request is tried at most
1 + RATE_LIMIT_RETRIES times in all (the largest limit), and a 5xx or a time-out that follows two
429s is not retried.

chat.postMessage is the exception to the 429 cap: an answer must be late rather than lost. The
client (`SlackClient`) paces posts per channel (bot/limits.py `Pacer`, SLACK_CHANNEL_POSTS_PER_SECOND)
and waits out every 429 on a post, however many (with pacing on, the channel's other posts wait
until Retry-After has passed too). Only shutdown ends that wait (`SlackClient.stop_waiting`): the post then
fails with `Stopping`, and its question's row says it was not delivered.

Nothing the client sends carries a secret: every string in every call's arguments, message blocks
included, has the values of the secret settings replaced by the logs' "[redacted]" (bot/logs.py
`Scrubber`). This is a second wall, behind keeping secrets out of the knowledge folder.

Dropped connections are retried for every method, as slack_sdk does: a connection that fails
before the request is sent is harmless to repeat. One that drops after a post was sent (aiohttp's
ServerDisconnectedError) could, rarely, post twice; this module does not guard against that.

Posting a message is `post_message`, never a bare `chat_postMessage`: it tags the message with
metadata carrying a key, and after a time-out looks for that key in the thread (or the channel)
before posting again, so an answer Slack delivered slowly is not posted twice. See its docstring
for the bounds and for what happens when the look-up itself fails.

Socket Mode needs nothing more: Bolt's AsyncSocketModeHandler opens its connection through the
app's client (`AsyncApp(client=web_client(settings))`), so it uses the same URL and retries.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.config import Settings, SettingsError
from bot.limits import Pacer
from bot.logs import Scrubber
from bot.reply import slack_failure

logger = logging.getLogger("bot.slack_client")

RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 2
CONNECTION_ERROR_RETRIES = 1
TIMEOUT_RETRIES = 2
"""Retries of a timed-out call that is safe to repeat; also how often `post_message` posts again."""

BACKOFF = BackoffRetryIntervalCalculator(backoff_factor=0.5)
"""Waits before 5xx, connection and time-out retries: 0.5 s, 1 s, ... each plus up to 1 s of random jitter."""

SAFE_TO_REPEAT = frozenset(
    {
        "auth.test",
        "users.info",
        "conversations.history",
        "conversations.replies",
        "conversations.info",
        "conversations.members",
        "apps.connections.open",  # a second URL is harmless: the unused one expires
        "chat.update",  # the same edit twice leaves the same message
    }
)
"""Web API methods whose repetition cannot change anything twice: retried after a time-out."""

ANSWER_EVENT_TYPE = "policy_answer_posted"
"""The metadata event_type on every message the bot posts (Slack's guide: <resource>_<past-tense action>)."""

LOOKBACK_SECONDS = 60
"""How far before the first attempt the look-up reaches: room for the bot's clock to differ from Slack's."""

LOOKUP_LIMIT = 100
"""Messages a look-up asks for: one page; a thread or channel gets nowhere near this in a minute."""


def api_method(url: str) -> str:
    """The Web API method a request URL calls: ".../api/users.info" -> "users.info"."""
    return urlsplit(url).path.rsplit("/", 1)[-1]


class TimeoutRetryHandler(AsyncRetryHandler):
    """Retries a time-out (asyncio's, or aiohttp's ServerTimeoutError) of a method in SAFE_TO_REPEAT."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return isinstance(error, TimeoutError) and api_method(request.url) in SAFE_TO_REPEAT


class _Except(AsyncRetryHandler):
    """A slack_sdk retry handler that leaves some calls alone: those `skips` names, before its own rule applies."""

    def skips(self, method: str, error: Exception | None) -> bool:
        raise NotImplementedError

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if self.skips(api_method(request.url), error):
            return False
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)


class ConnectionErrorRetryHandler(_Except, AsyncConnectionErrorRetryHandler):
    """slack_sdk's connection-error retries, without time-outs: aiohttp's ServerTimeoutError is a
    ServerConnectionError too, and whether a time-out may be repeated is TimeoutRetryHandler's call."""

    def skips(self, method: str, error: Exception | None) -> bool:
        return isinstance(error, TimeoutError)


class RateLimitRetryHandler(_Except, AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 retries, except for chat.postMessage: SlackClient waits those out itself, pacing the channel."""

    def skips(self, method: str, error: Exception | None) -> bool:
        return method == "chat.postMessage"


class Stopping(Exception):
    """The bot is shutting down: a post still waiting for its turn, or out a rate limit, was not sent."""


class SlackClient(AsyncWebClient):
    """An AsyncWebClient that scrubs secrets from everything it sends, and paces and re-sends rate-limited posts."""

    def __init__(self, *, scrub: Scrubber, pacer: Pacer | None, **options: Any) -> None:
        super().__init__(**options)
        self.scrub = scrub
        self.pacer = pacer
        self._stopping = asyncio.Event()

    def stop_waiting(self) -> None:
        """Make every post waiting for its turn or out a rate limit give up with `Stopping` (at shutdown)."""
        self._stopping.set()

    async def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: Any = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> AsyncSlackResponse:
        if isinstance(data, dict):
            data = self.scrub(data)
        params, json = self.scrub(params), self.scrub(json)
        call = functools.partial(
            super().api_call,
            api_method,
            http_verb=http_verb,
            files=files,
            data=data,
            params=params,
            json=json,
            headers=headers,
            auth=auth,
        )
        if api_method != "chat.postMessage":
            return await call()
        channel = str(next((a["channel"] for a in (json, data, params) if isinstance(a, dict) and "channel" in a), ""))
        while True:
            if self.pacer is not None:
                await self._wait(self.pacer.reserve(channel, time.monotonic()))
            try:
                return await call()
            except SlackApiError as exc:
                if exc.response.status_code != 429:
                    raise
                wait = _retry_after(exc.response)
            logger.warning("Slack is rate limiting posts to channel %s: posting again in %.0f s", channel, wait)
            if self.pacer is not None:
                self.pacer.hold(channel, time.monotonic() + wait)
            else:
                await self._wait(wait)

    async def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return
        raise Stopping("the bot stopped before Slack would take this message")


def _retry_after(response: AsyncSlackResponse) -> float:
    """Slack's Retry-After, in seconds; 1 when it is missing or unreadable."""
    try:
        return max(1.0, float(response.headers.get("Retry-After", 1)))
    except (TypeError, ValueError):
        return 1.0


def retry_handlers(interval: RetryIntervalCalculator = BACKOFF) -> list[AsyncRetryHandler]:
    """Retries for HTTP 429 (waiting Retry-After; posts: see SlackClient), HTTP 500/503, dropped connections,
    and time-outs of safe calls."""
    return [
        RateLimitRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        AsyncServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES, interval_calculator=interval),
        ConnectionErrorRetryHandler(max_retry_count=CONNECTION_ERROR_RETRIES, interval_calculator=interval),
        TimeoutRetryHandler(max_retry_count=TIMEOUT_RETRIES, interval_calculator=interval),
    ]


def web_client(
    settings: Settings, *, timeout: int | None = None, retry_interval: RetryIntervalCalculator = BACKOFF
) -> SlackClient:
    """The bot token's client for settings.slack_api_url, each attempt limited to `timeout` seconds
    (default SLACK_TIMEOUT_SECONDS), posting at most SLACK_CHANNEL_POSTS_PER_SECOND into a channel
    and never sending a secret. `retry_interval` lets a test retry without waiting."""
    if settings.slack_bot_token is None:
        raise SettingsError(
            "SLACK_BOT_TOKEN is empty: set it to the bot token (xoxb-...) from your Slack app's OAuth page"
        )
    rate = settings.slack_channel_posts_per_second
    return SlackClient(
        scrub=Scrubber(settings.secrets()),
        pacer=Pacer(rate) if rate > 0 else None,
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=settings.slack_timeout_seconds if timeout is None else timeout,
        retry_handlers=retry_handlers(retry_interval),
    )


async def post_message(
    client: AsyncWebClient, *, channel: str, thread_ts: str | None, key: str, **message: Any
) -> AsyncSlackResponse:
    """chat.postMessage `message` to `channel` (in thread `thread_ts`, if given), delivered at most once
    as far as Slack lets us tell. `key` must be unique to this message (a query id, or a uuid4).

    The message carries metadata {"event_type": ANSWER_EVENT_TYPE, "event_payload": {"key": key}}.
    When a post times out, Slack may still have delivered it. So after the client's backoff the
    bot looks for a message with that key among the thread's recent replies (conversations.replies)
    or, outside a thread, the channel's recent messages (conversations.history), asking for
    metadata with include_all_metadata. Found: that is the answer, and it is returned as a
    chat.postMessage response (ok, channel, ts, message); nothing is posted again. Not found: it
    posts again. It posts at most 1 + TIMEOUT_RETRIES times, with a look-up after each time-out,
    the last one included (a post that times out every time may still have got through); then it
    raises the TimeoutError, for the caller to log. Other errors (Slack's, or a connection that
    failed after the client's retries) raise at once, as chat_postMessage's do.

    When the look-up itself fails (a scope missing, a channel the bot cannot read, Slack failing),
    the bot cannot tell whether the answer arrived. It posts once more, and only once more: one
    possible duplicate costs the asker a repeated message, while not posting could cost them their
    only answer, and a look-up that fails once (a missing scope) is likely to fail again. The
    warning logged says so. Between a look-up and the next post a slow first attempt could still
    land: the backoff before each look-up makes that unlikely, and no client can rule it out.

    The backoff and retry count are the client's TimeoutRetryHandler's (see `web_client`)."""
    retries, interval = _timeout_policy(client)
    metadata = {"event_type": ANSWER_EVENT_TYPE, "event_payload": {"key": key}}
    since = time.time() - LOOKBACK_SECONDS
    unverified = False  # posted again without knowing whether an earlier post arrived
    for attempt in range(1 + retries):
        try:
            return await client.chat_postMessage(channel=channel, thread_ts=thread_ts, metadata=metadata, **message)
        except TimeoutError as exc:
            timed_out = exc
        if unverified:
            break
        await asyncio.sleep(interval.calculate_sleep_duration(attempt))
        try:
            found = await _find_message(client, channel, thread_ts, key, since)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            unverified = True
            again = "posting it once more (it may show twice)" if attempt < retries else "giving up"
            logger.warning("message %s timed out and looking for it failed (%s): %s", key, slack_failure(exc), again)
            continue
        if found is not None:
            logger.info("message %s timed out but Slack had posted it: not posting it again", key)
            return _as_posted(client, channel, found)
        if attempt < retries:
            logger.warning("message %s timed out and is not in Slack: posting it again", key)
    raise timed_out


def _timeout_policy(client: AsyncWebClient) -> tuple[int, RetryIntervalCalculator]:
    for handler in client.retry_handlers:
        if isinstance(handler, TimeoutRetryHandler):
            return handler.max_retry_count, handler.interval_calculator
    return TIMEOUT_RETRIES, BACKOFF


async def _find_message(
    client: AsyncWebClient, channel: str, thread_ts: str | None, key: str, since: float
) -> dict[str, Any] | None:
    """The message with this key posted in the thread (or channel) since `since`, if Slack has it."""
    query: dict[str, Any] = {
        "channel": channel,
        "oldest": f"{since:.6f}",
        "limit": LOOKUP_LIMIT,
        "include_all_metadata": True,
    }
    if thread_ts:
        response = await client.conversations_replies(ts=thread_ts, **query)
    else:
        response = await client.conversations_history(**query)
    for message in response.get("messages") or []:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == ANSWER_EVENT_TYPE and (metadata.get("event_payload") or {}).get("key") == key:
            return dict(message)
    return None


def _as_posted(client: AsyncWebClient, channel: str, message: dict[str, Any]) -> AsyncSlackResponse:
    """A message found by a look-up, as chat.postMessage would have answered for it."""
    return AsyncSlackResponse(
        client=client,
        http_verb="POST",
        api_url=f"{client.base_url}chat.postMessage",
        req_args={},
        data={"ok": True, "channel": channel, "ts": message.get("ts"), "message": message},
        headers={},
        status_code=200,
    )
