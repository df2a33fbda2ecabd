"""Settings, from the environment and `.env`: the only module that reads them."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.corpus import MAX_FILE_BYTES
from bot.defaults import DEFAULT_MIN_RELEVANCE

APP_NAME = "policy-bot"  # names the folder of the command line's saved indexes in the user's cache folder
SLACK_API_URL = "https://slack.com/api/"
MIN_HASH_KEY = 32
# What a Slack token looks like (xoxb-, xoxp-, xapp-...): never shown, wherever it was pasted.
SLACK_TOKEN = re.compile(r"x(?:ox[a-z]|app)-[A-Za-z0-9-]+")
HIDDEN = "[hidden]"


class Settings(BaseSettings):
    """Every setting the bot reads. `.env.example` lists exactly these (a test checks)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    knowledge_dir: Path = Field(
        Path("knowledge"),
        description="folder of articles (.txt, .md, .pdf, .docx, .html, .htm), synonyms.txt and articles.yaml",
    )
    max_file_mb: float = Field(
        MAX_FILE_BYTES / 1_000_000,
        gt=0,
        le=1000,
        description="files in the knowledge folder larger than this are skipped",
    )
    results: int = Field(3, ge=1, le=10, description="how many excerpts an answer shows")
    min_relevance: float = Field(
        DEFAULT_MIN_RELEVANCE,
        ge=0.0,
        le=1.0,
        description="share of a question a passage must match to be shown; below it the bot says it found nothing",
    )
    slack_bot_token: SecretStr | None = Field(None, description="bot token, xoxb-...")
    slack_app_token: SecretStr | None = Field(None, description="app-level token for Socket Mode, xapp-...")
    slack_signing_secret: SecretStr | None = Field(None, description="signing secret for HTTP mode")
    slack_api_url: str = Field(SLACK_API_URL, description="Slack Web API base URL")
    slack_timeout_seconds: int = Field(
        10, ge=1, le=120, description="seconds to wait for one Slack Web API call before it counts as timed out"
    )
    slack_channel_posts_per_second: float = Field(
        1.0,
        ge=0.0,
        le=100.0,
        description="messages the bot posts into one channel a second, after a burst of 2 (Slack allows about 1; "
        "0: no pacing)",
    )
    user_questions_per_minute: int = Field(
        10, ge=0, description="questions one person may ask in a minute; more are refused politely (0: no limit)"
    )
    query_log_path: Path = Field(Path("queries.db"), description="SQLite file of the query log")
    save_index: bool = Field(
        True, description="keep the index in a file and reuse it at start-up while the knowledge folder is unchanged"
    )
    index_path: Path | None = Field(
        None,
        description="where SAVE_INDEX keeps the index (empty: the bot keeps it beside QUERY_LOG_PATH, with the "
        "suffix .index; the command line, in the user's cache folder)",
    )
    admin_user_ids: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), description="comma-separated Slack user ids allowed to run /ask-admin"
    )
    workspace_admins_are_admins: bool = Field(
        False, description="also allow Slack workspace admins and owners (checked with users.info)"
    )
    log_retention_days: int | None = Field(
        365, ge=1, description="delete query-log rows older than this many days (empty: keep them forever)"
    )
    hash_user_ids: bool = Field(False, description="store Slack user ids in the query log as a keyed hash")
    user_id_hash_key: SecretStr | None = Field(None, description="the key for HASH_USER_IDS (32+ characters)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="least severe log level shown")
    log_format: Literal["text", "json"] = Field("text", description="log lines as text, or as one JSON object each")
    watch_knowledge: bool = Field(False, description="reload the index when files in KNOWLEDGE_DIR change")
    watch_debounce_seconds: float = Field(
        2.0, ge=0.1, le=300.0, description="quiet time after the last change in KNOWLEDGE_DIR before reloading"
    )

    @field_validator("admin_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("admin_user_ids")
    @classmethod
    def _check_ids(cls, value: frozenset[str]) -> frozenset[str]:
        bad = sorted(v for v in value if not v.isalnum() or v[0] not in "UW")
        if bad:
            raise ValueError(f"Slack user ids look like U012ABCDEF; these do not: {', '.join(bad)}")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if "@" in urlsplit(value).netloc:
            raise ValueError("must not hold a user name or password: Slack's Web API takes the bot token instead")
        return value if value.endswith("/") else value + "/"

    @field_validator("log_retention_days", "index_path", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_bot_token", "slack_app_token", "slack_signing_secret", "user_id_hash_key", mode="before")
    @classmethod
    def _trim_secret(cls, value: object) -> object:
        """A secret pasted with a line break or spaces around it, without them; blank is unset.

        Slack's tokens and secrets have no whitespace: a trailing newline would otherwise make every
        signature check fail. Whitespace inside is a bad paste, refused rather than guessed at."""
        if not isinstance(value, str):
            return value
        value = value.strip()
        if any(c.isspace() for c in value):
            raise ValueError("has a space or line break inside; paste the value again, as one piece")
        return value or None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _hash_needs_a_key(self) -> Self:
        key = self.user_id_hash_key.get_secret_value() if self.user_id_hash_key else ""
        if self.hash_user_ids and len(key) < MIN_HASH_KEY:
            raise ValueError(
                f"USER_ID_HASH_KEY must be set to {MIN_HASH_KEY} or more random characters when HASH_USER_IDS is true; "
                'make one with: python -c "import secrets; print(secrets.token_hex(32))"'
            )
        return self

    @property
    def user_key(self) -> bytes | None:
        """The key that turns user ids into pseudonyms in the query log, or None to store ids as they are."""
        if not self.hash_user_ids or self.user_id_hash_key is None:
            return None
        return self.user_id_hash_key.get_secret_value().encode()

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1_000_000)

    @property
    def index_file(self) -> Path | None:
        """Where the index is saved between runs, or None when SAVE_INDEX is off."""
        if not self.save_index:
            return None
        if self.index_path is not None:
            return self.index_path
        log = self.query_log_path
        return log.with_suffix(".index") if log.name else None  # a log path of "." is reported when it is opened

    @property
    def command_line_index_file(self) -> Path | None:
        """Where `ask`, `chat`, `index` and `evaluate` save the index, or None when SAVE_INDEX is off:
        INDEX_PATH, else one file per knowledge folder in the user's cache folder (~/.cache/policy-bot on
        Linux), so that running them leaves nothing in the folder they run from."""
        if not self.save_index or self.index_path is not None:
            return self.index_file
        folder = self.knowledge_dir.resolve()
        key = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
        return (
            Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / f"{folder.name or 'knowledge'}-{key}.index"
        )

    def secrets(self) -> list[str]:
        """The values of every secret setting that is set: what must never reach a log line."""
        values = (getattr(self, name) for name in sorted(SECRETS))
        found = [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
        return found + url_secrets(self.slack_api_url)


SECRETS = frozenset({"slack_bot_token", "slack_app_token", "slack_signing_secret", "user_id_hash_key"})


def url_secrets(url: str) -> list[str]:
    """What in a URL may be a credential: a password, the query, the fragment, anything like a Slack token."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL at all (a bad port, an unclosed IPv6 bracket): all of it
        return [url]
    pieces = [password or "", parts.query, parts.fragment, *SLACK_TOKEN.findall(url)]
    return [piece for piece in pieces if piece]


def shown_url(url: str) -> str:
    """A URL as it is safe to show: scheme://host[:port]/path, without user name, password, query,
    fragment, or anything like a Slack token (for a token pasted into SLACK_API_URL)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return HIDDEN
    head = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.scheme or parts.netloc else ""
    return SLACK_TOKEN.sub(HIDDEN, head + parts.path)


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and the fix."""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `.env`, with a readable error instead of a traceback.

    The message never repeats the value of a secret."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            if not field:  # a rule across settings: its message names them, and its input is all of them
                problems.append(f"{error['msg'].removeprefix('Value error, ')}; see .env.example")
                continue
            value = error.get("input")
            if field == "slack_api_url" and isinstance(value, str):
                value = shown_url(value)
            shown = "" if field in SECRETS else f" (got {value!r})"
            problems.append(f"{field.upper()}: {error['msg']}{shown}; see .env.example")
        raise SettingsError("\n".join(problems)) from None


# Where each Slack credential is found in the app's settings at https://api.slack.com/apps.
BOT_TOKEN_HELP = "the bot token (xoxb-...) from your Slack app's OAuth & Permissions page (Bot User OAuth Token)"
APP_TOKEN_HELP = (
    "an app-level token (xapp-...) with connections:write, from Basic Information > App-Level Tokens "
    "(Generate Token and Scopes)"
)
SIGNING_SECRET_HELP = "the Signing Secret, from Basic Information > App Credentials"
SLACK_SETTINGS = ("slack_bot_token", "slack_app_token", "slack_signing_secret")


def wants_slack(settings: Settings) -> bool:
    """Whether any Slack credential is set: then `start` serves Slack, and names what is missing."""
    return any(getattr(settings, name) is not None for name in SLACK_SETTINGS)


def require(settings: Settings, http: bool | None) -> None:
    """Stop start-up early, naming the missing setting and the fix, when a Slack mode cannot run.

    `http` None is `start`, which serves whichever mode the settings allow: it needs one of them."""
    missing = []
    if settings.slack_bot_token is None:
        missing.append(f"SLACK_BOT_TOKEN is empty: set it to {BOT_TOKEN_HELP}")
    if http is None and settings.slack_app_token is None and settings.slack_signing_secret is None:
        missing.append(
            f"SLACK_APP_TOKEN and SLACK_SIGNING_SECRET are both empty: Socket Mode needs SLACK_APP_TOKEN, "
            f"{APP_TOKEN_HELP}; HTTP mode needs SLACK_SIGNING_SECRET, {SIGNING_SECRET_HELP}"
        )
    if http and settings.slack_signing_secret is None:
        missing.append(
            f"SLACK_SIGNING_SECRET is empty: HTTP mode needs it ({SIGNING_SECRET_HELP}), "
            "or run without --http for Socket Mode"
        )
    if http is False and settings.slack_app_token is None:
        missing.append(
            f"SLACK_APP_TOKEN is empty: Socket Mode needs {APP_TOKEN_HELP}, "
            "or run with --http and set SLACK_SIGNING_SECRET"
        )
    if missing:
        if http is None:  # `start` with some Slack settings: the user may have meant the terminal chat
            missing.append("(with no Slack setting in .env or the environment, start opens the terminal chat)")
        raise SettingsError("\n".join(missing))
