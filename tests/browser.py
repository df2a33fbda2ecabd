"""A real headless Chromium, driven over the DevTools protocol, for tests that look at a page as a person does.

Debian's `chromium` package (`apt-get install chromium`; .ci/run installs it). `Browser.open` starts it
on a new profile with the network features that would reach outside this machine turned off; `look`
loads a page in a window of a given size, runs a script in it, and saves a screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)
LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")
TIMEOUT = 30.0  # seconds for Chromium to start, and for a page to load


class Browser:
    """One Chromium process and its DevTools connection."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._loaded: dict[str, asyncio.Event] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, profile: Path) -> AsyncIterator[Browser]:
        assert CHROMIUM, "chromium is not installed"
        process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        drain: asyncio.Task[bytes] | None = None
        try:
            address = await asyncio.wait_for(_listening(process.stderr), TIMEOUT)
            drain = asyncio.create_task(process.stderr.read())  # so a chatty Chromium never blocks on its pipe
            async with aiohttp.ClientSession() as http, http.ws_connect(address, max_msg_size=0) as socket:
                browser = cls(socket)
                try:
                    yield browser
                finally:
                    browser._reader.cancel()
        finally:
            process.kill()
            await process.wait()
            if drain:
                await drain

    async def look(self, url: str, script: str, screenshot: Path, width: int, height: int) -> Any:
        """Load `url` in a `width`×`height` window, save a screenshot and return what `script` evaluates to."""
        target = (await self._send("Target.createTarget", url="about:blank"))["targetId"]
        session = (await self._send("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        try:
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
            await self._send("Emulation.setDeviceMetricsOverride", session, **metrics)
            await self._send("Page.enable", session)
            loaded = self._loaded.setdefault(session, asyncio.Event())
            await self._send("Page.navigate", session, url=url)
            await asyncio.wait_for(loaded.wait(), TIMEOUT)
            shot = await self._send("Page.captureScreenshot", session, format="png")
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            result = await self._send("Runtime.evaluate", session, expression=script, returnByValue=True)
            assert "exceptionDetails" not in result, result
            return result["result"]["value"]
        finally:
            await self._send("Target.closeTarget", targetId=target)

    async def _send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        reply = self._replies[number] = asyncio.get_running_loop().create_future()
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self._socket.send_str(json.dumps(message))
        answer = await asyncio.wait_for(reply, TIMEOUT)
        assert "error" not in answer, (method, answer["error"])
        result: dict[str, Any] = answer["result"]
        return result

    async def _read(self) -> None:
        async for frame in self._socket:
            message = json.loads(frame.data)
            if "id" in message:
                self._replies.pop(message["id"]).set_result(message)
            elif message.get("method") == "Page.loadEventFired":
                self._loaded.setdefault(message["sessionId"], asyncio.Event()).set()


async def _listening(stderr: asyncio.StreamReader) -> str:
    while line := await stderr.readline():
        found = LISTENING.search(line)
        if found:
            return found[1].decode()
    raise AssertionError("chromium exited before it listened for DevTools")
