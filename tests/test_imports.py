"""Imports run downward: reading the settings loads no part of the search engine.

Each check imports a module in a fresh interpreter, as a command does at start-up, and asks which
modules came with it; importing in this process would find them already loaded by other tests."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def loaded_by(module: str) -> set[str]:
    """The modules a fresh Python has loaded after `import module`."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(run.stdout))


def test_importing_the_settings_loads_neither_the_engine_nor_numpy() -> None:
    loaded = loaded_by("bot.config")

    assert "bot.config" in loaded  # the import did run
    assert not {"bot.search", "bot.engine", "bot.bm25", "bot.text", "numpy", "Stemmer"} & loaded


def test_the_search_engine_reads_no_files() -> None:
    """bot/search.py ranks what it is given: it needs the loader's types, not the loader (which
    reads PDF, Word and web pages through their libraries)."""
    loaded = loaded_by("bot.search")

    assert "bot.search" in loaded
    assert not {"bot.corpus", "bot.extract", "pypdf", "docx", "lxml"} & loaded
