"""A fake Slack for end-to-end tests: the only fake part is Slack's own servers.

`FakeSlack` is a real aiohttp server on 127.0.0.1 (ephemeral port). The real slack_sdk and
slack_bolt clients talk to it over real HTTP and websockets, as they talk to Slack:

* the Web API under `/api/<method>`: point a client at it with `base_url=fake.api_url`;
* `response_url` endpoints, for slash commands and buttons: `fake.response_url()`;
* Socket Mode: `apps.connections.open` hands out the fake's own `ws://` URL, which says hello
  and then carries the envelopes a test pushes with `socket_send`.

It records every request (`calls`, `wait_for`) and can answer with faults: 429 with
Retry-After (once, or whenever a channel gets more posts a second than Slack allows:
`limit_posts_per_channel`), 5xx, Slack errors, slow answers, and the two sides of a time-out: a call carried out
but answered too late (`answer_late_next`), and a call lost without being carried out
(`lose_next`). It keeps the messages chat.postMessage accepted, per channel (`channel_messages`),
and reads them back with `conversations.history` and `conversations.replies`. The functions
after the class build the payloads Slack sends to an app (the shapes Slack documents for events,
commands and buttons), and `signed_request` posts them to the app's own HTTP endpoint, signed as
Slack signs them.

How slack_sdk 3.47 sends its calls, so how the fake reads them: `chat.*` as a JSON body;
`auth.test` and `apps.connections.open` as a POST with the parameters in the query string and
no body; `users.info` and `conversations.*` as a GET with a query string (booleans as "1"/"0");
the token always as `Authorization: Bearer`. Bolt's `respond()` posts JSON to the response_url.
The fake merges query, JSON and form.

    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        await client.chat_postMessage(channel=CHANNEL_ID, text="hi")
        [call] = slack.calls("chat.postMessage")
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import itertools
import json
import math
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web
from slack_sdk.signature import SignatureVerifier

JsonDict = dict[str, Any]
Reply = JsonDict | Callable[[JsonDict], JsonDict]
"""How the fake answers a Web API method: a fixed JSON body, or a function of the call's parameters."""

BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"
SIGNING_SECRET = "fake-signing-secret"
TEAM_ID = "T1"
APP_ID = "A1"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
USER_ID = "U222"
CHANNEL_ID = "C111"
DM_CHANNEL_ID = "D111"
GROUP_DM_CHANNEL_ID = "G222"  # a group DM (mpim): ids like a private channel's (Slack's examples start with G)

RESPONSE_URL = "response_url"
"""The `method` under which posts to a `fake.response_url()` are recorded."""
DOWNLOAD = "file download"
"""The `method` under which downloads of a file's `url_private_download` are recorded."""

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

_DEFAULT_ERRORS = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}
_ids = itertools.count(1)


def new_ts() -> str:
    """A message timestamp like Slack's ("1610241741.000200"), unique and increasing within a test run."""
    return f"{int(time.time())}.{next(_ids):06d}"


def new_event_id() -> str:
    """A unique Events API event_id."""
    return f"Ev{next(_ids):08d}"


@dataclass(frozen=True)
class Call:
    """One request the fake received, and how it answered."""

    method: str  # the Web API method, or RESPONSE_URL
    params: JsonDict  # query string, form fields and JSON body merged, as received; without the token
    token: str | None  # from `Authorization: Bearer ...`, or a `token` parameter
    path: str  # e.g. "/api/chat.postMessage"
    content_type: str  # of the request body; "" when there was none
    status: int  # HTTP status of the answer
    response: JsonDict  # JSON body of the answer
    at: float  # time.monotonic() when the request arrived

    @property
    def ok(self) -> bool:
        """Whether Slack accepted the call: HTTP 200 and `"ok": true`."""
        return self.status == 200 and self.response.get("ok") is True


@dataclass(frozen=True)
class Fault:
    """How to answer one call instead of normally: an error status or Slack error, or a delay first."""

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    hold: float = 0.0  # carry the call out at once, then wait this long before answering


@dataclass(frozen=True)
class HttpReply:
    """What the app's own HTTP endpoint answered to `signed_request`."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(repr=False)

    @property
    def text(self) -> str:
        """The body as text (Bolt answers a slash command's `ack(text)` as plain text)."""
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


class FakeSlack:
    """Slack's servers, on a local port: Web API, response URLs and Socket Mode. Use `async with`.

    Web API methods that are not modelled answer `{"ok": false, "error": "unknown_method"}` (as
    Slack does for a method that does not exist) and are recorded: a test never passes because
    the fake said yes to a call it does not understand. Model one with `answer()`.

    Tokens are checked: the bot token for every method except `apps.connections.open`, which
    needs the app-level token. A missing token gets `not_authed`, the other kind of token
    `not_allowed_token_type`, any other `invalid_auth` (HTTP 200, as Slack answers).

    Close Socket Mode clients before the fake (a client fixture that depends on the fake's
    fixture is torn down first): a client that sees the fake go away tries to reconnect.
    """

    def __init__(self, *, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.users: dict[str, JsonDict] = {}
        self.socket_messages: list[JsonDict] = []  # every message sent on a socket: hello, envelopes, disconnect
        self.acks: list[JsonDict] = []  # every message received on a socket (clients send only acks)
        self.connections = 0  # Socket Mode connections opened so far
        self._calls: list[Call] = []
        self._handlers: dict[str, Callable[[JsonDict], JsonDict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "users.info": self._users_info,
            "apps.connections.open": self._apps_connections_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "files.info": self._files_info,
        }
        self.files: dict[str, tuple[JsonDict, bytes]] = {}  # file id -> (files.info's file object, content)
        self._channel_messages: defaultdict[str, list[JsonDict]] = defaultdict(list)
        self._faults: defaultdict[str, deque[Fault]] = defaultdict(deque)
        self._posts_per_second: int | None = None
        self._posted_at: defaultdict[str, deque[float]] = defaultdict(deque)  # accepted posts, per channel
        self._response_urls = itertools.count(1)
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._pending_acks: dict[str, asyncio.Future[JsonDict]] = {}
        self._changed = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1, on a port the system picks."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._web_api)
        app.router.add_post("/responses/{number}", self._response_url)
        app.router.add_get("/link/", self._socket)
        app.router.add_get("/files-pri/{key}/download/{name}", self._download)
        # A short shutdown_timeout: a test that ends mid-request must not wait a minute for it.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Close the sockets, end delayed answers early and stop the server."""
        self._closing.set()
        for future in self._pending_acks.values():
            future.cancel()
        for socket in list(self._sockets):
            await socket.close(code=WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The server's root, e.g. http://127.0.0.1:54321 (no trailing slash)."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL, with the trailing slash slack_sdk needs."""
        return f"{self.url}/api/"

    def response_url(self) -> str:
        """A fresh response_url for a slash command or button payload; posts to it are recorded."""
        return f"{self.url}/responses/{next(self._response_urls)}"

    # -- configuration ---------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str = "alice",
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_bot: bool = False,
    ) -> None:
        """A workspace member for `users.info` to return; unknown ids get `user_not_found`."""
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": name.title(),
            "deleted": False,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": is_primary_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "profile": {"real_name": name.title(), "display_name": name},
        }

    def add_file(self, name: str, content: bytes, *, user: str = USER_ID, size: int | None = None) -> JsonDict:
        """A file uploaded to Slack, for files.info and its download; `size` makes files.info say another
        size than the content's. Returns the file object, as a file_share event and files.info carry it."""
        file_id = f"F{next(_ids):08d}"
        file: JsonDict = {
            "id": file_id,
            "created": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": "application/octet-stream",
            "filetype": name.rpartition(".")[2],
            "user": user,
            "size": len(content) if size is None else size,
            "mode": "hosted",
            "is_external": False,
            "url_private": f"{self.url}/files-pri/{TEAM_ID}-{file_id}/{name}",
            "url_private_download": f"{self.url}/files-pri/{TEAM_ID}-{file_id}/download/{name}",
        }
        self.files[file_id] = (file, content)
        return copy.deepcopy(file)

    def answer(self, method: str, reply: Reply) -> None:
        """Answer `method` with `reply` (a JSON body, or a function of the call's params) after the token check."""
        if callable(reply):
            self._handlers[method] = reply
        else:
            self._handlers[method] = lambda _params: copy.deepcopy(reply)

    def fail_next(
        self,
        method: str,
        status: int = 500,
        *,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls to `method` with this HTTP status and `{"ok": false, "error": ...}`.

        With status 200 this is a Slack-level error, e.g. `fail_next("chat.postMessage", 200,
        error="channel_not_found")`. A 429 gets `Retry-After` when `retry_after` is given."""
        error = error or _DEFAULT_ERRORS.get(status)
        if error is None:
            raise ValueError(f"fail_next({method!r}, {status}) needs error=...: there is no default for {status}")
        self._faults[method].extend([Fault(status=status, error=error, retry_after=retry_after)] * times)

    def rate_limit_next(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls to `method` with HTTP 429, `Retry-After: retry_after`, as Slack does."""
        self.fail_next(method, 429, retry_after=retry_after, times=times)

    def limit_posts_per_channel(self, per_second: int) -> None:
        """Accept at most `per_second` chat.postMessage calls into one channel in any second, as Slack
        limits them; one over gets HTTP 429 `ratelimited` with `Retry-After` (whole seconds, at least 1)."""
        self._posts_per_second = per_second

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Answer the next `times` calls to `method` normally, but only after `seconds` (to make a client time out)."""
        self._faults[method].extend([Fault(delay=seconds)] * times)

    # -- inspection ------------------------------------------------------------------------

    def calls(self, method: str | None = None, *, ok: bool | None = None) -> list[Call]:
        """Recorded calls, oldest first: all, or to one method; `ok=True` only accepted ones, `ok=False` only failed."""
        return [
            call for call in self._calls if (method is None or call.method == method) and (ok is None or call.ok == ok)
        ]

    async def wait_for(
        self, method: str, count: int = 1, *, ok: bool | None = None, timeout: float = 5.0
    ) -> list[Call]:
        """Wait until `calls(method, ok=ok)` holds at least `count` calls, and return them."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(self.calls(method, ok=ok)) >= count)
        except TimeoutError:
            seen = [f"{call.method} ({call.status}, ok={call.ok})" for call in self._calls]
            raise TimeoutError(
                f"waited {timeout}s for {count} call(s) to {method} (ok={ok}); the fake received: {seen or 'nothing'}"
            ) from None
        return self.calls(method, ok=ok)

    async def _record(self, call: Call) -> None:
        self._calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    # -- Socket Mode -----------------------------------------------------------------------

    async def wait_connected(self, count: int = 1, *, timeout: float = 5.0) -> None:
        """Wait until `count` Socket Mode connections have been opened in all and one is open now."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self.connections >= count and bool(self._sockets))
        except TimeoutError:
            raise TimeoutError(
                f"waited {timeout}s for Socket Mode connection number {count}; {self.connections} opened"
            ) from None

    async def socket_send(
        self,
        envelope_type: str,
        payload: JsonDict,
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool | None = None,
        envelope_id: str | None = None,
        timeout: float = 5.0,
    ) -> JsonDict:
        """Push an envelope to the newest connection and return the client's ack, e.g. `{"envelope_id": ...}`.

        `envelope_type` is "events_api" (payload: an event_callback body), "slash_commands" (the
        command's form fields) or "interactive" (the interactive payload). Only events_api
        envelopes carry `retry_attempt` / `retry_reason`, as on Slack. Raises TimeoutError when
        no ack comes in time (Bolt sends none when a listener fails to ack)."""
        socket = self._current_socket()
        envelope_id = envelope_id or str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = envelope_type != "events_api"
        envelope: JsonDict = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if envelope_type == "events_api":
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        ack: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = ack
        try:
            await self._send(socket, envelope)
            async with asyncio.timeout(timeout):
                return await ack
        except TimeoutError:
            raise TimeoutError(f"no ack within {timeout}s for {envelope_type} envelope {envelope_id}") from None
        finally:
            self._pending_acks.pop(envelope_id, None)

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Tell the newest connection to go away, as Slack does every few hours; the SDK reconnects."""
        await self._send(
            self._current_socket(), {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
        )

    def _current_socket(self) -> web.WebSocketResponse:
        if not self._sockets:
            raise RuntimeError("no Socket Mode connection is open: await fake.wait_connected() first")
        return self._sockets[-1]

    async def _send(self, socket: web.WebSocketResponse, message: JsonDict) -> None:
        self.socket_messages.append(message)
        await socket.send_json(message)

    # -- HTTP handlers ---------------------------------------------------------------------

    async def _web_api(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"]
        params = await _read_params(request)
        token = _bearer_token(request) or params.pop("token", None)
        status, body, headers = await self._answer(method, params, token)
        await self._record(_call(request, method, params, token, status, body, arrived))
        return web.json_response(body, status=status, headers=headers)

    async def _response_url(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        params = await _read_params(request)
        status, body, headers = await self._answer(RESPONSE_URL, params, None)
        await self._record(_call(request, RESPONSE_URL, params, None, status, body, arrived))
        return web.json_response(body, status=status, headers=headers)

    async def _answer(self, method: str, params: JsonDict, token: str | None) -> tuple[int, JsonDict, dict[str, str]]:
        faults = self._faults[method]
        fault = faults.popleft() if faults else Fault()
        if fault.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.delay)
        if fault.error is not None:
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return fault.status, {"ok": False, "error": fault.error}, headers
        if method == RESPONSE_URL:
            return 200, {"ok": True}, {}
        auth_error = self._token_error(method, token)
        if auth_error is not None:
            return 200, {"ok": False, "error": auth_error}, {}
        wait = self._over_channel_limit(method, params)
        if wait is not None:
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
        handler = self._handlers.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        body = handler(params)
        self._keep_message(method, params, body)
        if fault.hold:
            await self._hold(fault.hold)
        return 200, body, {}

    def _over_channel_limit(self, method: str, params: JsonDict) -> int | None:
        """Seconds to Retry-After when this post is one too many for its channel; None to accept it (and count it)."""
        if method != "chat.postMessage" or self._posts_per_second is None:
            return None
        now = time.monotonic()
        posted = self._posted_at[str(params.get("channel"))]
        while posted and posted[0] <= now - 1.0:
            posted.popleft()
        if len(posted) >= self._posts_per_second:
            return max(1, math.ceil(posted[0] + 1.0 - now))
        posted.append(now)
        return None

    def _token_error(self, method: str, token: str | None) -> str | None:
        wanted, other = (
            (self.app_token, self.bot_token) if method == "apps.connections.open" else (self.bot_token, self.app_token)
        )
        if not token:
            return "not_authed"
        if token == other:
            return "not_allowed_token_type"
        return None if token == wanted else "invalid_auth"

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        if request.query.get("ticket") not in self._tickets:
            raise web.HTTPUnauthorized(text="unknown ticket: get this URL from apps.connections.open")
        socket = web.WebSocketResponse()  # autoping answers the SDK's pings
        await socket.prepare(request)
        self._sockets.append(socket)
        self.connections += 1
        try:
            await self._send(
                socket,
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "debug_info": {"host": "fake", "build_number": 1, "approximate_connection_time": 3600},
                    "connection_info": {"app_id": APP_ID},
                },
            )
            async with self._changed:
                self._changed.notify_all()
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._receive_ack(json.loads(message.data))
        finally:
            self._sockets.remove(socket)
        return socket

    def _receive_ack(self, ack: JsonDict) -> None:
        self.acks.append(ack)
        future = self._pending_acks.get(str(ack.get("envelope_id")))
        if future is not None and not future.done():
            future.set_result(ack)

    # -- Web API methods -------------------------------------------------------------------

    def _auth_test(self, params: JsonDict) -> JsonDict:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake Team",
            "user": "policybot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: JsonDict) -> JsonDict:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not any(params.get(key) for key in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        ts = new_ts()
        return {"ok": True, "channel": params["channel"], "ts": ts, "message": _message(params, ts)}

    def _chat_post_ephemeral(self, params: JsonDict) -> JsonDict:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": new_ts()}

    def _chat_update(self, params: JsonDict) -> JsonDict:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        ts = params["ts"]
        return {
            "ok": True,
            "channel": params["channel"],
            "ts": ts,
            "text": params.get("text", ""),
            "message": _message(params, ts),
        }

    def _users_info(self, params: JsonDict) -> JsonDict:
        user = self.users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": copy.deepcopy(user)}

    def _files_info(self, params: JsonDict) -> JsonDict:
        found = self.files.get(str(params.get("file")))
        if found is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": copy.deepcopy(found[0])}

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """A file's content, to a request with the bot token in its Authorization header, as Slack
        serves url_private_download; without it Slack answers with a sign-in page, here a 403."""
        arrived = time.monotonic()
        token = _bearer_token(request)
        file_id = request.match_info["key"].rpartition("-")[2]
        found = self.files.get(file_id)
        faults = self._faults[DOWNLOAD]
        fault = faults.popleft() if faults else Fault()
        if token != self.bot_token or found is None or fault.status != 200:
            status = fault.status if fault.status != 200 else 403 if token != self.bot_token else 404
            await self._record(_call(request, DOWNLOAD, {"file": file_id}, token, status, {}, arrived))
            return web.Response(status=status, text="not for you")
        await self._record(_call(request, DOWNLOAD, {"file": file_id}, token, 200, {}, arrived))
        return web.Response(body=found[1], content_type="application/octet-stream")

    def _apps_connections_open(self, params: JsonDict) -> JsonDict:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self._port}/link/?ticket={ticket}&app_id={APP_ID}"}

    # -- time-outs, and the messages Slack keeps (conversations.history / .replies) ----------

    def answer_late_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Carry out the next `times` calls to `method` at once (a chat.postMessage is delivered,
        and shows in conversations.history), but answer only after `seconds`: a client that times
        out meanwhile never learns that Slack did what it asked. Compare `delay_next`, which waits
        first and carries the call out after, and `lose_next`."""
        self._faults[method].extend([Fault(hold=seconds)] * times)

    def lose_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next `times` calls to `method` for `seconds` without carrying them out (a
        chat.postMessage is not delivered), then answer HTTP 503 service_unavailable, recorded as
        failed: to a client that timed out meanwhile, the call was lost on the way."""
        self._faults[method].extend([Fault(status=503, error="service_unavailable", delay=seconds)] * times)

    def channel_messages(self, channel: str) -> list[JsonDict]:
        """Every message Slack holds in `channel`, oldest first: what chat.postMessage accepted there,
        in threads or not, each as conversations.history shows it with include_all_metadata."""
        return copy.deepcopy(self._channel_messages[channel])

    def _keep_message(self, method: str, params: JsonDict, body: JsonDict) -> None:
        """Keep a message chat.postMessage accepted, with its metadata, for the conversations.* methods."""
        if method != "chat.postMessage" or body.get("ok") is not True:
            return
        message = copy.deepcopy(body["message"])
        metadata = params.get("metadata")
        if isinstance(metadata, str):  # a form-encoded post sends it as a JSON string
            metadata = json.loads(metadata)
        if isinstance(metadata, dict):
            message["metadata"] = copy.deepcopy(metadata)
        self._channel_messages[str(body["channel"])].append(message)

    async def _hold(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _conversations_history(self, params: JsonDict) -> JsonDict:
        """A channel's messages, newest first, as Slack documents conversations.history: thread
        replies are left out (their parents stay), `oldest`/`latest` bound the time (exclusive
        unless `inclusive`), `limit` defaults to 100, metadata only with `include_all_metadata`.
        One page: `has_more` says whether `limit` cut it short; there are no cursors."""
        channel = str(params.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        top = [m for m in self._channel_messages[channel] if m.get("thread_ts", m["ts"]) == m["ts"]]
        messages, has_more = _page(list(reversed(top)), params, default_limit=100)
        return {
            "ok": True,
            "messages": messages,
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_replies(self, params: JsonDict) -> JsonDict:
        """A thread's messages, oldest first, as Slack documents conversations.replies, with the same
        `oldest`/`latest`/`inclusive`/`limit` (default 1000) and metadata rules as history. The fake
        knows only the messages posted through it, so a thread's parent, usually a person's message,
        is not among them; a `ts` it knows nothing of gives an empty thread, not thread_not_found."""
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "invalid_arguments"}
        thread = [m for m in self._channel_messages[channel] if ts in (m["ts"], m.get("thread_ts"))]
        messages, has_more = _page(thread, params, default_limit=1000)
        return {"ok": True, "messages": messages, "has_more": has_more, "response_metadata": {"next_cursor": ""}}


def _page(messages: list[JsonDict], params: JsonDict, *, default_limit: int) -> tuple[list[JsonDict], bool]:
    """`messages` (in the order Slack returns them) within `oldest`/`latest`, up to `limit`, and
    whether more were left out. Metadata is kept only when `include_all_metadata` is true."""
    inclusive = _true(params.get("inclusive"))
    oldest = float(params.get("oldest") or 0)
    latest = float(params["latest"]) if params.get("latest") else float("inf")

    def within(ts: float) -> bool:
        return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

    chosen = [copy.deepcopy(m) for m in messages if within(float(m["ts"]))]
    if not _true(params.get("include_all_metadata")):
        for message in chosen:
            message.pop("metadata", None)
    limit = int(params.get("limit") or default_limit)
    return chosen[:limit], len(chosen) > limit


def _true(value: object) -> bool:
    """A boolean argument as slack_sdk sends it ("1"/"0" in a query string) or as JSON."""
    return value is True or str(value).lower() in ("1", "true")


def _message(params: JsonDict, ts: str) -> JsonDict:
    """The message as Slack echoes it back after chat.postMessage / chat.update."""
    message: JsonDict = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": params.get("text", ""),
        "ts": ts,
    }
    for key in ("thread_ts", "blocks", "attachments"):
        if key in params:
            message[key] = params[key]
    return message


async def _read_params(request: web.Request) -> JsonDict:
    """The query string, then a JSON or form body, merged: slack_sdk uses all three (see the module docstring)."""
    params: JsonDict = dict(request.query)
    if request.content_type == JSON:
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif request.content_type in (FORM, "multipart/form-data"):
        params.update({key: value for key, value in (await request.post()).items() if isinstance(value, str)})
    return params


def _call(
    request: web.Request, method: str, params: JsonDict, token: str | None, status: int, body: JsonDict, at: float
) -> Call:
    content_type = request.content_type if request.body_exists else ""
    return Call(method, params, token, request.path, content_type, status, body, at)


def _bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


# -- payloads Slack sends to the app ---------------------------------------------------------


def event_callback(event: JsonDict, *, event_id: str | None = None) -> JsonDict:
    """The Events API envelope around `event` (the body over HTTP; the payload in Socket Mode)."""
    return {
        "type": "event_callback",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event_id": event_id or new_event_id(),
        "event_time": int(float(event.get("event_ts", time.time()))),
        "event": event,
    }


def app_mention_event(
    text: str,
    *,
    user: str = USER_ID,
    channel: str = CHANNEL_ID,
    ts: str | None = None,
    thread_ts: str | None = None,
    event_id: str | None = None,
    **fields: Any,
) -> JsonDict:
    """An @mention in a channel. `text` is as Slack sends it, mention included: f"<@{BOT_USER_ID}> question"."""
    ts = ts or new_ts()
    event: JsonDict = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts}
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event_callback(event | fields, event_id=event_id)


def dm_event(
    text: str,
    *,
    user: str = USER_ID,
    channel: str = DM_CHANNEL_ID,
    ts: str | None = None,
    event_id: str | None = None,
    **fields: Any,
) -> JsonDict:
    """A direct message to the bot. Extra `fields` go into the event, e.g. bot_id="B2", subtype="bot_message"."""
    ts = ts or new_ts()
    event: JsonDict = {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    return event_callback(event | fields, event_id=event_id)


def file_share_event(
    files: list[JsonDict],
    *,
    text: str = "",
    user: str = USER_ID,
    channel: str = DM_CHANNEL_ID,
    channel_type: str = "im",
    ts: str | None = None,
    event_id: str | None = None,
) -> JsonDict:
    """Files uploaded in a message (subtype file_share): `files` as `FakeSlack.add_file` returns them."""
    ts = ts or new_ts()
    event: JsonDict = {
        "type": "message",
        "subtype": "file_share",
        "channel_type": channel_type,
        "user": user,
        "text": text,
        "files": files,
        "upload": True,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    return event_callback(event, event_id=event_id)


def thread_message_event(
    text: str,
    *,
    thread_ts: str,
    user: str = USER_ID,
    channel: str = CHANNEL_ID,
    channel_type: str = "channel",
    ts: str | None = None,
    event_id: str | None = None,
    **fields: Any,
) -> JsonDict:
    """A reply in a thread (a `message` event carrying `thread_ts`)."""
    ts = ts or new_ts()
    event: JsonDict = {
        "type": "message",
        "channel_type": channel_type,
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "channel": channel,
        "event_ts": ts,
    }
    return event_callback(event | fields, event_id=event_id)


def slash_command_form(
    text: str,
    *,
    response_url: str,
    command: str = "/ask",
    user_id: str = USER_ID,
    channel_id: str = CHANNEL_ID,
    trigger_id: str | None = None,
    **fields: str,
) -> dict[str, str]:
    """A slash command's fields (form-encode with `form_body`; as-is for Socket Mode).

    `response_url` is required so that no test can make the app post to the real Slack: use `fake.response_url()`."""
    return {
        "team_id": TEAM_ID,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": "alice",
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "response_url": response_url,
        "trigger_id": trigger_id or f"{next(_ids)}.fake",
    } | fields


def block_actions_payload(
    action_id: str,
    value: str,
    *,
    response_url: str,
    user: str = USER_ID,
    channel: str = CHANNEL_ID,
    message_ts: str | None = None,
    block_id: str = "actions",
    trigger_id: str | None = None,
) -> JsonDict:
    """A button click on one of the bot's messages (encode with `interactive_body`; as-is for Socket Mode)."""
    message_ts = message_ts or new_ts()
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": {"id": user, "username": "alice", "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "trigger_id": trigger_id or f"{next(_ids)}.fake",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": "general"},
        "message": {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": "", "ts": message_ts},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "action_ts": new_ts(),
                "text": {"type": "plain_text", "text": value},
            }
        ],
    }


def json_body(payload: Mapping[str, Any]) -> bytes:
    """An Events API request body."""
    return json.dumps(payload).encode()


def form_body(fields: Mapping[str, str]) -> bytes:
    """A slash command request body."""
    return urlencode(fields).encode()


def interactive_body(payload: Mapping[str, Any]) -> bytes:
    """An interactivity request body: form-encoded `payload=<json>`."""
    return form_body({"payload": json.dumps(payload)})


def slack_headers(
    body: bytes,
    content_type: str,
    secret: str = SIGNING_SECRET,
    *,
    timestamp: int | str | None = None,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
) -> dict[str, str]:
    """The headers Slack sends with `body`: signed with `secret` at `timestamp` (default now), and with
    retry headers if `retry_num` is given. A str `timestamp` is sent, and signed, exactly as given."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    headers = {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }
    if retry_num is not None:
        headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
    return headers


async def signed_request(
    url: str,
    body: bytes,
    content_type: str,
    secret: str = SIGNING_SECRET,
    *,
    timestamp: int | None = None,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
) -> HttpReply:
    """POST `body` to the app's own endpoint as Slack does: signed, and with retry headers if `retry_num` is given.

    `timestamp` defaults to now; pass an old one to test replay protection."""
    headers = slack_headers(
        body, content_type, secret, timestamp=timestamp, retry_num=retry_num, retry_reason=retry_reason
    )
    return await http_request(url, body, headers)


async def http_request(
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    session: aiohttp.ClientSession | None = None,
) -> HttpReply:
    """Send exactly these headers and body (signed or not) to the app's own endpoint; what it answered.

    With `session`, on that session's connections (kept alive between requests, as Slack's are)."""
    if session is None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as own:
            return await http_request(url, body, headers, method=method, session=own)
    data = None if body is None else io.BytesIO(body)  # aiohttp warns about sending a large bytes body as is
    async with session.request(
        method, url, data=data, headers=dict(headers), skip_auto_headers=["Content-Type"]
    ) as response:
        return HttpReply(response.status, await response.read(), dict(response.headers))
