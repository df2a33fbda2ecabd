"""The index builder, run as a child process by bot/engine.py for a large knowledge folder.

    python -m bot.indexer FOLDER INDEX_FILE MIN_RELEVANCE FINGERPRINT [MAX_FILE_BYTES]

Indexes FOLDER and saves the index to INDEX_FILE (bot/store.py), labelled with FINGERPRINT, the
knowledge fingerprint the parent took before this process started reading the folder. Indexing
100,000 passages is a minute of Python; here it runs on its own interpreter lock, so the bot's process goes on answering
questions at full speed and then only has to read the file. The last line of output is one JSON
object: what was done, or the error, for the parent to report.

When its standard input is a pipe, it stops as soon as the pipe closes: the parent holds the pipe
open, so an indexer whose parent dies, even by kill -9, does not go on building (gigabytes, at
large sizes) beside the restarted bot.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import threading
from pathlib import Path

from bot.corpus import MAX_FILE_BYTES, KnowledgeError
from bot.engine import build_and_save


def run(
    folder: Path, target: Path, min_relevance: float, knowledge: str, max_bytes: int = MAX_FILE_BYTES
) -> dict[str, str]:
    _, save_error = build_and_save(folder, min_relevance, target, knowledge, max_bytes)
    return {"save_error": save_error} if save_error else {}


def stop_when_the_parent_goes() -> None:
    """Exit the moment standard input, a pipe from the parent, reaches its end (the parent has gone).

    Only for a pipe: run by hand from a terminal or with input from /dev/null, the indexer runs to the end."""
    try:
        piped = stat.S_ISFIFO(os.fstat(0).st_mode)
    except OSError:  # no standard input at all
        piped = False
    if not piped:
        return

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        os._exit(1)  # now, whatever the main thread is doing: nobody is left to read the index

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    stop_when_the_parent_goes()
    folder, target, min_relevance, knowledge = Path(argv[0]), Path(argv[1]), float(argv[2]), argv[3]
    max_bytes = int(argv[4]) if len(argv) == 5 else MAX_FILE_BYTES
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no os.nice (Windows)
        os.nice(10)  # background work: when CPUs are short, the bot answering questions goes first
    try:
        result = run(folder, target, min_relevance, knowledge, max_bytes)
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
