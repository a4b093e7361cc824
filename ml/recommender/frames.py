"""Frame helpers the hot paths share."""

from __future__ import annotations

import numpy as np
import pandas as pd


def isin(values: pd.Series | pd.Index | np.ndarray, universe: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """``values.isin(universe)`` as a boolean array, through a hash index of the universe.

    pandas 3's default ``str`` dtype makes ``Series.isin`` build a Python object per element
    of ``universe``: about 20 s for a million customer ids, where this takes about one.
    """
    lookup = pd.Index(universe).unique()
    return lookup.get_indexer(pd.Index(values)) >= 0
