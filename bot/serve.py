"""Running the bot: Socket Mode, or HTTP for the Events API, until SIGTERM or Ctrl-C.

Start-up: check the settings for the chosen mode, build the index (off the event loop), open the
query log, check that Slack accepts the tokens, connect. Shutdown: stop taking new questions, let
the answers in flight finish (posts still waiting out a rate limit after DRAIN_SECONDS give up, and
their rows say so), flush the log, close the database.

HTTP mode serves aiohttp's handler through bot/connections.py's Guard (idle connections closed,
their number capped), and answers GET /healthz (liveness) and GET /readyz (readiness).
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

from bot import english, inbound
from bot.app import Listeners, create_app
from bot.config import Settings, SettingsError, require, shown_url
from bot.connections import BACKLOG, Guard, connection_limit
from bot.engine import Engine
from bot.inbound import EVENTS_PATH, MAX_BODY
from bot.privacy import retention_cutoff
from bot.querylog import QueryLog, QueryLogError
from bot.slack_client import web_client
from bot.tally import Tally
from bot.watch import KnowledgeWatcher

logger = logging.getLogger("bot.serve")

HEALTH_PATH = "/healthz"  # liveness: 200 while the process serves HTTP
READY_PATH = "/readyz"  # readiness: 200 when nothing is degraded, else 503; the same body as /healthz
DRAIN_SECONDS = 10.0  # how long shutdown waits for answers in flight
GIVE_UP_SECONDS = 1.0  # then, how long it waits for the posts told to give up to record that they did
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
    engine = await Engine.start(
        settings.knowledge_dir, settings.min_relevance, settings.index_file, max_bytes=settings.max_file_bytes
    )
    await asyncio.to_thread(english.words)  # read now (0.3 s), not while the first misspelt question waits
    try:
        log = await QueryLog.open(settings.query_log_path, user_key=settings.user_key)
    except QueryLogError as exc:  # the message names QUERY_LOG_PATH
        raise SettingsError(str(exc)) from None
    client = web_client(settings)
    app, listeners = create_app(settings, engine, log, client, socket_mode=not http)
    runner: web.AppRunner | None = None
    listener: asyncio.Server | None = None
    guard: Guard | None = None
    refused = inbound.refusals()
    # aiohttp logs each request too malformed to parse with a traceback: count those with the other refusals.
    client_errors = inbound.ClientErrors(refused)
    http_log = logging.getLogger("bot.http")
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
            http_log.addFilter(client_errors)
            guard = Guard(connection_limit())
            web_app = _web_app(app, engine, log, secret, refused, guard)
            runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=REQUEST_SECONDS, logger=http_log)
            await runner.setup()
            assert runner.server is not None
            # Not a web.TCPSite: it would serve aiohttp's protocol factory unguarded.
            protocols = guard.protocols(runner.server)
            loop = asyncio.get_running_loop()
            loop.set_exception_handler(guard.loop_errors(loop.get_exception_handler()))
            listener = await loop.create_server(protocols, host, port, backlog=BACKLOG)
            bound_host, bound_port = listener.sockets[0].getsockname()[:2]
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
            await _stop_http(runner, listener)
        if guard is not None:
            guard.close()
        refused.close()
        http_log.removeFilter(client_errors)
        if not await listeners.idle(DRAIN_SECONDS):
            logger.warning("%d answers still running after %.0f s of shutdown", listeners.in_flight, DRAIN_SECONDS)
            # Posts still waiting for their turn in a busy channel, or out a rate limit, give up now, so
            # their questions' rows say they were not delivered before the log closes.
            client.stop_waiting()
            await listeners.idle(GIVE_UP_SECONDS)
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


async def _stop_http(runner: web.AppRunner, listener: asyncio.Server | None) -> None:
    """Close the port, refuse what still arrives, and let the requests being served finish.

    A request that arrives from now on gets 503, so Slack delivers it again later rather than
    waiting on a bot that is going away. Connections accepted just before the port closed get a
    moment to send their request first: aiohttp's own shutdown would ignore them and leave their
    senders waiting for REQUEST_SECONDS."""
    runner.app[STOPPING].set()
    if listener is not None:
        listener.close()
    await asyncio.sleep(LATE_REQUEST_SECONDS)
    await runner.cleanup()  # requests being served complete; the listeners they started go on


def _web_app(
    app: AsyncApp, engine: Engine, log: QueryLog, signing_secret: str, refused: Tally, guard: Guard
) -> web.Application:
    @web.middleware
    async def refuse_when_stopping(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.app[STOPPING].is_set():
            return web.json_response({"ok": False, "error": "shutting down"}, status=503, headers={"Retry-After": "60"})
        return await handler(request)

    web_app = web.Application(client_max_size=MAX_BODY, middlewares=[guard.middleware, refuse_when_stopping])
    web_app[STOPPING] = asyncio.Event()
    verifier = SignatureVerifier(signing_secret)

    async def handle(request: web.Request) -> web.StreamResponse:
        """A request from Slack: checked (see `_checked`), then handed to Bolt."""
        checked = await inbound.checked(request, verifier, refused)
        if isinstance(checked, web.Response):
            return checked
        return await to_aiohttp_response(await app.async_dispatch(checked))

    def state() -> dict[str, Any]:
        """What /healthz and /readyz say: "degraded" while the query log cannot be written (answers go on)."""
        index, querylog = engine.index, log.health
        return {
            "ok": True,
            "status": "ok" if querylog.writable else "degraded",
            "index_version": index.version,
            "articles": len(index.articles),
            "passages": len(index.passages),
            "query_log": querylog._asdict(),
        }

    async def health(_: web.Request) -> web.Response:
        return web.json_response(state())

    async def ready(_: web.Request) -> web.Response:
        body = state()
        return web.json_response(body, status=200 if body["status"] == "ok" else 503)

    web_app.add_routes([web.post(EVENTS_PATH, handle), web.get(HEALTH_PATH, health), web.get(READY_PATH, ready)])
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
