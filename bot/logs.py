"""Log lines for the whole process: text or JSON, one line each, with secrets scrubbed from every line.

Every line is one line: outside text in a message or a fact (a file name with a newline in it, an
admin's command with an ESC sequence, a right-to-left override) has its invisible characters written
as escapes (bot/characters.py `printable`) before any formatter sees it, so it can neither forge a
line nor play tricks on the terminal that shows it.

Code logs a short message and puts the facts in `extra` (`logger.info("question answered",
extra={"latency_ms": 12.5, ...})`). As text they follow the message as `key=value`; as JSON
(python-json-logger) they are fields, ready for a log shipper. Either way the formatted line,
tracebacks included, has every secret value (tokens, signing secret, hash key) replaced, whatever
logged it: the bot, Bolt, slack_sdk or aiohttp. The same `Scrubber` cleans everything the bot
sends to Slack (bot/slack_client.py, and Bolt's `ack` and `respond` in bot/app.py), with the same
"[redacted]" marker.

At any level, DEBUG included, no line carries what users wrote or who they are: the lines in which
Bolt and slack_sdk show a request's or a message's content (Web API and response_url bodies, Socket
Mode envelopes, Bolt's responses: user ids, questions, answers) keep only their start, which says
what happened (the method called, the status, the kind of message), and lose the content.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
from collections.abc import Iterable
from typing import IO, Any, Literal

from pythonjsonlogger.json import JsonFormatter

from bot.characters import printable

REDACTED = "[redacted]"
# A value this short is no secret worth the name (Slack's are 30+ characters), and replacing it
# everywhere would shred every line; settings that short are only ever test values.
MIN_SECRET = 8
# Libraries whose DEBUG lines are noise even when debugging the bot: aiosqlite logs every statement.
CHATTY = {"aiosqlite": logging.INFO}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# The starts of the library lines that go on to show content: what matches is kept, the rest is cut.
# Checked by running the bot at DEBUG (tests/test_logs.py): a library upgrade that adds a line fails there.
CONTENT_LINES = re.compile(
    r"Sending a request - url: (?:[A-Z]+ )?[^,\s]*"  # slack_sdk.web, .webhook: then parameters, body
    r"|Received the following response - status: \d+"  # ... then headers and body
    r"|Received message \(type: \w+"  # Socket Mode: then the envelope
    r"|Sending a message:"  # Socket Mode: an ack, which can carry a reply
    r"|Failed to send a message"
    r"|Responding with status: \d+"  # Bolt over HTTP: then the response body
    r"|Responding with listener middleware's response"
    r"|Unsuccessful Bolt execution result \(status: \d+"
    r"|A global middleware \(\S+\) skipped calling"
)
CONTENT_LOGGERS = ("slack_bolt", "slack_sdk")
CUT = " [content not logged]"
# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


def extras(record: logging.LogRecord) -> dict[str, object]:
    """The facts a log call passed in `extra`."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message key=value ...`: readable, and still one greppable line per event."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        facts = " ".join(f"{k}={_value(v)}" for k, v in extras(record).items())
        if not facts:
            return line
        head, newline, trace = line.partition("\n")  # facts go on the message's line, before any traceback
        return f"{head} {facts}{newline}{trace}"


class Scrubber:
    """Every secret value replaced by [redacted]: in a log line, or in what the bot sends to Slack."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def __call__(self, value: Any) -> Any:
        """`value` with every string in it scrubbed, through dicts, lists and tuples (message blocks too).

        A `token` argument is left alone: it is how a Web API call authenticates, never message text."""
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: v if k == "token" else self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self(v) for v in value)
        return value


class Shown(logging.Filter):
    """What a log line may show, for every record whoever logged it: Bolt's and slack_sdk's lines that
    show message content cut down to what they say happened, and the invisible characters of the
    message and its text facts written as escapes (one line each)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        shown = message
        if record.name.startswith(CONTENT_LOGGERS):
            content = CONTENT_LINES.match(message)
            if content:
                shown = content[0] + CUT
        shown = printable(shown)
        if shown != message:
            record.msg, record.args = shown, None
        for key, value in extras(record).items():
            if isinstance(value, str) and not value.isprintable():
                setattr(record, key, printable(value))
        return True


class Redacting(logging.Formatter):
    """Another formatter's lines with every secret value replaced by [redacted]."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        self.scrub = Scrubber(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub.text(self.inner.format(record))


class _IsoJsonFormatter(JsonFormatter):
    """JSON lines whose `time` is ISO 8601 in UTC with milliseconds, as log shippers parse it."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")


def formatter(style: Literal["text", "json"], secrets: Iterable[str] = ()) -> logging.Formatter:
    inner: logging.Formatter
    if style == "json":
        inner = _IsoJsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )
    else:
        inner = TextFormatter()
    return Redacting(inner, secrets)


def configure(
    level: str, style: Literal["text", "json"], secrets: Iterable[str] = (), stream: IO[str] | None = None
) -> logging.Handler:
    """Send every logger's records at `level` and above to `stream` (stderr), one line each.

    Replaces the handler an earlier call installed, so calling it twice does not double lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(style, secrets))
    handler.addFilter(Shown())
    handler.set_name("bot")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "bot"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, least in CHATTY.items():
        logging.getLogger(name).setLevel(max(least, logging.getLevelNamesMapping()[level]))
    return handler


def _value(value: object) -> str:
    text = str(value)
    return repr(text) if not text or not text.isprintable() or any(c.isspace() or c in "\"'=" for c in text) else text
