"""One retail calendar for the generator and the forecast."""

from datetime import date, timedelta

from ml import retail_calendar as calendar

# Black Friday as Brazil's retailers kept it (the day after US Thanksgiving).
KNOWN = {2016: 25, 2017: 24, 2018: 23, 2019: 29, 2020: 27, 2021: 26, 2022: 25, 2023: 24, 2024: 29, 2025: 28}


def test_black_friday_is_the_day_after_the_fourth_thursday_of_november_2016_to_2030():
    for year in range(2016, 2031):
        friday = calendar.black_friday(year)
        thursdays = [day for day in (date(year, 11, d) for d in range(1, 31)) if day.weekday() == 3]
        assert friday == thursdays[3] + timedelta(days=1)
        assert friday.weekday() == 4 and 23 <= friday.day <= 29
        assert calendar.cyber_monday(year) == friday + timedelta(days=3)
        assert calendar.cyber_monday(year).weekday() == 0
    assert {year: calendar.black_friday(year).day for year in KNOWN} == KNOWN
    # November 2019 and 2030 start on a Friday: the fifth Friday, not the fourth.
    assert calendar.black_friday(2030) == date(2030, 11, 29)


def test_the_generator_and_the_forecast_use_the_same_calendar():
    import ml.forecast.events
    from retail_intel.generator import model

    assert model.black_friday is calendar.black_friday
    assert ml.forecast.events.black_friday is calendar.black_friday
