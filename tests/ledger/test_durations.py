from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.ledger.durations import Duration, DurationError, Unit, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10d", Duration(10, Unit.DAYS)),
        ("24h", Duration(24, Unit.HOURS)),
        ("13 months", Duration(13, Unit.MONTHS)),
        ("1 year", Duration(1, Unit.YEARS)),
        ("7 years", Duration(7, Unit.YEARS)),
        ("90 days", Duration(90, Unit.DAYS)),
        ("30min", Duration(30, Unit.MINUTES)),
        ("2w", Duration(2, Unit.WEEKS)),
        ("45s", Duration(45, Unit.SECONDS)),
        ("  3 Hours ", Duration(3, Unit.HOURS)),
        ("P10D", Duration(10, Unit.DAYS)),
        ("P13M", Duration(13, Unit.MONTHS)),
        ("PT24H", Duration(24, Unit.HOURS)),
        ("PT5M", Duration(5, Unit.MINUTES)),
    ],
)
def test_parses(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("30m", "ambiguous"),
        ("10", "not a duration"),
        ("ten days", "not a duration"),
        ("-1d", "not a duration"),
        ("0d", "positive"),
        ("5 fortnights", "unknown unit"),
        ("1.5d", "not a duration"),
        ("1000 years", "longer than 100 years"),
        ("", "not a duration"),
        ("10d; DROP TABLE events", "not a duration"),
    ],
)
def test_refuses_with_reason(text: str, needle: str) -> None:
    with pytest.raises(DurationError, match=needle) as info:
        parse_duration(text, field="datasets.x.retention")
    assert info.value.field == "datasets.x.retention"


def test_refuses_non_strings() -> None:
    with pytest.raises(DurationError, match="got int"):
        parse_duration(10)


def test_str_is_readable() -> None:
    assert str(Duration(1, Unit.MONTHS)) == "1 month"
    assert str(Duration(13, Unit.MONTHS)) == "13 months"


def test_calendar_cutoff_clamps_to_month_end() -> None:
    now = datetime(2025, 3, 31, 12, 0, tzinfo=UTC)
    assert Duration(1, Unit.MONTHS).before(now) == datetime(2025, 2, 28, 12, 0, tzinfo=UTC)
    assert Duration(13, Unit.MONTHS).before(now) == datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    assert Duration(1, Unit.YEARS).before(datetime(2024, 2, 29, tzinfo=UTC)) == datetime(
        2023, 2, 28, tzinfo=UTC
    )


def test_at_most_is_conservative() -> None:
    ten_days = Duration(10, Unit.DAYS)
    assert Duration(240, Unit.HOURS).at_most(ten_days)
    assert not Duration(241, Unit.HOURS).at_most(ten_days)
    assert Duration(12, Unit.MONTHS).at_most(Duration(1, Unit.YEARS))
    assert not Duration(13, Unit.MONTHS).at_most(Duration(1, Unit.YEARS))
    # A month may be 31 days: never "at most" 30 days.
    assert not Duration(1, Unit.MONTHS).at_most(Duration(30, Unit.DAYS))
    assert Duration(28, Unit.DAYS).at_most(Duration(1, Unit.MONTHS))


units = st.sampled_from(list(Unit))


@given(st.integers(1, 1000), units)
def test_round_trip_through_text(amount: int, unit: Unit) -> None:
    try:
        d = Duration(amount, unit)
    except DurationError:
        return
    assert parse_duration(str(d)) == d


@given(
    st.integers(1, 1200),
    units,
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_cutoff_is_in_the_past_and_within_bounds(amount: int, unit: Unit, now: datetime) -> None:
    try:
        d = Duration(amount, unit)
    except DurationError:
        return
    cut = d.before(now)
    gap = (now - cut).total_seconds()
    assert d.min_seconds <= gap <= d.max_seconds


@given(st.text(max_size=30))
def test_never_raises_anything_but_duration_error(text: str) -> None:
    with contextlib.suppress(DurationError):
        parse_duration(text)
