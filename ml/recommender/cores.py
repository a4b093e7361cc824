"""Sharing the cores between the two-tower's thread and the candidates working beside it.

The two-tower trains on a thread of its own while the other candidates take turns on the
calling thread (``selection.evaluate``). Measured at 100K orders on 2 cores, one epoch:

- 2.5 s with two torch threads once the other candidates are done;
- 12 s with two torch threads while the calling thread works: torch's OpenMP helper spins
  on the core the calling thread needs, and the two take turns;
- about 4 s with one torch thread beside the calling thread;
- 3.8 s with two torch threads even after the others were done, if the calling thread had
  run OpenMP work of its own with two threads (ALS, torch's top-k): libgomp then manages more
  threads than there are cores and stops letting its workers spin between operations.

So the calling thread keeps its OpenMP and BLAS work to one thread while it works beside the
network (``working_beside``), and the network asks before each epoch how many cores are
spare (``spare_threads``).

The price: the thread count now depends on when the other candidates finish, and on larger
data the network does not learn the same, bit for bit, with one and two threads (the shape
matrix of 2026-12-04: the two-tower's figures moved on four presets, no choice changed; on
the small test data and the 100K Olist-like set they were the same). A rerun on the same
data may so give slightly different two-tower figures. Open in #12's note.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits

_lock = threading.Lock()
_working_beside = 0


def machine_cores() -> int:
    """Cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def working_beside() -> Iterator[None]:
    """The calling thread works on one core beside a thread that trains: its OpenMP and BLAS
    pools are held to one thread, and ``spare_threads`` counts its core as taken."""
    global _working_beside
    # torch sets a thread's OpenMP thread count at its first parallel operation, which would
    # undo the limit below: let it do so now.
    torch.get_num_threads()
    with _lock:
        _working_beside += 1
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        with _lock:
            _working_beside -= 1


def spare_threads(limit: int | None = None) -> int:
    """Threads a training may use now: ``limit`` (or every core) less the cores taken beside it."""
    return max(1, (limit or machine_cores()) - _working_beside)


@contextmanager
def spare_torch_threads(limit: int | None = None) -> Iterator[None]:
    """torch on ``spare_threads(limit)`` threads inside the block, the caller's count after it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(spare_threads(limit))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
