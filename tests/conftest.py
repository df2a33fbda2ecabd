"""Shared fixtures: the real knowledge folder, loaded and indexed once per session; a fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.corpus import Corpus, load
from bot.search import Index
from tests.fakeslack import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return load(KNOWLEDGE)


@pytest.fixture(scope="session")
def index(corpus: Corpus) -> Index:
    return Index(corpus)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """Slack's servers, faked on a local port (Web API, response_url, Socket Mode)."""
    async with FakeSlack() as fake:
        yield fake
