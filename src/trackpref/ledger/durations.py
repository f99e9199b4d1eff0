"""Retention periods as typed values, not free text.

An inventory that says ``retention = "13 months"`` has made a promise a
scheduler must keep, so the text is parsed once into a :class:`Duration` and
every later comparison and cutoff is computed from it. Calendar units (months,
years) are kept as calendar units: "13 months" before 31 March is the last day
of February, not 395 days, because that is what a person reading the
transparency page understands.

A bare ``m`` is refused: "30m" is thirty minutes to an engineer and thirty
months to a lawyer, and a retention rule is the worst place to guess.
"""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from trackpref.signals.errors import SignalError

__all__ = ["Duration", "DurationError", "Unit", "parse_duration"]


class DurationError(SignalError):
    """A duration that cannot be read; ``field`` names where it came from."""


class Unit(enum.StrEnum):
    SECONDS = "seconds"
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"


_FIXED_SECONDS = {
    Unit.SECONDS: 1,
    Unit.MINUTES: 60,
    Unit.HOURS: 3600,
    Unit.DAYS: 86400,
    Unit.WEEKS: 7 * 86400,
}

#: Longest and shortest lengths of a calendar unit, for safe comparisons.
_CALENDAR_BOUNDS = {
    Unit.MONTHS: (28 * 86400, 31 * 86400),
    Unit.YEARS: (365 * 86400, 366 * 86400),
}

_UNIT_NAMES: dict[str, Unit] = {
    "s": Unit.SECONDS,
    "sec": Unit.SECONDS,
    "secs": Unit.SECONDS,
    "second": Unit.SECONDS,
    "seconds": Unit.SECONDS,
    "min": Unit.MINUTES,
    "mins": Unit.MINUTES,
    "minute": Unit.MINUTES,
    "minutes": Unit.MINUTES,
    "h": Unit.HOURS,
    "hr": Unit.HOURS,
    "hrs": Unit.HOURS,
    "hour": Unit.HOURS,
    "hours": Unit.HOURS,
    "d": Unit.DAYS,
    "day": Unit.DAYS,
    "days": Unit.DAYS,
    "w": Unit.WEEKS,
    "wk": Unit.WEEKS,
    "week": Unit.WEEKS,
    "weeks": Unit.WEEKS,
    "mo": Unit.MONTHS,
    "mon": Unit.MONTHS,
    "month": Unit.MONTHS,
    "months": Unit.MONTHS,
    "y": Unit.YEARS,
    "yr": Unit.YEARS,
    "yrs": Unit.YEARS,
    "year": Unit.YEARS,
    "years": Unit.YEARS,
}

_ISO_UNITS = {"Y": Unit.YEARS, "M": Unit.MONTHS, "W": Unit.WEEKS, "D": Unit.DAYS}
_ISO_TIME_UNITS = {"H": Unit.HOURS, "M": Unit.MINUTES, "S": Unit.SECONDS}

_TEXT = re.compile(r"\s*(\d{1,6})\s*([A-Za-z]+)\s*\Z")
_ISO = re.compile(r"P(?:(\d{1,6})([YMWD])|T(\d{1,6})([HMS]))\Z")

#: Nothing in an inventory is kept longer than this; a typo of "1000 years"
#: is caught instead of being honored.
MAX_YEARS = 100


@dataclass(frozen=True, slots=True, order=False)
class Duration:
    """A whole number of one unit: ``Duration(13, Unit.MONTHS)``."""

    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise DurationError(f"a duration must be positive, not {self.amount}")
        if self.max_seconds > MAX_YEARS * 366 * 86400:
            raise DurationError(f"{self} is longer than {MAX_YEARS} years")

    @property
    def min_seconds(self) -> int:
        """The shortest this duration can be (a month may have 28 days)."""
        if self.unit in _FIXED_SECONDS:
            return self.amount * _FIXED_SECONDS[self.unit]
        return self.amount * _CALENDAR_BOUNDS[self.unit][0]

    @property
    def max_seconds(self) -> int:
        """The longest this duration can be; used to check "at most 10 days"."""
        if self.unit in _FIXED_SECONDS:
            return self.amount * _FIXED_SECONDS[self.unit]
        return self.amount * _CALENDAR_BOUNDS[self.unit][1]

    def at_most(self, other: Duration) -> bool:
        """True when this duration is never longer than ``other``."""
        mine, theirs = self._months(), other._months()
        if mine is not None and theirs is not None:
            return mine <= theirs
        return self.max_seconds <= other.min_seconds

    def _months(self) -> int | None:
        if self.unit is Unit.MONTHS:
            return self.amount
        if self.unit is Unit.YEARS:
            return self.amount * 12
        return None

    def before(self, moment: datetime) -> datetime:
        """The instant this long before ``moment``: a retention cutoff.

        Calendar units step back by calendar months, clamping the day to the
        end of a shorter month (31 March minus one month is 28 or 29 February).
        """
        if self.unit in _FIXED_SECONDS:
            return moment - timedelta(seconds=self.amount * _FIXED_SECONDS[self.unit])
        months = self.amount * (12 if self.unit is Unit.YEARS else 1)
        total = moment.year * 12 + (moment.month - 1) - months
        year, month = divmod(total, 12)
        month += 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)

    def cutoff(self, now: float) -> float:
        """Epoch seconds: a row stamped at or before this has reached this age at ``now``."""
        if self.unit in _FIXED_SECONDS:
            return now - self.amount * _FIXED_SECONDS[self.unit]
        return self.before(datetime.fromtimestamp(now, UTC)).timestamp()

    def __str__(self) -> str:
        name = self.unit.value
        return f"{self.amount} {name[:-1] if self.amount == 1 else name}"

    def to_json(self) -> dict[str, object]:
        return {"amount": self.amount, "unit": self.unit.value, "text": str(self)}


def parse_duration(text: object, *, field: str | None = None) -> Duration:
    """Read ``"10d"``, ``"24h"``, ``"13 months"``, ``"1 year"`` or ISO ``"P10D"``.

    ``field`` is carried into the error so that an inventory problem names
    the field it came from.
    """
    if not isinstance(text, str):
        raise DurationError(
            f"expected a duration such as '10d' or '13 months', got {type(text).__name__}",
            field=field,
        )
    iso = _ISO.match(text.strip().upper())
    if iso is not None:
        if iso.group(1) is not None:
            amount, unit = int(iso.group(1)), _ISO_UNITS[iso.group(2)]
        else:
            amount, unit = int(iso.group(3)), _ISO_TIME_UNITS[iso.group(4)]
        return _build(amount, unit, text, field)
    m = _TEXT.match(text)
    if m is None:
        raise DurationError(
            f"{text!r} is not a duration: write a whole number and a unit, "
            "e.g. '10d', '24h', '13 months'",
            field=field,
        )
    amount = int(m.group(1))
    name = m.group(2).lower()
    if name == "m":
        raise DurationError(
            f"{text!r} is ambiguous: write 'min' for minutes or 'months' for months",
            field=field,
        )
    found = _UNIT_NAMES.get(name)
    if found is None:
        raise DurationError(
            f"{text!r}: unknown unit {m.group(2)!r} (use s, min, h, d, w, months or years)",
            field=field,
        )
    return _build(amount, found, text, field)


def _build(amount: int, unit: Unit, text: str, field: str | None) -> Duration:
    try:
        return Duration(amount, unit)
    except DurationError as exc:
        raise DurationError(f"{text!r}: {exc.message}", field=field) from None
