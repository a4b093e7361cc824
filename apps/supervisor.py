"""A run that a stop signal ends within seconds, at any moment.

``retail-intel run`` executes the graph in a child process that leads a process group of its
own (dbt's process included). SIGTERM or SIGINT to the command kills that group at once:
every publish on the platform is a rename or one transaction, so a killed run has published
each table whole or not at all. The command then removes the unpublished build copies, marks
the Dagster run canceled, says what was published before the stop, and exits 128 plus the
signal's number. The next run needs no clean-up.

Why not stop inside the process: Dagster turns a signal into an exception only where that is
safe, and one that lands while a garbage-collection callback runs is lost (a SIGTERM 25 s
into a first run was ignored and the run finished 90 s later with exit 0); and a model that
trains on a thread of its own cannot be interrupted at all.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def supervise(command: list[str], on_stop: Callable[[int], None]) -> int:
    """Run ``command``; its exit code, or after a stop signal ``on_stop(signal)`` and 128 + the signal."""
    received: list[int] = []
    child: subprocess.Popen | None = None

    def stop(signum: int, _frame) -> None:
        received.append(signum)
        if child is not None:
            _kill_group(child)

    # Handlers first: a signal between the child's start and its handlers would otherwise
    # end this process and leave the child running on its own.
    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        if not received:
            child = subprocess.Popen(command, start_new_session=True)
            if received:  # arrived while the child was being started
                _kill_group(child)
            returncode = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        on_stop(received[0])
        return 128 + received[0]
    return returncode


def _kill_group(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:  # already gone
        pass
