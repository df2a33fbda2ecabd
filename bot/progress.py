"""The stages of a slow index build, shown in the terminal while it runs (rich).

Most builds are over in well under a second, so nothing is shown for the first second; after
that, one line per stage (reading the folder, analysing its passages, saving the index) with a
spinner and the time it has taken, cleared when the build is done. Off, it shows nothing at all:
the command line turns it off under --json and when its output is not a terminal.
"""

from __future__ import annotations

import threading
from types import TracebackType

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

DELAY = 1.0  # seconds a build runs before its stages are shown


class Stages:
    """A `bot.engine.Stage` callback that shows the stages after DELAY seconds; use with `with`."""

    def __init__(self, console: Console, shown: bool, delay: float = DELAY) -> None:
        self._shown = shown
        self._delay = delay
        self._progress = Progress(
            SpinnerColumn(finished_text="✓"),
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._lock = threading.Lock()
        self._current: TaskID | None = None
        self._timer: threading.Timer | None = None

    def __call__(self, stage: str) -> None:
        with self._lock:
            if self._current is not None:
                self._progress.update(self._current, total=1, completed=1)
            self._current = self._progress.add_task(stage, total=None)

    def __enter__(self) -> Stages:
        if self._shown:
            self._timer = threading.Timer(self._delay, self._start)
            self._timer.daemon = True
            self._timer.start()
        return self

    def _start(self) -> None:
        with self._lock:
            if self._timer is not None:  # not stopped meanwhile
                self._progress.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._progress.stop()
