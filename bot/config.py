"""Settings, from the environment and `.env`: the only module that reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.search import DEFAULT_MIN_RELEVANCE

SLACK_API_URL = "https://slack.com/api/"


class Settings(BaseSettings):
    """Every setting the bot reads. `.env.example` lists exactly these (a test checks)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    knowledge_dir: Path = Field(Path("knowledge"), description="folder of articles (.txt, .md) and synonyms.txt")
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
    query_log_path: Path = Field(Path("queries.db"), description="SQLite file of the query log")
    admin_user_ids: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), description="comma-separated Slack user ids allowed to run /ask-admin"
    )
    workspace_admins_are_admins: bool = Field(
        False, description="also allow Slack workspace admins and owners (checked with users.info)"
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
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_bot_token", "slack_app_token", "slack_signing_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


SECRETS = frozenset({"slack_bot_token", "slack_app_token", "slack_signing_secret"})


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
            name = field.upper() or "a setting"
            shown = "" if field in SECRETS else f" (got {error.get('input')!r})"
            problems.append(f"{name}: {error['msg']}{shown}; see .env.example")
        raise SettingsError("\n".join(problems)) from None


def require(settings: Settings, http: bool) -> None:
    """Stop start-up early, naming the missing setting and the fix, when a Slack mode cannot run."""
    missing = []
    if settings.slack_bot_token is None:
        missing.append("SLACK_BOT_TOKEN is empty: set it to the bot token (xoxb-...) from your Slack app's OAuth page")
    if http and settings.slack_signing_secret is None:
        missing.append(
            "SLACK_SIGNING_SECRET is empty: HTTP mode needs it (Basic Information > Signing Secret), "
            "or run without --http for Socket Mode"
        )
    if not http and settings.slack_app_token is None:
        missing.append(
            "SLACK_APP_TOKEN is empty: Socket Mode needs an app-level token (xapp-...) with connections:write, "
            "or run with --http and set SLACK_SIGNING_SECRET"
        )
    if missing:
        raise SettingsError("\n".join(missing))
