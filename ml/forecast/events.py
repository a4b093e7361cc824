"""Calendar events the forecast models; their dates come from ``ml.retail_calendar``, the one retail calendar."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ml.retail_calendar import black_friday, cyber_monday


def shopping_events(years: Sequence[int]) -> pd.DataFrame:
    """Black Friday and the following Cyber Monday of each year, as a Prophet holidays frame.

    Black Friday's window covers the run-up from the Monday of its week and the weekend
    after it, when Brazilian e-commerce stays elevated; Cyber Monday is its own one-day
    event.
    """
    rows = []
    for year in years:
        rows.append(
            {"holiday": "black_friday", "ds": pd.Timestamp(black_friday(year)), "lower_window": -4, "upper_window": 2}
        )
        rows.append(
            {
                "holiday": "cyber_monday",
                "ds": pd.Timestamp(cyber_monday(year)),
                "lower_window": 0,
                "upper_window": 0,
            }
        )
    return pd.DataFrame(rows, columns=["holiday", "ds", "lower_window", "upper_window"])
