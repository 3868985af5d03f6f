import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportello.catalog.models import CYCLE_MONTHS, Cycle
from sportello.services.periods import add_months, period_after, periods_from

RECURRING = sorted(CYCLE_MONTHS)
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2200, 12, 31))


@pytest.mark.parametrize(
    ("start", "cycle", "end"),
    [
        (dt.date(2026, 1, 31), Cycle.MONTHLY, dt.date(2026, 2, 28)),
        (dt.date(2028, 1, 31), Cycle.MONTHLY, dt.date(2028, 2, 29)),
        (dt.date(2026, 1, 15), Cycle.MONTHLY, dt.date(2026, 2, 15)),
        (dt.date(2026, 11, 30), Cycle.QUARTERLY, dt.date(2027, 2, 28)),
        (dt.date(2026, 8, 31), Cycle.SEMIANNUAL, dt.date(2027, 2, 28)),
        (dt.date(2028, 2, 29), Cycle.ANNUAL, dt.date(2029, 2, 28)),
        (dt.date(2026, 12, 1), Cycle.BIENNIAL, dt.date(2028, 12, 1)),
        (dt.date(2026, 3, 31), Cycle.TRIENNIAL, dt.date(2029, 3, 31)),
    ],
)
def test_it_adds_calendar_months(start, cycle, end):
    assert period_after(start, cycle) == end


def test_it_comes_back_to_the_anchor_day_after_a_short_month():
    ends = [
        end for _, end in periods_from(dt.date(2026, 1, 31), Cycle.MONTHLY, anchor_day=31, until=dt.date(2026, 6, 1))
    ]
    assert ends == [
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 31),
        dt.date(2026, 4, 30),
        dt.date(2026, 5, 31),
        dt.date(2026, 6, 30),
    ]
    # A leap-day anniversary returns on the next 29 February.
    starts = [start for start, _ in periods_from(dt.date(2028, 2, 29), Cycle.ANNUAL, until=dt.date(2033, 1, 1))]
    assert starts == [dt.date(y, 2, d) for y, d in [(2028, 29), (2029, 28), (2030, 28), (2031, 28), (2032, 29)]]


def test_a_one_time_price_has_no_period():
    with pytest.raises(ValueError, match="no period"):
        period_after(dt.date(2026, 1, 1), Cycle.ONE_TIME)
    with pytest.raises(ValueError, match="anchor day"):
        add_months(dt.date(2026, 1, 1), 1, anchor_day=32)


@given(start=dates, cycle=st.sampled_from(RECURRING))
def test_a_period_ends_after_it_starts_and_lasts_its_months(start, cycle):
    end = period_after(start, cycle)
    assert end > start
    months = (end.year - start.year) * 12 + end.month - start.month
    assert months == CYCLE_MONTHS[cycle]
    assert end.day == start.day or (end.day < start.day and (end + dt.timedelta(days=1)).day == 1)


@given(anchor=dates, cycle=st.sampled_from(RECURRING), count=st.integers(min_value=1, max_value=40))
def test_consecutive_periods_tile_without_gaps_or_overlaps(anchor, cycle, count):
    periods = []
    start = anchor
    for _ in range(count):
        end = period_after(start, cycle, anchor_day=anchor.day)
        periods.append((start, end))
        start = end
    for (_, end), (next_start, _) in itertools.pairwise(periods):
        assert end == next_start
    covered = sum((end - start).days for start, end in periods)
    assert covered == (periods[-1][1] - anchor).days
    assert all(end > start for start, end in periods)


@given(anchor=dates)
def test_twelve_monthly_periods_make_one_annual_period(anchor):
    start = anchor
    for _ in range(12):
        start = period_after(start, Cycle.MONTHLY, anchor_day=anchor.day)
    assert start == period_after(anchor, Cycle.ANNUAL, anchor_day=anchor.day)


@given(anchor=dates, cycle=st.sampled_from(RECURRING))
def test_shorter_cycles_add_up_to_longer_ones_from_the_same_anchor(anchor, cycle):
    months = CYCLE_MONTHS[cycle]
    start = anchor
    for _ in range(months):
        start = period_after(start, Cycle.MONTHLY, anchor_day=anchor.day)
    assert start == period_after(anchor, cycle, anchor_day=anchor.day)
