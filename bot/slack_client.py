"""The bot's Slack Web API client: pointed at SLACK_API_URL, retrying rate limits and outages.

slack_sdk's async client retries only connection errors by default. Ours also waits out HTTP
429 (for as long as `Retry-After` says) and retries 500/503 with exponential backoff.

slack_sdk counts retries per request, across all handlers: a handler retries only while the
request's retries so far, of any kind, are below its own limit. So a request is tried at most
1 + RATE_LIMIT_RETRIES times in all, and a 5xx that follows two 429s is not retried.

Socket Mode needs nothing more: Bolt's AsyncSocketModeHandler opens its connection through the
app's client (`AsyncApp(client=web_client(settings))`), so it uses the same URL and retries.
"""

from __future__ import annotations

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings, SettingsError

TIMEOUT = 10
"""Seconds for one attempt. Slack answers in well under a second; a slow call is not retried."""

RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 2
CONNECTION_ERROR_RETRIES = 1

BACKOFF = BackoffRetryIntervalCalculator(backoff_factor=0.5)
"""Waits before 5xx and connection retries: 0.5 s, 1 s, ... each plus up to 1 s of random jitter."""


def retry_handlers(interval: RetryIntervalCalculator = BACKOFF) -> list[AsyncRetryHandler]:
    """Retries for HTTP 429 (waiting Retry-After), HTTP 500/503 and dropped connections."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        AsyncServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES, interval_calculator=interval),
        AsyncConnectionErrorRetryHandler(max_retry_count=CONNECTION_ERROR_RETRIES, interval_calculator=interval),
    ]


def web_client(
    settings: Settings, *, timeout: int = TIMEOUT, retry_interval: RetryIntervalCalculator = BACKOFF
) -> AsyncWebClient:
    """The bot token's client for settings.slack_api_url. `retry_interval` lets a test retry without waiting."""
    if settings.slack_bot_token is None:
        raise SettingsError(
            "SLACK_BOT_TOKEN is empty: set it to the bot token (xoxb-...) from your Slack app's OAuth page"
        )
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=timeout,
        retry_handlers=retry_handlers(retry_interval),
    )
