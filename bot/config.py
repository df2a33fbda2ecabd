"""Settings, from the environment and `.env`: the only module that reads them."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.search import DEFAULT_MIN_RELEVANCE


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


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and the fix."""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `.env`, with a readable error instead of a traceback."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "a setting"
            problems.append(f"{name}: {error['msg']} (got {error.get('input')!r}); see .env.example")
        raise SettingsError("\n".join(problems)) from None
