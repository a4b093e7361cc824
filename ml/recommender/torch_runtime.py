"""Where the two-tower's torch work runs, and how a block of it repeats for a seed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def choose_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@contextmanager
def seeded_torch(seed: int, threads: int | None = None) -> Iterator[None]:
    """Seed torch and ask for deterministic kernels inside the block; restore the caller's state after.

    ``warn_only``: on CUDA a few kernels (index_add in EmbeddingBag's backward) have no
    deterministic variant; CPU runs are bit-for-bit repeatable for a fixed thread count.
    """
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    previous_threads = torch.get_num_threads()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        if threads:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
            torch.set_num_threads(previous_threads)
