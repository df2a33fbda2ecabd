"""The index builder, run as a child process by bot/engine.py for a large knowledge folder.

    python -m bot.indexer FOLDER INDEX_FILE MIN_RELEVANCE

Indexes FOLDER and saves the index to INDEX_FILE (bot/store.py). Indexing 100,000 passages is a minute of
Python; here it runs on its own interpreter lock, so the bot's process goes on answering
questions at full speed and then only has to read the file. The last line of output is one JSON
object: what was done, or the error, for the parent to report.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from bot import store
from bot.corpus import KnowledgeError
from bot.engine import build_index


def run(folder: Path, target: Path, min_relevance: float) -> dict[str, str | None]:
    knowledge = store.knowledge_fingerprint(folder)  # before reading: a change meanwhile shows next time
    index = build_index(folder, min_relevance)
    try:
        store.save(index, target, knowledge)
    except OSError as exc:
        return {"knowledge": knowledge, "save_error": f"{target}: {exc.strerror or exc}"}
    return {"knowledge": knowledge}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    folder, target, min_relevance = Path(argv[0]), Path(argv[1]), float(argv[2])
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no os.nice (Windows)
        os.nice(10)  # background work: when CPUs are short, the bot answering questions goes first
    try:
        result = run(folder, target, min_relevance)
    except KnowledgeError as exc:
        print(json.dumps({"error": str(exc), "kind": "knowledge"}), flush=True)
        return 1
    except (OSError, ValueError) as exc:
        print(json.dumps({"error": f"indexing failed: {exc}", "kind": "other"}), flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
