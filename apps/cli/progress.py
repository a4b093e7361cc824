"""Progress of long commands, on a terminal only: a pipe, a log file or CI gets none of it."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Prints each message on ``stream`` behind the time since the command started."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        minutes, seconds = divmod(time.perf_counter() - self.started, 60)
        self.stream.write(f"  [{int(minutes):02d}:{seconds:04.1f}] {message}\n")
        self.stream.flush()


def terminal_progress(stream: TextIO | None = None) -> Progress | None:
    """A Progress on standard error when it is a terminal, else None (nothing to report to)."""
    stream = stream or sys.stderr
    return Progress(stream) if stream.isatty() else None
