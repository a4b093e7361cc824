"""Retail dates shared by the forecast (which models them) and the generator (which plants
their effects), so that the two never disagree on when a shopping event falls. Plain
Python in ml/, which imports nothing of the platform; the generator imports it from here."""

from __future__ import annotations

from datetime import date, timedelta


def black_friday(year: int) -> date:
    """The day after the fourth Thursday of November (US Thanksgiving), as Brazil keeps it.

    Usually the fourth Friday of November, but the fifth when November starts on a Friday
    (2019, 2024, 2030: the 29th, not the 22nd).
    """
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(weeks=3, days=1)


def cyber_monday(year: int) -> date:
    """The Monday after Black Friday."""
    return black_friday(year) + timedelta(days=3)
