"""Shared fixtures: the real knowledge folder, loaded and indexed once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.corpus import Corpus, load
from bot.search import Index

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return load(KNOWLEDGE)


@pytest.fixture(scope="session")
def index(corpus: Corpus) -> Index:
    return Index(corpus)
