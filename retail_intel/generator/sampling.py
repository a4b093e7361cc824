"""Units and the small sampling helpers that every stage of the model shares.

Timestamps are int64 seconds since the Unix epoch (naive local time, as in Olist) and
money is int64 cents; ``DAY`` and ``HOUR`` are in those seconds.
"""

from __future__ import annotations

import numpy as np

DAY = 86_400
HOUR = 3_600

_HEX = np.array([f"{i:02x}" for i in range(256)], dtype="S2")


def hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct 32-character lowercase hex ids (numpy 'S32')."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16)
    ids = _HEX[raw].view("S32").ravel()
    while True:  # 128 random bits: a collision is astronomically rare, but never emit one
        _, first = np.unique(ids, return_index=True)
        if first.size == n:
            return ids
        dup = np.setdiff1d(np.arange(n), first)
        raw = np.frombuffer(rng.bytes(16 * dup.size), dtype=np.uint8).reshape(dup.size, 16)
        ids[dup] = _HEX[raw].view("S32").ravel()


def sample_cdf(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index drawn from a cumulative distribution (normalised here) for each uniform u."""
    return np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), cdf.size - 1)


def sample_rows(prob: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw: prob is (n, k) with rows summing to 1."""
    cum = np.cumsum(prob, axis=1)
    return np.minimum((cum < u[:, None] * cum[:, -1:]).sum(axis=1), prob.shape[1] - 1)
