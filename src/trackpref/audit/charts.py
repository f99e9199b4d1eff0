"""Geometry for the report's inline SVG bar charts.

The HTML report must work offline and from a file, so charts are plain SVG
drawn from numbers computed here; the template only places rectangles and
labels (and escapes every label). No chart library, no script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Bar", "Chart", "grouped_bars", "nice_max"]


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    series: int
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    plot_top: float
    plot_bottom: float
    plot_left: float
    bars: tuple[Bar, ...]
    #: (x of the group's centre, label)
    groups: tuple[tuple[float, str], ...]
    series: tuple[str, ...]
    #: (y, label) for horizontal grid lines.
    ticks: tuple[tuple[float, str], ...]


def nice_max(value: int) -> int:
    """The axis top: the smallest 1, 2 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def grouped_bars(
    groups: Sequence[str],
    series: Sequence[str],
    values: Sequence[Sequence[int]],
    *,
    width: int = 560,
    height: int = 220,
) -> Chart:
    """Bars for ``values[group][series]``, groups side by side."""
    if len(values) != len(groups) or any(len(v) != len(series) for v in values):
        raise ValueError("values must be groups x series")
    left, right, top, bottom = 36.0, 8.0, 10.0, height - 40.0
    top_value = nice_max(max((max(v, default=0) for v in values), default=0))
    plot_w = width - left - right
    group_w = plot_w / max(len(groups), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    bars: list[Bar] = []
    centres: list[tuple[float, str]] = []
    for g, (name, row) in enumerate(zip(groups, values, strict=True)):
        start = left + g * group_w + group_w * 0.1
        centres.append((start + group_w * 0.4, name))
        for s, value in enumerate(row):
            h = (bottom - top) * value / top_value
            bars.append(
                Bar(
                    x=round(start + s * bar_w, 2),
                    y=round(bottom - h, 2),
                    width=round(bar_w * 0.92, 2),
                    height=round(h, 2),
                    value=value,
                    series=s,
                    label=f"{name}: {series[s]} {value}",
                )
            )
    ticks = tuple(
        (round(bottom - (bottom - top) * i / 4, 2), f"{top_value * i / 4:g}") for i in range(5)
    )
    return Chart(
        width, height, top, bottom, left, tuple(bars), tuple(centres), tuple(series), ticks
    )
