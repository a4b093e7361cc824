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
network (``working_beside``), and the network's thread leaves that core out
(``beside_caller``, ``training_threads``).

The thread count is fixed per stage, never by when the others finish: torch splits its
reductions (a Linear layer's bias gradient, the loss) into one part per thread, so on larger
data the network does not learn the same, bit for bit, with one and with two threads. The
shape matrix of 2026-12-04, when the count followed the others' progress epoch by epoch,
moved the two-tower's figures on four presets from one run to the next. Now the selection
protocol's fit runs beside the others on the cores they leave, the later fits wait for them
and take every core (``selection._evaluate_candidate``), and a rerun gives the same figures.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits

_local = threading.local()


def machine_cores() -> int:
    """Cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def working_beside() -> Iterator[None]:
    """The calling thread works on one core beside a thread that trains: its OpenMP and BLAS
    pools are held to one thread inside the block."""
    # torch sets a thread's OpenMP thread count at its first parallel operation, which would
    # undo the limit below: let it do so now.
    torch.get_num_threads()
    with threadpool_limits(limits=1):
        yield


@contextmanager
def beside_caller() -> Iterator[None]:
    """Inside the block, training on this thread leaves one core to the thread working beside it."""
    _local.taken = getattr(_local, "taken", 0) + 1
    try:
        yield
    finally:
        _local.taken -= 1


def training_threads(limit: int | None = None) -> int:
    """Threads a training on this thread uses: ``limit`` (or every core), at most the cores
    not taken beside it (``beside_caller``), at least one."""
    cores = machine_cores()
    return max(1, min(limit or cores, cores - getattr(_local, "taken", 0)))


@contextmanager
def torch_threads(limit: int | None = None) -> Iterator[int]:
    """torch on ``training_threads(limit)`` threads inside the block, the caller's count after it."""
    previous = torch.get_num_threads()
    threads = training_threads(limit)
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(previous)
