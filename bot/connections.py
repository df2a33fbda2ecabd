"""The HTTP port's connections: a time limit on idle ones, and a cap the open-file limit can afford.

aiohttp on its own waits for a request's headers as long as its keep-alive time-out (an hour), and
accepts connections until the process runs out of file descriptors; after that Slack's next
connection waits unaccepted in the kernel's queue, and the bot cannot open a file or reach Slack
either. So a few hundred connections that never finish their headers (a "slowloris") would stop
the bot, with no signature needed. `Guard` wraps aiohttp's protocol factory:

- a connection that is not serving a request is closed HEAD_SECONDS after it opened or after its
  last answer: a request's headers must have arrived by then (its body has inbound.BODY_SECONDS);
- at most `limit` connections are open: one more closes the one idle longest, or, when every one
  is serving a request, is closed itself. Slack sends a request's headers at once, so its
  connections are never the ones idle longest.

What it closes is logged through Tallies (bot/tally.py): one line, then a count per minute; closing
at the cap as a warning. A kept-alive connection closed after its requests is not logged.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.tally import Tally

logger = logging.getLogger("bot.connections")

HEAD_SECONDS = 5.0  # Slack sends its headers at once; a client still sending them after this is not Slack
# Connections the kernel queues for the bot to accept. asyncio also accepts up to this many at each
# wake-up, before the guard sees any of them, and a connection the guard closes frees its file only
# on a later turn of the loop: up to ACCEPT_BATCHES such batches hold files beyond the cap.
BACKLOG = 32
ACCEPT_BATCHES = 4
# Files the bot needs besides its HTTP connections: SQLite (the log, its journal and shared memory, on
# two connections), the index, an article being read, its connections to Slack, the event loop's own.
RESERVED_FILES = 64
MIN_CONNECTIONS = 16  # even under a tiny open-file limit, or the bot could serve nobody
MAX_CONNECTIONS = 1000  # Slack needs a handful; more than this is somebody else

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_LoopHandler = Callable[[asyncio.AbstractEventLoop, dict[str, object]], object]
_OUT_OF_FILES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}  # asyncio's "system resource" errors


def connection_limit(open_files: int | None = None) -> int:
    """How many connections the port may hold open: the open-file limit (the process's soft RLIMIT_NOFILE
    unless given) less the files the bot needs besides, within [MIN_CONNECTIONS, MAX_CONNECTIONS]."""
    if open_files is None:
        open_files, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if open_files == resource.RLIM_INFINITY:
            return MAX_CONNECTIONS
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, open_files - RESERVED_FILES - ACCEPT_BATCHES * BACKLOG))


class _Connection(asyncio.Protocol):
    """One connection: aiohttp's handler for it, with the guard told when it opens, serves and closes."""

    def __init__(self, guard: Guard, inner: web.RequestHandler) -> None:
        self._guard = guard
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.idle_since: float | None = None  # time.monotonic(); None while serving a request
        self.refused = False  # closed on arrival: aiohttp never sees it
        self.served = False  # has served a request: idle now, it is a kept-alive connection
        self.heard = False  # bytes arrived since it was last idle: a request was begun
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self._guard._admit(self):
            self.inner.connection_made(transport)
            self.idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        self.transport = None
        if not self.refused:
            self._guard._gone(self)
            self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.heard = True
        if not self.refused:
            self.inner.data_received(data)

    def eof_received(self) -> None:
        if not self.refused:
            self.inner.eof_received()  # aiohttp's returns None: the transport closes

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def busy(self) -> None:
        self.idle_since = None
        self.served = True
        self._stop_timer()

    def idle(self) -> None:
        if self.transport is None:
            return
        self.idle_since = time.monotonic()
        self.heard = False
        self._stop_timer()
        self._timer = asyncio.get_running_loop().call_later(self._guard.head_seconds, self._expire)

    def close(self) -> None:
        """Close at once: nothing is owed to a connection that is not serving a request."""
        self.idle_since = None
        self._stop_timer()
        if self.transport is not None:
            self.transport.abort()

    def _expire(self) -> None:
        self._timer = None
        if self.idle_since is not None:
            self._guard._expired(self)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class Guard:
    """Add `middleware` to the app, so the guard knows which connections are serving a request, and
    serve `protocols(runner.server)` with `loop.create_server`."""

    def __init__(self, limit: int, head_seconds: float = HEAD_SECONDS) -> None:
        self.limit = limit
        self.head_seconds = head_seconds
        self._open: dict[_Connection, None] = {}  # a dict for its order: oldest first
        self._by_handler: dict[web.RequestHandler, _Connection] = {}
        # Connections closed because the cap was reached: the operator should know (a proxy would help).
        self._crowded = Tally(logger, "closed {count} more HTTP connections at the cap", level=logging.WARNING)
        self._stalled = Tally(logger, "closed {count} more HTTP connections that sent no request in time")
        self._starved = Tally(logger, "could not accept {count} more times: no open file left", level=logging.WARNING)

        @web.middleware
        async def serving(request: web.Request, handler: _Handler) -> web.StreamResponse:
            connection = self._by_handler.get(request.protocol)
            if connection is None:
                return await handler(request)
            connection.busy()
            try:
                return await handler(request)
            finally:
                connection.idle()

        self.middleware = serving

    def protocols(self, server: web.Server) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for `loop.create_server`: aiohttp's (`runner.server`), guarded."""
        return lambda: _Connection(self, server())

    def close(self) -> None:
        """Stop the timers and say what is still counted; aiohttp closes the connections themselves."""
        for connection in self._open:
            connection.busy()
        self._crowded.close()
        self._stalled.close()
        self._starved.close()

    def loop_errors(self, previous: _LoopHandler | None) -> _LoopHandler:
        """An exception handler for the event loop: asyncio's "out of system resource" when accepting (the
        process has no file left) becomes a counted warning, without a traceback; asyncio itself stops
        accepting for a second and then goes on. Anything else goes to `previous` (or the default)."""

        def handle(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
            error = context.get("exception")
            if isinstance(error, OSError) and error.errno in _OUT_OF_FILES and "accept" in str(context.get("message")):
                self._starved.add(
                    errno.errorcode.get(error.errno or 0, "out of files"),
                    "the bot has no open file left to accept an HTTP connection (%s): it accepts again in a "
                    "second; raise its open-file limit (ulimit -n, or LimitNOFILE= under systemd)",
                    error.strerror,
                )
            elif previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)

        return handle

    def _admit(self, new: _Connection) -> bool:
        if len(self._open) >= self.limit:
            idle = [connection for connection in self._open if connection.idle_since is not None]
            if not idle:
                new.refused = True
                assert new.transport is not None
                new.transport.abort()
                self._crowded.add(
                    "refused: every connection busy",
                    "refused an HTTP connection: all %d connections allowed are serving requests",
                    self.limit,
                )
                return False
            oldest = min(idle, key=lambda connection: connection.idle_since or 0.0)
            self._gone(oldest)  # counted out now: its file is freed as soon as the loop gets to it
            oldest.close()
            self._crowded.add(
                "idle, to make room",
                "closed an idle HTTP connection to make room: %d connections are open, the most allowed "
                "(see deploy/README.md for a proxy in front)",
                self.limit,
            )
        self._open[new] = None
        self._by_handler[new.inner] = new
        return True

    def _gone(self, connection: _Connection) -> None:
        self._open.pop(connection, None)
        self._by_handler.pop(connection.inner, None)

    def _expired(self, connection: _Connection) -> None:
        connection.close()
        if connection.served and not connection.heard:
            return  # a kept-alive connection that asked nothing more: the client expects this
        self._stalled.add(
            f"no request within {self.head_seconds:.0f} s",
            "closed an HTTP connection that sent no complete request within %.0f s",
            self.head_seconds,
        )
