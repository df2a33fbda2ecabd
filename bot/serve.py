"""Running the bot: Socket Mode, or HTTP for the Events API, until SIGTERM or Ctrl-C.

Start-up: check the settings for the chosen mode, build the index (off the event loop), open the
query log, check that Slack accepts the tokens, connect. Shutdown: stop taking new questions, let
the answers in flight finish, flush the log, close the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot import inbound
from bot.app import Listeners, create_app
from bot.config import Settings, SettingsError, require, shown_url
from bot.engine import Engine
from bot.inbound import EVENTS_PATH, MAX_BODY
from bot.privacy import retention_cutoff
from bot.querylog import QueryLog, QueryLogError
from bot.slack_client import web_client
from bot.watch import KnowledgeWatcher

logger = logging.getLogger("bot.serve")

HEALTH_PATH = "/healthz"
DRAIN_SECONDS = 10.0  # how long shutdown waits for answers in flight
# How long shutdown waits for HTTP requests being served: Bolt acknowledges within milliseconds and
# answers after, as listeners that DRAIN_SECONDS covers; a request still unanswered by then gets no
# 200, so Slack delivers it again.
REQUEST_SECONDS = 2.0
LATE_REQUEST_SECONDS = 0.2  # for requests on connections accepted just before the port closed
STOPPING = web.AppKey("stopping", asyncio.Event)  # an Event: a started app's own state is frozen
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PRUNE_EVERY = 24 * 3600.0  # seconds between deletions of query-log rows past LOG_RETENTION_DAYS
# Slack's answers when it does not accept a token: the setting is wrong, and retrying will not help.
TOKEN_ERRORS = frozenset(
    {"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}
)


@dataclass
class Running:
    """A started bot: what a test or the command line needs to reach it and stop it."""

    app: AsyncApp
    listeners: Listeners
    engine: Engine
    log: QueryLog
    url: str | None = None  # HTTP mode: the base URL it listens on


@contextlib.asynccontextmanager
async def running(settings: Settings, http: bool, host: str = "127.0.0.1", port: int = 3000) -> AsyncIterator[Running]:
    """The bot, connected and answering, for the duration of the `async with`; shut down gracefully after."""
    require(settings, http)
    engine = await Engine.start(settings.knowledge_dir, settings.min_relevance, settings.index_file)
    try:
        log = await QueryLog.open(settings.query_log_path, user_key=settings.user_key)
    except QueryLogError as exc:  # the message names QUERY_LOG_PATH
        raise SettingsError(str(exc)) from None
    client = web_client(settings)
    app, listeners = create_app(settings, engine, log, client, socket_mode=not http)
    runner: web.AppRunner | None = None
    handler: AsyncSocketModeHandler | None = None
    watcher = KnowledgeWatcher(engine, settings.watch_debounce_seconds) if settings.watch_knowledge else None
    pruning: asyncio.Task[None] | None = None
    try:
        if watcher is not None:
            watcher.start()  # it logs once the watch is in place
        if settings.log_retention_days is not None:
            await prune(log, settings.log_retention_days)  # before the first question is taken
            pruning = asyncio.create_task(prune_daily(log, settings.log_retention_days), name="querylog-retention")
        await check_tokens(client, settings, http)
        if http:
            assert settings.slack_signing_secret is not None  # require() checked
            secret = settings.slack_signing_secret.get_secret_value()
            runner = web.AppRunner(_web_app(app, engine, secret), access_log=None, shutdown_timeout=REQUEST_SECONDS)
            await runner.setup()
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound_host, bound_port = runner.addresses[0][:2]
            url = f"http://{bound_host}:{bound_port}"
            logger.info("listening on %s%s (health: %s%s)", url, EVENTS_PATH, url, HEALTH_PATH)
            yield Running(app, listeners, engine, log, url)
        else:
            assert settings.slack_app_token is not None  # require() checked
            handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value(), web_client=client)
            await handler.connect_async()  # type: ignore[no-untyped-call]
            logger.info("connected to Slack over Socket Mode")
            yield Running(app, listeners, engine, log)
    finally:
        if watcher is not None:
            await watcher.close()  # no reload may start while the bot shuts down
        # Stop taking new questions first, then let the ones in flight finish.
        if handler is not None:
            await handler.close_async()  # type: ignore[no-untyped-call]
        if runner is not None:
            await _stop_http(runner)
        if not await listeners.idle(DRAIN_SECONDS):
            logger.warning("%d answers still running after %.0f s of shutdown", listeners.in_flight, DRAIN_SECONDS)
        if pruning is not None:
            pruning.cancel()
            await asyncio.wait([pruning])
        await log.close()
        logger.info("stopped; query log flushed and closed")


async def prune(log: QueryLog, days: int) -> None:
    """Delete the log's rows older than `days` days; a failure is logged, and retried at the next prune."""
    try:
        await log.prune(retention_cutoff(dt.datetime.now(dt.UTC), days))
    except QueryLogError as exc:
        logger.error("retention: %s; will try again in %.0f hours", exc, PRUNE_EVERY / 3600)


async def prune_daily(log: QueryLog, days: int, every: float = PRUNE_EVERY) -> None:
    while True:
        await asyncio.sleep(every)
        await prune(log, days)


async def check_tokens(client: AsyncWebClient, settings: Settings, http: bool) -> None:
    """Stop start-up, naming the setting and the fix, when Slack refuses a token or cannot be reached.

    Without this a refused app token only shows as Socket Mode reconnecting forever, and a refused
    bot token as questions that are never answered. The messages never include a token."""
    checks: list[tuple[str, str, Callable[[], Awaitable[Any]]]] = [
        ("SLACK_BOT_TOKEN", "the Bot User OAuth Token (xoxb-...) from your Slack app's OAuth page", client.auth_test)
    ]
    if not http and settings.slack_app_token is not None:
        token = settings.slack_app_token.get_secret_value()
        checks.append(
            (
                "SLACK_APP_TOKEN",
                "an app-level token (xapp-...) with connections:write, from Basic Information > App-Level Tokens",
                functools.partial(client.apps_connections_open, app_token=token),
            )
        )
    for name, fix, call in checks:
        try:
            await call()
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in TOKEN_ERRORS:
                raise SettingsError(f"{name} was refused by Slack ({error}): set it to {fix}") from None
            logger.warning("could not check %s with Slack (%s); starting anyway", name, error)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise SettingsError(
                f"cannot reach Slack at {shown_url(settings.slack_api_url)} ({type(exc).__name__}): "
                "check SLACK_API_URL and the network"
            ) from None


async def _stop_http(runner: web.AppRunner) -> None:
    """Close the port, refuse what still arrives, and let the requests being served finish.

    A request that arrives from now on gets 503, so Slack delivers it again later rather than
    waiting on a bot that is going away. Connections accepted just before the port closed get a
    moment to send their request first: aiohttp's own shutdown would ignore them and leave their
    senders waiting for REQUEST_SECONDS."""
    runner.app[STOPPING].set()
    for site in list(runner.sites):
        await site.stop()
    await asyncio.sleep(LATE_REQUEST_SECONDS)
    await runner.cleanup()  # requests being served complete; the listeners they started go on


def _web_app(app: AsyncApp, engine: Engine, signing_secret: str) -> web.Application:
    @web.middleware
    async def refuse_when_stopping(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.app[STOPPING].is_set():
            return web.json_response({"ok": False, "error": "shutting down"}, status=503, headers={"Retry-After": "60"})
        return await handler(request)

    web_app = web.Application(client_max_size=MAX_BODY, middlewares=[refuse_when_stopping])
    web_app[STOPPING] = asyncio.Event()
    verifier = SignatureVerifier(signing_secret)

    async def handle(request: web.Request) -> web.StreamResponse:
        """A request from Slack: checked (see `_checked`), then handed to Bolt."""
        checked = await inbound.checked(request, verifier)
        if isinstance(checked, web.Response):
            return checked
        return await to_aiohttp_response(await app.async_dispatch(checked))

    async def health(_: web.Request) -> web.Response:
        index = engine.index
        return web.json_response(
            {
                "ok": True,
                "index_version": index.version,
                "articles": len(index.articles),
                "passages": len(index.passages),
            }
        )

    web_app.add_routes([web.post(EVENTS_PATH, handle), web.get(HEALTH_PATH, health)])
    return web_app


async def serve(settings: Settings, http: bool, host: str, port: int) -> None:
    """Run until SIGTERM or SIGINT (Ctrl-C).

    A signal during start-up cancels it: Socket Mode retries a connection that Slack refuses for as
    long as it takes, and the handlers below would otherwise swallow the signal meanwhile."""
    stop = asyncio.Event()
    started = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def run() -> None:
        async with running(settings, http, host, port):
            started.set()
            await stop.wait()
            logger.info("shutting down: finishing the answers in flight")

    bot = asyncio.create_task(run())
    signalled = asyncio.create_task(stop.wait())
    await asyncio.wait({bot, signalled}, return_when=asyncio.FIRST_COMPLETED)
    signalled.cancel()
    if not bot.done() and not started.is_set():
        logger.info("stopping before start-up finished")
        bot.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await bot
