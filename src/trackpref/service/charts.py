"""Chart geometry for the dashboard, rendered as inline SVG by a Jinja2 macro.

The dashboard must work offline and without JavaScript, so every chart is
SVG computed on the server: this module turns numbers into rectangles and
label positions, and ``templates/charts.html`` places them, with every label
escaped by Jinja2's autoescaping (a referrer domain or a path is data the
public sent us). No chart library, no CDN.

Three shapes cover the dashboard: bars over days (page views), horizontal
bars for a top-N list (referrers, paths, regions...), and 100 % stacked bars
(the shares of each signal, per platform).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "SIGNAL_COLORS",
    "SIGNAL_LABELS",
    "Bar",
    "Column",
    "HBar",
    "Segment",
    "StackRow",
    "Stacked",
    "TimeBars",
    "TopBars",
    "nice_max",
    "stacked",
    "time_bars",
    "top_bars",
]

#: The signal classes in legend order, with colors that read in grey scale too.
SIGNAL_COLORS = {"gpc": "#1b7f3b", "dnt1": "#3b6fd4", "dnt0": "#e8a317", "unset": "#9aa0a6"}
SIGNAL_LABELS = {"gpc": "GPC", "dnt1": "DNT: 1", "dnt0": "DNT: 0", "unset": "unset"}


def nice_max(value: float) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at or above ``value``."""
    if value <= 1:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str


@dataclass(frozen=True, slots=True)
class Column:
    """An x-axis label under a bar."""

    x: float
    label: str


@dataclass(frozen=True, slots=True)
class TimeBars:
    width: int
    height: int
    top: float
    bottom: float
    left: float
    right: float
    bars: tuple[Bar, ...]
    columns: tuple[Column, ...]
    ticks: tuple[tuple[float, str], ...]
    empty: bool


def time_bars(
    series: Sequence[tuple[str, int]], *, width: int = 640, height: int = 200
) -> TimeBars:
    """Vertical bars, one per day; every few days labelled so labels never overlap."""
    left, right, top, bottom = 44.0, float(width - 8), 10.0, float(height - 24)
    n = max(1, len(series))
    slot = (right - left) / n
    peak = nice_max(max((v for _, v in series), default=0))
    bars: list[Bar] = []
    columns: list[Column] = []
    every = max(1, round(n / 8))
    for i, (day, value) in enumerate(series):
        h = (bottom - top) * value / peak
        x = left + i * slot + slot * 0.15
        bars.append(Bar(x, bottom - h, max(1.0, slot * 0.7), h, value, day))
        if (n - 1 - i) % every == 0:  # anchored on the last day, evenly spaced
            columns.append(Column(left + i * slot + slot / 2, day[5:]))
    ticks = tuple((bottom - (bottom - top) * f, f"{round(peak * f):,}") for f in (0.0, 0.5, 1.0))
    return TimeBars(
        width,
        height,
        top,
        bottom,
        left,
        right,
        tuple(bars),
        tuple(columns),
        ticks,
        not any(v for _, v in series),
    )


@dataclass(frozen=True, slots=True)
class HBar:
    y: float
    width: float
    value: int
    share: float
    label: str


@dataclass(frozen=True, slots=True)
class TopBars:
    width: int
    height: int
    label_width: float
    bar_height: float
    bars: tuple[HBar, ...]
    empty: bool


def top_bars(items: Sequence[tuple[str, int]], *, width: int = 420, row: float = 22.0) -> TopBars:
    """Horizontal bars for a ranked list (largest first)."""
    label_width = 170.0
    total = sum(v for _, v in items) or 1
    peak = max((v for _, v in items), default=0) or 1
    room = width - label_width - 100  # room on the right for "1,234 · 56.7 %"
    bars = tuple(
        HBar(i * row + 4, max(1.0, room * v / peak) if v else 0.0, v, v / total, label)
        for i, (label, v) in enumerate(items)
    )
    height = int(max(1, len(items)) * row + 8)
    return TopBars(width, height, label_width, row - 6, bars, not items)


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    width: float
    value: int
    share: float
    key: str
    color: str
    label: str


@dataclass(frozen=True, slots=True)
class StackRow:
    y: float
    label: str
    total: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Stacked:
    width: int
    height: int
    left: float
    bar_height: float
    rows: tuple[StackRow, ...]
    legend: tuple[tuple[str, str, str], ...]
    empty: bool


def stacked(
    rows: Sequence[tuple[str, Mapping[str, int]]],
    *,
    keys: Sequence[str] = tuple(SIGNAL_COLORS),
    colors: Mapping[str, str] = SIGNAL_COLORS,
    labels: Mapping[str, str] = SIGNAL_LABELS,
    width: int = 640,
    row: float = 30.0,
) -> Stacked:
    """100 % stacked bars: each row's shares of ``keys`` (the signal classes)."""
    left = 110.0
    room = width - left - 60
    out: list[StackRow] = []
    for i, (label, counts) in enumerate(rows):
        total = sum(counts.get(k, 0) for k in keys)
        x = left
        segs: list[Segment] = []
        for k in keys:
            v = counts.get(k, 0)
            if not v or not total:
                continue
            w = room * v / total
            segs.append(Segment(x, w, v, v / total, k, colors[k], labels.get(k, k)))
            x += w
        out.append(StackRow(i * row + 26, label, total, tuple(segs)))
    legend = tuple((k, colors[k], labels.get(k, k)) for k in keys)
    height = int(max(1, len(rows)) * row + 30)
    return Stacked(width, height, left, row - 10, tuple(out), legend, not any(r.total for r in out))
