"""Seasonal ARIMA: the order search on the training days and the conditional-sum-of-squares fit behind it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from ml.forecast.candidates.base import (
    INTERVAL_WIDTH,
    CandidateNotSupported,
    _daily_series,
    _prediction_frame,
    _quiet_statsmodels,
    _require_days,
    _require_fitted,
    _require_variation,
    _residual_interval,
)
from ml.forecast_baselines import SEASON_DAYS

# ARIMA needs enough weeks after weekly and first differencing to tell its terms apart.
ARIMA_MIN_DAYS = 8 * SEASON_DAYS


@dataclass(frozen=True)
class ArimaOrder:
    """A seasonal ARIMA (p,d,q)(P,D,Q)_7, with or without a constant in the differenced series."""

    p: int
    d: int
    q: int
    seasonal_p: int
    seasonal_d: int
    seasonal_q: int
    constant: bool

    def __str__(self) -> str:
        drift = " with constant" if self.constant else ""
        return (
            f"({self.p},{self.d},{self.q})({self.seasonal_p},{self.seasonal_d},{self.seasonal_q})_{SEASON_DAYS}{drift}"
        )


def _sarima_polynomials(order: ArimaOrder, coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The AR and MA lag polynomials (in increasing powers of the lag) of a multiplicative SARMA."""
    p, q, seasonal_p, seasonal_q = order.p, order.q, order.seasonal_p, order.seasonal_q
    phi, theta = coefficients[:p], coefficients[p : p + q]
    seasonal_phi = coefficients[p + q : p + q + seasonal_p]
    seasonal_theta = coefficients[p + q + seasonal_p : p + q + seasonal_p + seasonal_q]
    seasonal_ar = np.zeros(SEASON_DAYS * seasonal_p + 1)
    seasonal_ar[0], seasonal_ar[SEASON_DAYS::SEASON_DAYS] = 1.0, -seasonal_phi
    seasonal_ma = np.zeros(SEASON_DAYS * seasonal_q + 1)
    seasonal_ma[0], seasonal_ma[SEASON_DAYS::SEASON_DAYS] = 1.0, seasonal_theta
    return np.convolve(np.r_[1.0, -phi], seasonal_ar), np.convolve(np.r_[1.0, theta], seasonal_ma)


def _roots_outside_unit_circle(polynomial: np.ndarray) -> bool:
    if len(polynomial) <= 1 or not np.any(polynomial[1:]):
        return True
    return bool(np.all(np.abs(np.roots(polynomial[::-1])) > 1.0))


@dataclass(frozen=True)
class _CssFit:
    order: ArimaOrder
    coefficients: np.ndarray
    mean: float
    sigma2: float
    aicc: float


def _css_fit(differenced: np.ndarray, order: ArimaOrder) -> _CssFit | None:
    """Conditional-sum-of-squares estimate of a SARMA on an already differenced series, or None
    when the estimate is not stationary and invertible."""
    from scipy.optimize import least_squares
    from scipy.signal import lfilter

    n_coefficients = order.p + order.q + order.seasonal_p + order.seasonal_q
    # The first AR-lag days have no full past to condition on; CSS leaves them out.
    conditioned = order.p + SEASON_DAYS * order.seasonal_p

    def residuals(parameters: np.ndarray) -> np.ndarray:
        mean = parameters[n_coefficients] if order.constant else 0.0
        ar, ma = _sarima_polynomials(order, parameters[:n_coefficients])
        return lfilter(ar, ma, differenced - mean)[conditioned:]

    start = np.r_[np.zeros(n_coefficients), [differenced.mean()] if order.constant else []]
    if len(start):
        solution = least_squares(residuals, start, method="lm")
        parameters, errors = solution.x, solution.fun
    else:
        parameters, errors = start, residuals(start)
    ar, ma = _sarima_polynomials(order, parameters[:n_coefficients])
    if not (np.isfinite(parameters).all() and _roots_outside_unit_circle(ar) and _roots_outside_unit_circle(ma)):
        return None
    n_used = len(errors)
    n_parameters = len(parameters) + 1
    if n_used <= n_parameters + 1:
        return None
    # An exactly periodic history leaves no error at all; the floor keeps the likelihood
    # finite, and the orders then differ only by their parameter counts (fewest wins).
    sigma2 = max(float(errors @ errors / n_used), 1e-12 * max(1.0, float(np.mean(differenced**2))))
    log_likelihood = -0.5 * n_used * (math.log(2 * math.pi * sigma2) + 1)
    aicc = -2 * log_likelihood + 2 * n_parameters + 2 * n_parameters * (n_parameters + 1) / (n_used - n_parameters - 1)
    mean = float(parameters[n_coefficients]) if order.constant else 0.0
    return _CssFit(order, parameters[:n_coefficients], mean, sigma2, aicc)


def weekly_seasonal_strength(revenue: np.ndarray) -> float:
    """1 - Var(remainder) / Var(seasonal + remainder) of an STL with period 7, between 0 and 1
    (Wang, Smith & Hyndman, 2006): near 1 when the weekly pattern dominates the noise."""
    from statsmodels.tsa.seasonal import STL

    decomposition = STL(np.asarray(revenue, dtype=float), period=SEASON_DAYS).fit()
    remainder = np.asarray(decomposition.resid)
    detrended = np.asarray(decomposition.seasonal) + remainder
    return float(max(0.0, 1.0 - remainder.var() / detrended.var())) if detrended.var() > 0 else 0.0


@dataclass
class ArimaCandidate:
    """Seasonal ARIMA (p,d,q)(P,D,Q)_7 with the order chosen on the training days.

    - D = 1 (a weekly difference) when the weekly seasonal strength exceeds
      ``seasonal_strength_threshold`` (0.64, the default of R's ``forecast::nsdiffs``).
    - d = 1 when a KPSS test rejects level stationarity of the (weekly differenced) series
      at ``kpss_level``; d is at most 1.
    - p, q <= 2 and P, Q <= 1, and a constant when d + D <= 1, searched stepwise from four
      starting orders towards lower AICc (Hyndman & Khandakar, 2008), at most
      ``max_orders`` orders. Each order is estimated by conditional sum of squares (one
      scipy least-squares fit, milliseconds), as R's ``auto.arima`` does to choose orders
      on long series; exact maximum likelihood (``SARIMAX.fit``) took 0.2 to 5 s per
      order on 540 to 730 days here, too slow for a search in every fold, so the CSS
      estimates are also the ones used. Orders whose estimate is not stationary and
      invertible are skipped.

    The chosen order and its estimates go into statsmodels' ``SARIMAX``, whose Kalman
    filter (no further optimisation) gives the forecast and the analytic widths for
    ``_residual_interval``. ``order`` tells the choice after ``fit``. Steps aside on fewer
    than ``min_days`` days or a history without variation.
    """

    simplicity: ClassVar[int] = 5
    name: str = "arima"
    max_p: int = 2
    max_q: int = 2
    max_seasonal_p: int = 1
    max_seasonal_q: int = 1
    max_orders: int = 30
    seasonal_strength_threshold: float = 0.64
    kpss_level: float = 0.05
    min_days: int = ARIMA_MIN_DAYS
    order: ArimaOrder | None = field(default=None, init=False)
    _result: Any = field(default=None, init=False, repr=False)
    _last_day: pd.Timestamp | None = field(default=None, init=False, repr=False)

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        _require_days(history, self.min_days, self.name, "eight weeks to choose and estimate its order")
        _require_variation(history, self.name)
        revenue = history["revenue"].to_numpy(dtype=float)
        seasonal_d = int(weekly_seasonal_strength(revenue) > self.seasonal_strength_threshold)
        differenced = revenue[SEASON_DAYS:] - revenue[:-SEASON_DAYS] if seasonal_d else revenue
        d = int(self._rejects_stationarity(differenced))
        if d:
            differenced = np.diff(differenced)
        best = self._search(differenced, d, seasonal_d)
        order = best.order
        intercept = best.mean * _sarima_polynomials(order, best.coefficients)[0].sum()
        parameters = np.r_[[intercept] if order.constant else [], best.coefficients, [best.sigma2]]
        model = SARIMAX(
            _daily_series(history),
            order=(order.p, order.d, order.q),
            seasonal_order=(order.seasonal_p, order.seasonal_d, order.seasonal_q, SEASON_DAYS),
            trend="c" if order.constant else "n",
        )
        with _quiet_statsmodels():
            self._result = model.filter(parameters)
        self.order, self._last_day = order, history["date"].iloc[-1]
        return self

    def _rejects_stationarity(self, series: np.ndarray) -> bool:
        from statsmodels.tsa.stattools import kpss

        if series.max() == series.min():
            return False
        with _quiet_statsmodels():
            # The p-value is read from a table clipped to [0.01, 0.1] (statsmodels warns
            # when it is clipped); only the side of 0.05 matters here.
            _, p_value, *_ = kpss(series, regression="c", nlags="auto")
        return bool(p_value < self.kpss_level)

    def _search(self, differenced: np.ndarray, d: int, seasonal_d: int) -> _CssFit:
        constant_allowed = d + seasonal_d <= 1
        fits: dict[ArimaOrder, _CssFit | None] = {}

        def order(p: int, q: int, seasonal_p: int, seasonal_q: int) -> ArimaOrder:
            return ArimaOrder(p, d, q, seasonal_p, seasonal_d, seasonal_q, constant_allowed)

        def within_bounds(candidate: ArimaOrder) -> bool:
            return (
                0 <= candidate.p <= self.max_p
                and 0 <= candidate.q <= self.max_q
                and 0 <= candidate.seasonal_p <= self.max_seasonal_p
                and 0 <= candidate.seasonal_q <= self.max_seasonal_q
            )

        def aicc(candidate: ArimaOrder) -> float:
            if candidate not in fits:
                fits[candidate] = _css_fit(differenced, candidate)
            fit = fits[candidate]
            return math.inf if fit is None else fit.aicc

        starts = [
            order(min(2, self.max_p), min(2, self.max_q), min(1, self.max_seasonal_p), min(1, self.max_seasonal_q)),
            order(0, 0, 0, 0),
            order(min(1, self.max_p), 0, min(1, self.max_seasonal_p), 0),
            order(0, min(1, self.max_q), 0, min(1, self.max_seasonal_q)),
        ]
        best = min(dict.fromkeys(starts), key=aicc)
        steps = [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1), (1, 1, 0, 0), (0, 0, 1, 1)]
        while len(fits) < self.max_orders:
            neighbours = [
                replace(
                    best,
                    p=best.p + sign * dp,
                    q=best.q + sign * dq,
                    seasonal_p=best.seasonal_p + sign * dsp,
                    seasonal_q=best.seasonal_q + sign * dsq,
                )
                for dp, dq, dsp, dsq in steps
                for sign in (1, -1)
            ]
            if constant_allowed:
                neighbours.append(replace(best, constant=not best.constant))
            unvisited = [candidate for candidate in neighbours if within_bounds(candidate) and candidate not in fits]
            unvisited = unvisited[: self.max_orders - len(fits)]
            if not unvisited:
                break
            challenger = min(unvisited, key=aicc)
            if aicc(challenger) >= aicc(best):
                break
            best = challenger
        chosen = fits.get(best)
        if chosen is None:
            raise CandidateNotSupported(
                f"{self.name}: no order in the search gave a stationary, invertible estimate ({len(fits)} tried)"
            )
        return chosen

    def predict(self, horizon: int) -> pd.DataFrame:
        _require_fitted(self._result, self.name)
        frame = self._result.get_forecast(horizon).summary_frame(alpha=1 - INTERVAL_WIDTH)
        yhat = frame["mean"].to_numpy(dtype=float)
        half_widths = frame["mean_ci_upper"].to_numpy(dtype=float) - yhat
        # The first d + 7D residuals are the diffuse start of the differencing, not errors.
        start = self.order.d + SEASON_DAYS * self.order.seasonal_d
        lower, upper = _residual_interval(yhat, half_widths, np.asarray(self._result.resid, dtype=float)[start:])
        return _prediction_frame(self._last_day, yhat, lower, upper)
