"""Documents an admin adds from Slack, written into the knowledge folder; documents removed to its trash.

The naming rules are pure functions (`safe_name`, `refusal`, `versioned`, `find`, `trusted_url`);
the rest is I/O: `fetch` asks Slack about a file (files.info), checks its type and size before a
byte is downloaded, downloads it with the bot token in an Authorization header, streaming into a
hidden temporary file beside its destination, and checks that the knowledge folder's own reader
(bot/corpus.py) can read it; `place` then moves it into place with os.replace, so the folder
never holds half a document.

Where things go, inside the knowledge folder, so each move is a rename on one filesystem:
- uploads land in `uploads/`: a name from Slack can never overwrite or shadow a file kept on the
  server, nor `synonyms.txt` or `articles.yaml`, and an admin sees which documents came from Slack;
- temporary files and the trash have hidden names (`uploads/.upload-*.part`, `.trash/`), which the
  loader and the file watcher never read, so neither is ever indexed. A removed or replaced
  document goes to `.trash/<UTC time>/<its name>`, from where moving it back undoes the removal.

Nothing here logs a token or a download URL (its query string can carry a key); only file ids,
names (through `printable`) and sizes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import difflib
import errno
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import corpus
from bot.characters import printable, visible
from bot.models import LoadProblem

logger = logging.getLogger(__name__)

UPLOADS = "uploads"  # the subfolder of the knowledge folder that uploads land in
TRASH = ".trash"  # hidden: never listed, never indexed, never watched
MAX_NAME_CHARS = 120  # of a saved file's name: well under the 255 bytes most filesystems allow
MAX_FILES = 10  # files of one message that are added; Slack allows 10 a message
CHUNK = 1 << 16
_FILE_ID = re.compile(r"F[A-Z0-9]{2,30}")
_UNSAFE = re.compile(r'[<>:"|?*\\/]')  # characters some filesystems or shells refuse in a name


class UploadError(Exception):
    """A document could not be added; the message says why, in words for the admin."""


@dataclass(frozen=True)
class SlackFile:
    """What files.info says about a file, as far as adding it goes."""

    id: str
    name: str  # as uploaded
    size: int
    url: str  # url_private_download: never logged


@dataclass(frozen=True)
class Fetched:
    """A downloaded document, checked, waiting in its temporary file to be placed."""

    temp: Path
    source: str  # where it goes, relative to the knowledge folder: "uploads/report.pdf"
    problems: tuple[LoadProblem, ...]  # warnings from reading it (it is readable)


# --- naming rules (pure) --------------------------------------------------------------------


def safe_name(raw: str) -> str | None:
    """`raw` (a name from Slack) as a file name that is safe to write: no folder parts, not hidden,
    visible characters only, no characters filesystems refuse, at most MAX_NAME_CHARS long; None
    when nothing usable is left or its type is not one the knowledge folder reads."""
    name = re.split(r"[/\\]", raw)[-1]  # a path's last part only: never a folder of the sender's choosing
    name = " ".join(_UNSAFE.sub("-", visible(name)).split())
    name = name.lstrip("._ -")  # a hidden name would be saved but never read
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem.strip() or not name.lower().endswith(corpus.ARTICLE_SUFFIXES):
        return None
    room = MAX_NAME_CHARS - len(suffix) - 1
    return f"{stem[:room].rstrip(' .-')}.{suffix.lower()}"


def refusal(raw: str, size: int, max_bytes: int) -> str | None:
    """Why the file `raw` of `size` bytes cannot be added (checked before downloading), or None."""
    if safe_name(raw) is None:
        return f"it is not one of the types I read ({', '.join(corpus.ARTICLE_SUFFIXES)})"
    if size > max_bytes:
        return f"it is {size / 1_000_000:.1f} MB, {corpus.too_large(max_bytes)}"
    if size <= 0:
        return "it is empty"
    return None


def versioned(name: str, taken: set[str]) -> str:
    """`name`, or the first of 'name (2).ext', 'name (3).ext'... not in `taken`."""
    stem, _, suffix = name.rpartition(".")
    n, candidate = 2, name
    while candidate in taken:
        candidate, n = f"{stem} ({n}).{suffix}", n + 1
    return candidate


def find(name: str, sources: list[str]) -> tuple[str | None, list[str]]:
    """The document `name` means among the listed `sources`: the source itself, or a file name
    only one source has; else None and up to three close names. Only listed names can match, so
    a name leading outside the folder ("../x") never does."""
    wanted = name.strip().strip("`'\"").strip()
    if wanted in sources:
        return wanted, []
    same = [s for s in sources if PurePosixPath(s).name == wanted]
    if len(same) == 1:
        return same[0], []
    if same:
        return None, same[:3]
    names = {PurePosixPath(s).name: s for s in sources}
    close = difflib.get_close_matches(wanted, [*sources, *names], n=3, cutoff=0.6)
    return None, list(dict.fromkeys(names.get(c, c) for c in close))


def trusted_url(url: str, api_url: str) -> bool:
    """Whether the bot token may be sent to `url`: Slack's own file host over HTTPS, or the host
    the Web API is reached at (SLACK_API_URL: a proxy or, in tests, the fake Slack)."""
    parts, api = urlsplit(url), urlsplit(api_url)
    if parts.scheme == "https" and (parts.hostname or "").endswith(".slack.com"):
        return True
    return (parts.scheme, parts.netloc) == (api.scheme, api.netloc) and parts.scheme in ("http", "https")


def file_ids(event: dict[str, Any]) -> list[str]:
    """The ids of the files shared in a message event, as far as they look like Slack's."""
    ids = [str(f.get("id", "")) for f in event.get("files") or [] if isinstance(f, dict)]
    return [i for i in ids if _FILE_ID.fullmatch(i)][:MAX_FILES]


def is_file_id(value: str) -> bool:
    return bool(_FILE_ID.fullmatch(value))


# --- Slack ----------------------------------------------------------------------------------


async def file_info(client: AsyncWebClient, file_id: str) -> SlackFile:
    """files.info for `file_id`; UploadError when Slack says no or the answer lacks what is needed."""
    try:
        response = await client.files_info(file=file_id)
    except SlackApiError as exc:
        raise UploadError(f"Slack would not tell me about the file ({exc.response.get('error')})") from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UploadError(f"I could not reach Slack to ask about the file ({type(exc).__name__})") from exc
    file = response.get("file") or {}
    url = file.get("url_private_download") or file.get("url_private")
    if not isinstance(url, str) or not isinstance(file.get("size"), int):
        raise UploadError("Slack gave no download link for the file (is it a link to a file elsewhere?)")
    return SlackFile(file_id, str(file.get("name") or file.get("title") or ""), file["size"], url)


async def download(file: SlackFile, token: str, into: Path, max_bytes: int, api_url: str, timeout: float) -> Path:
    """Stream `file` into a new hidden temporary file in the folder `into`; its path. UploadError
    (and no file left behind) if the download fails, or brings more or fewer bytes than Slack said."""
    if not trusted_url(file.url, api_url):
        raise UploadError("Slack's download link is not on Slack's file host, so I did not send it my token")
    into.mkdir(parents=True, exist_ok=True)
    temp = into / f".upload-{secrets.token_hex(8)}.part"
    limit = min(max_bytes, file.size)
    received = 0
    try:
        with open(temp, "xb") as out:
            session_timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
            async with (
                aiohttp.ClientSession(timeout=session_timeout) as session,
                session.get(file.url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False) as response,
            ):
                if response.status != 200:
                    raise UploadError(f"the download failed: Slack answered HTTP {response.status}")
                async for chunk in response.content.iter_chunked(CHUNK):
                    received += len(chunk)
                    if received > limit:
                        raise UploadError(f"the download brought more than the {file.size:,} bytes Slack said")
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if received != file.size:
            raise UploadError(f"the download stopped at {received:,} of {file.size:,} bytes; please try again")
    except UploadError:
        _discard(temp)
        raise
    except OSError as exc:
        _discard(temp)
        raise UploadError(_disk_problem(exc)) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        _discard(temp)
        raise UploadError(f"the download failed ({type(exc).__name__}); please try again") from exc
    return temp


def check(temp: Path, source: str) -> tuple[LoadProblem, ...]:
    """Read the downloaded `temp` as the knowledge folder would read `source`: its warnings, or
    UploadError (and the file removed) when it cannot be read, e.g. a '.pdf' that is no PDF."""
    try:
        readable, problems = corpus.check_document(source, temp.read_bytes())
    except OSError as exc:
        _discard(temp)
        raise UploadError(_disk_problem(exc)) from exc
    if not readable:
        _discard(temp)
        reasons = "; ".join(p.message for p in problems) or "it holds no text I can read"
        raise UploadError(f"I could not read it: {reasons}")
    return problems


async def fetch(
    client: AsyncWebClient,
    file: SlackFile,
    source: str,
    *,
    folder: Path,
    token: str,
    max_bytes: int,
    api_url: str,
    timeout: float,
) -> Fetched:
    """Download `file` and check it can be read as `source`; UploadError says why not."""
    temp = await download(file, token, (folder / source).parent, max_bytes, api_url, timeout)
    logger.info("downloaded file %s (%s bytes) for %s", file.id, file.size, printable(source))
    return Fetched(temp, source, await asyncio.to_thread(check, temp, source))


# --- the knowledge folder -------------------------------------------------------------------


def upload_source(name: str) -> str:
    """Where a document named `name` (a `safe_name`) is saved, relative to the knowledge folder."""
    return f"{UPLOADS}/{name}"


def taken(folder: Path) -> set[str]:
    """The names already in the uploads folder (any case: some filesystems ignore it)."""
    with contextlib.suppress(FileNotFoundError):
        return {entry.name for entry in os.scandir(folder / UPLOADS)}
    return set()


def place(folder: Path, fetched: Fetched, *, replace: bool, now: dt.datetime) -> str | None:
    """Move the fetched document to its source atomically. A document already there is kept in the
    trash when `replace` (its trash path returned), else the move refuses to overwrite it."""
    target = folder / fetched.source
    trashed = None
    try:
        if target.exists():
            if not replace:
                raise UploadError(f"{printable(fetched.source)} appeared meanwhile; send the file again")
            trashed = _trash_path(fetched.source, now)
            (folder / trashed).parent.mkdir(parents=True, exist_ok=True)
            os.link(target, folder / trashed)  # the old version kept; the swap below is still one rename
        os.replace(fetched.temp, target)
    except OSError as exc:
        _discard(fetched.temp)
        raise UploadError(_disk_problem(exc)) from exc
    except UploadError:
        _discard(fetched.temp)
        raise
    return trashed


def trash(folder: Path, source: str, now: dt.datetime) -> str:
    """Move the listed document `source` into the trash; its path there, relative to the folder."""
    parts = PurePosixPath(source).parts
    if not parts or any(p in ("", ".", "..") or p.startswith((".", "_")) for p in parts):
        raise UploadError("that is not the name of a document in the knowledge folder")
    trashed = _trash_path(source, now)
    try:
        (folder / trashed).parent.mkdir(parents=True, exist_ok=True)
        os.replace(folder / source, folder / trashed)
    except OSError as exc:
        raise UploadError(_disk_problem(exc)) from exc
    return trashed


def _trash_path(source: str, now: dt.datetime) -> str:
    return f"{TRASH}/{now.astimezone(dt.UTC):%Y-%m-%dT%H%M%S.%fZ}/{source}"


def _discard(temp: Path) -> None:
    with contextlib.suppress(OSError):
        temp.unlink()


def _disk_problem(exc: OSError) -> str:
    """A file-system failure in words, without the server's paths."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the server's disk is full; free some space and send the file again"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the bot may not write to the knowledge folder (read-only, or its permissions); see deploy/README.md"
    return f"the knowledge folder could not be written ({exc.strerror or type(exc).__name__})"
