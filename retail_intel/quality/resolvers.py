"""Kwargs that depend on the data or on configuration, filled in before GX runs (see the package docstring)."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from retail_intel.quality.model import Check, QualityConfig, QualityError


@dataclass(frozen=True)
class Resolution:
    check: Check
    frame: pd.DataFrame
    context_frames: Mapping[str, pd.DataFrame]
    config: QualityConfig

    def fail(self, message: str) -> QualityError:
        return QualityError(f"check {self.check.name} on {self.check.table}: {message}")

    def column_of(self, argument: object, resolver: str) -> pd.Series:
        if not isinstance(argument, dict) or not isinstance(argument.get("column"), str):
            raise self.fail(f"{resolver} needs {{table: ..., column: ...}}, got {argument!r}")
        table = argument.get("table", self.check.table)
        if table == self.check.table:
            frame = self.frame
        elif table in self.context_frames:
            frame = self.context_frames[table]
        else:
            raise self.fail(f"{resolver} reads table {table!r}: pass it in context_frames")
        if argument["column"] not in frame.columns:
            raise self.fail(f"{resolver} reads {table}.{argument['column']}, which that frame lacks")
        return frame[argument["column"]]


def _config(argument: object, resolution: Resolution) -> object:
    if argument not in {config_field.name for config_field in dataclasses.fields(resolution.config)}:
        raise resolution.fail(f"config {argument!r} is not a field of QualityConfig")
    return getattr(resolution.config, argument)


def _absent_from(argument: object, resolution: Resolution) -> list:
    # The suite asks "every value is in the other column". Handing GX the other column's
    # values as a value_set took over 10 s for the 100K order ids on the 114K-row items
    # table: GX 1.x re-serialises an expectation's kwargs on every metric lookup. The
    # orphans, the values that are NOT there, are the same test inverted
    # (ExpectColumnValuesToNotBeInSet) and usually none or a handful.
    column = resolution.check.kwargs.get("column")
    if not isinstance(column, str) or column not in resolution.frame.columns:
        raise resolution.fail("absent_from needs the check's own column to be in the frame")
    reference = resolution.column_of(argument, "absent_from").dropna().unique()
    values = pd.Series(resolution.frame[column].dropna().unique())
    orphans = values[~values.isin(reference)]
    return sorted((_plain(value) for value in orphans), key=str)


def _max_of(argument: object, resolution: Resolution) -> object:
    values = resolution.column_of(argument, "max_of").dropna()
    if values.empty:
        raise resolution.fail(f"max_of {argument!r}: the column has no values")
    return _plain(values.max())


def _days_before(argument: object, resolution: Resolution) -> datetime:
    if not isinstance(argument, dict) or set(argument) != {"date", "days"}:
        raise resolution.fail(f"days_before needs {{date: ..., days: ...}}, got {argument!r}")
    days = argument["days"]
    if isinstance(days, bool) or not isinstance(days, numbers.Integral):
        raise resolution.fail(f"days_before: days must be a whole number, got {days!r}")
    day = pd.Timestamp(argument["date"]).normalize()
    return (day - pd.Timedelta(days=int(days))).to_pydatetime()


def _calendar_days_between(argument: object, resolution: Resolution) -> int:
    days = pd.to_datetime(resolution.column_of(argument, "calendar_days_between").dropna()).dt.normalize()
    if days.empty:
        return 0
    return (days.max() - days.min()).days + 1


_RESOLVERS: dict[str, Callable[[Any, Resolution], object]] = {
    "config": _config,
    "absent_from": _absent_from,
    "max_of": _max_of,
    "days_before": _days_before,
    "calendar_days_between": _calendar_days_between,
}


def resolve(value: object, resolution: Resolution) -> object:
    """Resolvers nest: the innermost are evaluated first."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in _RESOLVERS:
            name, argument = next(iter(value.items()))
            return _RESOLVERS[name](resolve(argument, resolution), resolution)
        return {key: resolve(inner, resolution) for key, inner in value.items()}
    if isinstance(value, list):
        return [resolve(inner, resolution) for inner in value]
    return value


def _plain(value: object) -> object:
    """A numpy/pandas scalar as the plain Python value GX and JSON accept."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value
