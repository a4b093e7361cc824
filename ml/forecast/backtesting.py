"""Rolling-origin backtest: the history check, the windows and every candidate's scores on them.

Backtest (``backtest_windows``). Up to ``folds`` test windows of ``horizon`` days end at
the last day of data, one origin ``horizon`` days before the next when the history allows
it and closer together (never less than ``MIN_STEP_DAYS``) when it does not; every origin
has at least ``MIN_TRAINING_DAYS`` days of training before it. A history too short for one
full window gets one shorter window (at least ``MIN_WINDOW_DAYS``), and one too short for
that raises ``ForecastNotPossible``. For each window every candidate is fitted on the days
strictly before it and predicts the whole window; nothing from the window or after it is
seen. Hyper-parameters are fixed or chosen by each candidate on its training days only
(the ARIMA order by AICc); nothing is tuned on the windows.

Every forecast, in the backtest as in the final refit, is made non-negative and ordered
(``0 <= yhat_lower <= yhat <= yhat_upper``) in one place, so that the backtest scores what
would be shipped.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml.forecast.candidates.base import ForecastCandidate, _checked_prediction, _step_aside_reason
from ml.forecast.metrics import METRIC_COLUMNS, score
from ml.forecast_baselines import SEASON_DAYS

# Four weekly cycles before the first backtest origin: the least on which a weekly pattern
# is seen more than twice and the trailing mean has its 28 days. Candidates that need more
# (ARIMA) step aside on shorter training sets instead of raising the minimum for all.
MIN_TRAINING_DAYS = 28
# A backtest window shorter than a week would score some weekdays and not others.
MIN_WINDOW_DAYS = SEASON_DAYS
MIN_STEP_DAYS = SEASON_DAYS
DEFAULT_FOLDS = 5
AGGREGATE_FOLD = "all"
_log = logging.getLogger(__name__)


class ForecastNotPossible(ValueError):
    """No forecast can be made from this history (too short for any backtest, or no candidate
    could fit it); the message says why."""


def prepare_history(daily: pd.DataFrame) -> pd.DataFrame:
    """The ``daily_revenue`` frame as ``date`` (datetime64) and float ``revenue``, ascending.

    Raises ValueError when a column is missing, a value is missing, negative or not finite,
    a day appears twice, or a calendar day is missing (the mart has one row per day, zero
    days included, so a gap is a broken input rather than a day without sales).
    """
    missing = {"date", "revenue"} - set(daily.columns)
    if missing:
        raise ValueError(f"daily revenue frame lacks column(s) {sorted(missing)}; it has {list(daily.columns)}")
    if daily.empty:
        raise ValueError("daily revenue frame has no rows")
    dates = pd.to_datetime(daily["date"]).astype("datetime64[ns]")
    revenue = pd.to_numeric(daily["revenue"]).astype(float)
    if dates.isna().any() or revenue.isna().any():
        raise ValueError("daily revenue frame has missing dates or revenue")
    if not np.isfinite(revenue.to_numpy()).all() or (revenue < 0).any():
        raise ValueError("revenue must be finite and non-negative")
    if (dates != dates.dt.normalize()).any():
        raise ValueError("date must be calendar days, without a time of day")
    history = pd.DataFrame({"date": dates, "revenue": revenue}).sort_values("date", ignore_index=True)
    duplicated = history["date"].duplicated()
    if duplicated.any():
        raise ValueError(f"day {history['date'][duplicated].iloc[0].date()} appears more than once")
    steps = history["date"].diff().dropna()
    if (steps != pd.Timedelta(days=1)).any():
        after = history["date"].iloc[int(np.argmax((steps != pd.Timedelta(days=1)).to_numpy()))]
        raise ValueError(
            f"daily revenue must have every calendar day (zero days included); days are missing after {after.date()}"
        )
    return history


def backtest_windows(
    n_days: int, horizon: int, folds: int = DEFAULT_FOLDS, min_training_days: int = MIN_TRAINING_DAYS
) -> list[tuple[int, int]]:
    """Row ranges [start, end) of the backtest windows, oldest first, the last ending at the last day.

    Each window has ``horizon`` days, or, when the history cannot hold one after
    ``min_training_days`` days of training, the days that are left (at least
    MIN_WINDOW_DAYS). Up to ``folds`` windows: their ends step back by a whole window when
    the history allows it, otherwise by as much as it allows (at least MIN_STEP_DAYS), so
    that a short history gets several overlapping windows rather than one, and fewer
    windows when even that step does not fit. Raises ForecastNotPossible when not even one
    window fits.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 day, got {horizon}")
    if folds < 1:
        raise ValueError(f"folds must be at least 1, got {folds}")
    window = min(horizon, n_days - min_training_days)
    if window < MIN_WINDOW_DAYS:
        raise ForecastNotPossible(
            f"history too short: {n_days} days, but a backtest needs at least "
            f"{min_training_days + MIN_WINDOW_DAYS} ({min_training_days} days of training before a window of at least "
            f"{MIN_WINDOW_DAYS} days)"
        )
    room = n_days - window - min_training_days  # how far back the first window's end can go
    folds = min(folds, 1 + room // MIN_STEP_DAYS)
    step = 0 if folds == 1 else min(window, room // (folds - 1))
    ends = [n_days - (folds - 1 - fold) * step for fold in range(folds)]
    return [(end - window, end) for end in ends]


def bounded(prediction: pd.DataFrame) -> pd.DataFrame:
    """Clip at zero (revenue cannot be negative) and order: 0 <= yhat_lower <= yhat <= yhat_upper."""
    yhat = prediction["yhat"].clip(lower=0.0)
    return prediction.assign(
        yhat=yhat,
        yhat_lower=np.minimum(prediction["yhat_lower"].clip(lower=0.0), yhat),
        yhat_upper=np.maximum(prediction["yhat_upper"].clip(lower=0.0), yhat),
    )


def _fit_predict(candidate: ForecastCandidate, history: pd.DataFrame, horizon: int, seed: int) -> pd.DataFrame:
    return bounded(_raw_fit_predict(candidate, history, horizon, seed))


def _raw_fit_predict(candidate: ForecastCandidate, history: pd.DataFrame, horizon: int, seed: int) -> pd.DataFrame:
    last_day = history["date"].iloc[-1]
    try:
        prediction = candidate.fit(history, seed).predict(horizon)
    except Exception as error:
        error.add_note(f"while fitting candidate {candidate.name!r} on {len(history)} days up to {last_day.date()}")
        raise
    return _checked_prediction(prediction, last_day, horizon, candidate.name)


def _settings_key(candidate: ForecastCandidate) -> tuple | None:
    """What a candidate's forecast depends on besides the history and the seed: its class and
    constructor settings. None when that cannot be told (not a dataclass, unhashable settings)."""
    if not dataclasses.is_dataclass(candidate):
        return None
    key = (
        type(candidate),
        tuple((item.name, getattr(candidate, item.name)) for item in dataclasses.fields(candidate) if item.init),
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _fold_forecast(
    candidate: ForecastCandidate,
    training: pd.DataFrame,
    days: int,
    seed: int,
    made: dict[tuple, pd.DataFrame | Exception],
) -> pd.DataFrame:
    """The candidate's checked, unclipped forecast of one fold. ``made`` holds this fold's
    forecasts by settings key, so that a combination reuses its members' forecasts."""
    members, combine = getattr(candidate, "members", None), getattr(candidate, "combine", None)
    if members is not None and combine is not None:
        outcomes = {
            member.name: _shared_forecast(copy.deepcopy(member), training, days, seed, made) for member in members
        }
        return _checked_prediction(
            combine(outcomes, training["date"].iloc[-1]), training["date"].iloc[-1], days, candidate.name
        )
    outcome = _shared_forecast(candidate, training, days, seed, made)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _shared_forecast(
    candidate: ForecastCandidate,
    training: pd.DataFrame,
    days: int,
    seed: int,
    made: dict[tuple, pd.DataFrame | Exception],
) -> pd.DataFrame | Exception:
    key = _settings_key(candidate)
    if key is not None and key in made:
        return made[key]
    try:
        outcome: pd.DataFrame | Exception = _raw_fit_predict(candidate, training, days, seed)
    except Exception as error:
        outcome = error
    if key is not None:
        made[key] = outcome
    return outcome


def _check_candidates(candidates: Sequence[ForecastCandidate]) -> None:
    if not candidates:
        raise ValueError("no forecast candidates given")
    names = [candidate.name for candidate in candidates]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"candidate names must be unique; repeated: {duplicates}")


def _aggregate_row(name: str, fold_rows: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "candidate": name,
        "fold": AGGREGATE_FOLD,
        "window_start": fold_rows[0]["window_start"],
        "window_end": fold_rows[-1]["window_end"],
        "train_days": pd.NA,
        "n_days": sum(fold_row["n_days"] for fold_row in fold_rows),
    }
    for metric in METRIC_COLUMNS:
        values = np.array([fold_row[metric] for fold_row in fold_rows], dtype=float)
        values = values[~np.isnan(values)]
        row[metric] = float(values.mean()) if len(values) else math.nan
    return row


@dataclass(frozen=True, eq=False)
class Backtest:
    """``table``: one row per (candidate, fold) and one per candidate with ``fold == "all"``,
    for the candidates that forecast every fold; ``stepped_aside``: name -> reason for the
    others, in candidate order."""

    table: pd.DataFrame
    stepped_aside: dict[str, str]


BACKTEST_COLUMNS = ["candidate", "fold", "window_start", "window_end", "train_days", "n_days", *METRIC_COLUMNS]


def backtest(
    daily: pd.DataFrame,
    candidates: Sequence[ForecastCandidate],
    horizon: int = 30,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
) -> Backtest:
    """Rolling-origin backtest on the windows of ``backtest_windows``.

    Fold 1 is the oldest window; each fold trains on every day before its window. A
    candidate whose fit raises (``CandidateNotSupported`` or anything else) or predicts
    non-finite values on any fold steps aside for all of them, with the fold and the
    reason. The aggregate row (``fold == "all"``) holds the mean of the folds' metrics,
    each fold weighing the same, and the total ``n_days``. Metric columns are those of
    ``score``; ``mape`` is ``mape_nonzero``.
    """
    history = prepare_history(daily)
    _check_candidates(candidates)
    windows = backtest_windows(len(history), horizon, folds)
    rows_by_candidate: dict[str, list[dict[str, Any]]] = {candidate.name: [] for candidate in candidates}
    stepped_aside: dict[str, str] = {}
    for fold, (start, end) in enumerate(windows, start=1):
        training, actual = history.iloc[:start], history.iloc[start:end]
        made: dict[tuple, pd.DataFrame | Exception] = {}
        for candidate in candidates:
            if candidate.name in stepped_aside:
                continue
            try:
                prediction = bounded(_fold_forecast(candidate, training, len(actual), seed, made))
            except Exception as error:
                stepped_aside[candidate.name] = (
                    f"backtest fold {fold} ({len(training)} training days): {_step_aside_reason(error)}"
                )
                _log.info("forecast candidate %s steps aside: %s", candidate.name, stepped_aside[candidate.name])
                continue
            rows_by_candidate[candidate.name].append(
                {
                    "candidate": candidate.name,
                    "fold": str(fold),
                    "window_start": actual["date"].iloc[0].date(),
                    "window_end": actual["date"].iloc[-1].date(),
                    "train_days": len(training),
                    "n_days": len(actual),
                    **score(actual["revenue"].to_numpy(), prediction),
                }
            )
    rows = []
    for name, fold_rows in rows_by_candidate.items():
        if name in stepped_aside:
            continue
        rows.extend(fold_rows)
        rows.append(_aggregate_row(name, fold_rows))
    table = pd.DataFrame(rows, columns=BACKTEST_COLUMNS)
    table = table.astype({"train_days": "Int64", "n_days": "int64"})
    ordered = {
        candidate.name: stepped_aside[candidate.name] for candidate in candidates if candidate.name in stepped_aside
    }
    return Backtest(table=table, stepped_aside=ordered)
