"""Bar charts drawn on the server as inline SVG: one look for the report and the dashboard.

The offline audit report and the collection service's dashboard must both
work without script, without a network and from a file, so a chart is SVG
computed here from plain numbers: no chart library, no CDN. Three shapes
cover both: :func:`columns` (groups side by side, a colour per series; a time
series is columns with one series), :func:`bar_list` (a ranked list of
horizontal bars) and :func:`share_bars` (100 % stacked bars). Every label is
collected or crawled data and is escaped by :class:`~.svg.Drawing`.

Values are counts. A negative one (a bug upstream, never data) is drawn as
zero so that no mark leaves its plot, while its tip still says the number;
a chart with nothing above zero says so in words instead of showing blank
axes that read as "all fine".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup

from .svg import Drawing

__all__ = [
    "GRID",
    "INK",
    "MUTED",
    "PALETTE",
    "bar_list",
    "columns",
    "count",
    "nice_max",
    "share_bars",
    "ticks",
]

#: Series colours in order; they stay apart in grey scale and for the common
#: colour-vision deficiencies, and cycle when there are more series.
PALETTE = (
    "#3b6fd4",
    "#e8a317",
    "#1b7f3b",
    "#c2410c",
    "#8e5cc4",
    "#0e7c86",
    "#9aa0a6",
    "#6d4c41",
)
INK = "#1d1d1f"
MUTED = "#5f6368"
GRID = "#e3e3e8"

#: The width of an average glyph at 11–12 px, to fit labels without measuring text.
_GLYPH = 6.6
#: How many values a chart's ``<desc>`` spells out before it summarises the rest.
_DESC_ITEMS = 60
_LEGEND_ROW = 18.0


def nice_max(value: float) -> int:
    """The axis top: the smallest of 1, 2 or 5 times a power of ten at or above ``value``."""
    if value != value or value == math.inf:
        raise ValueError(f"nice_max: a finite number is needed, not {value!r}")
    if value <= 1:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def ticks(top: int) -> tuple[int, ...]:
    """Grid values from 0 to ``top`` in equal whole steps, so no label reads 1.25."""
    for parts in (4, 5, 2):
        if top % parts == 0:
            return tuple(top * i // parts for i in range(parts + 1))
    return (0, top)


def count(value: int) -> str:
    """A count for a label: ``1,234``; past a billion ``2e12``, as long numbers crowd an axis."""
    if abs(value) < 10**9:
        return f"{value:,}"
    digits = str(abs(value))
    significant = digits.rstrip("0")
    mantissa = significant[0] + (f".{significant[1:4]}" if len(significant) > 1 else "")
    return f"{'-' if value < 0 else ''}{mantissa}e{len(digits) - 1}"


def _pct(share: float) -> str:
    return f"{share * 100:.1f} %"


def _fit(label: str, chars: int) -> str:
    """``label`` cut to ``chars`` characters with an ellipsis; the tip keeps it whole."""
    return label if len(label) <= chars else label[: max(chars - 1, 1)] + "…"


def _describe(parts: Sequence[str], empty_text: str) -> str:
    """The data in words for ``<desc>``: the first values, then how many more."""
    if not parts:
        return empty_text
    more = len(parts) - _DESC_ITEMS
    return "; ".join(parts[:_DESC_ITEMS]) + (f"; and {more} more" if more > 0 else "")


def _legend_layout(
    labels: Sequence[str], left: float, right: float
) -> tuple[list[tuple[float, float, str, str]], float]:
    """Colour keys flowing left to right and wrapping: ((x, y, shown, full)...), height."""
    placed: list[tuple[float, float, str, str]] = []
    x, y = left, 0.0
    for label in labels:
        shown = _fit(label, 32)
        step = 16 + len(shown) * _GLYPH + 14
        if x > left and x + step > right:
            x, y = left, y + _LEGEND_ROW
        placed.append((x, y, shown, label))
        x += step
    return placed, (y + _LEGEND_ROW if labels else 0.0)


def _draw_legend(
    drawing: Drawing, placed: Sequence[tuple[float, float, str, str]], colors: Sequence[str]
) -> None:
    for (x, y, shown, label), color in zip(placed, colors, strict=True):
        drawing.rect(x, y + 4, 12, 12, fill=color, tip=label, css_class="chart-key")
        drawing.text(x + 16, y + 14, shown, fill=INK, size=12, css_class="chart-key")


def _row_label(drawing: Drawing, right: float, y: float, label: str, chars: int) -> None:
    """A row's name, right-aligned before its bar; cut to ``chars``, whole in its tip."""
    drawing.text(
        right,
        y,
        _fit(label, chars),
        fill=INK,
        size=12,
        anchor="end",
        tip=label,
        css_class="chart-label",
    )


def _say_empty(drawing: Drawing, x: float, y: float, text: str, anchor: str = "middle") -> None:
    drawing.text(x, y, text, fill=MUTED, size=12, anchor=anchor, css_class="chart-empty")


def _group_labels(
    groups: Sequence[str], left: float, slot: float, width: float
) -> list[tuple[int, float, str]]:
    """(index, centre, text) of the group labels to write.

    Every k-th, counted back from the last group so that the newest day is
    always named; none past an edge of the picture, none over its neighbour.
    """
    shown = [_fit(g, 16) for g in groups]
    widest = max((len(s) for s in shown), default=0) * _GLYPH + 8
    every = max(1, math.ceil(widest / slot))
    placed: list[tuple[int, float, str]] = []
    limit = width
    for g in range(len(groups) - 1, -1, -1):
        if (len(groups) - 1 - g) % every:
            continue
        half = len(shown[g]) * _GLYPH / 2
        centre = min(max(left + g * slot + slot / 2, half), width - half)
        if centre + half <= limit:
            placed.append((g, centre, shown[g]))
            limit = centre - half - 4
    return placed[::-1]


def columns(
    groups: Sequence[str],
    series: Sequence[str],
    values: Sequence[Sequence[int]],
    *,
    title: str,
    html_id: str | None = None,
    colors: Sequence[str] = PALETTE,
    width: int = 560,
    height: int = 220,
    value_labels: bool = True,
    empty_text: str = "nothing yet",
) -> Markup:
    """Vertical bars for ``values[group][series]``, groups side by side.

    A legend names the series when there is more than one. Group labels are
    thinned (counted back from the last group) so they never overlap, and a
    bar's own value is written above it when it fits. ``height`` is the plot's
    share of the picture; a legend that wraps adds to it rather than
    squeezing the bars.
    """
    if len(values) != len(groups) or any(len(row) != len(series) for row in values):
        raise ValueError(
            f"values must be groups x series ({len(groups)} x {len(series)}), "
            f"got {[len(row) for row in values]}"
        )
    if not series:
        raise ValueError("series: at least one is needed")
    if not colors:
        raise ValueError("colors: at least one is needed")
    peak = max((v for row in values for v in row), default=0)
    top_value = nice_max(peak)
    grid = ticks(top_value)
    left = min(max(36.0, max(len(count(t)) for t in grid) * _GLYPH + 10), width / 3)
    right = width - 8.0
    placed, legend_h = _legend_layout(series if len(series) > 1 else (), left, right)
    top = legend_h + (18.0 if value_labels else 10.0)  # room for a value over the top bar
    bottom = top + max(height - 34.0, 20.0)
    total_h = bottom + 24.0
    plot_h = bottom - top
    slot = (right - left) / max(len(groups), 1)
    bar_w = slot * 0.8 / len(series)
    hue = [colors[i % len(colors)] for i in range(len(series))]
    many = len(series) > 1

    parts = [
        f"{g}: " + ", ".join(f"{s} {count(v)}" for s, v in zip(series, row, strict=True))
        if many
        else f"{g}: {count(row[0])}"
        for g, row in zip(groups, values, strict=True)
    ]
    empty = peak <= 0
    drawing = Drawing(
        width,
        total_h,
        title=title,
        desc=_describe([] if empty else parts, empty_text),
        html_id=html_id,
    )
    _draw_legend(drawing, placed, hue[: len(placed)])
    for t in grid:
        y = bottom - plot_h * (t / top_value)
        drawing.line(left, y, right, y, stroke=GRID)
        drawing.text(left - 6, y + 4, count(t), fill=MUTED, anchor="end", css_class="chart-tick")

    for g, (name, row) in enumerate(zip(groups, values, strict=True)):
        start = left + g * slot + slot * 0.1
        for s, value in enumerate(row):
            # The counts divide first: past 1e308 an int times a float overflows.
            h = plot_h * (max(value, 0) / top_value)
            x = start + s * bar_w
            tip = f"{name}: {series[s]} {count(value)}" if many else f"{name}: {count(value)}"
            drawing.rect(
                x,
                bottom - h,
                max(bar_w * 0.92, 0.5),
                h,
                fill=hue[s],
                tip=tip,
                css_class="chart-mark",
            )
            label = count(value)
            if value_labels and value > 0 and len(label) * _GLYPH * 0.85 <= bar_w:
                drawing.text(
                    x + bar_w * 0.46,
                    bottom - h - 3,
                    label,
                    fill=MUTED,
                    size=10,
                    anchor="middle",
                    css_class="chart-value",
                )
    for g, centre, shown in _group_labels(groups, left, slot, width):
        drawing.text(
            centre,
            bottom + 16,
            shown,
            fill=MUTED,
            anchor="middle",
            tip=groups[g],
            css_class="chart-label",
        )
    if empty:
        _say_empty(drawing, (left + right) / 2, (top + bottom) / 2, empty_text)
    return drawing.markup()


def bar_list(
    items: Sequence[tuple[str, int]],
    *,
    title: str,
    html_id: str | None = None,
    color: str = PALETTE[0],
    width: int = 420,
    row: float = 22.0,
    empty_text: str = "nothing yet",
) -> Markup:
    """Horizontal bars for a ranked list, in the order given, each with its count and share."""
    label_width = 170.0
    total = sum(max(v, 0) for _, v in items)
    peak = max((v for _, v in items), default=0)
    room = width - label_width - 100  # on the right: "1,234 · 56.7 %"
    bar_h = row - 6
    parts = [
        f"{label}: {count(v)} ({_pct(max(v, 0) / total if total else 0.0)})" for label, v in items
    ]
    drawing = Drawing(
        width,
        max(1, len(items)) * row + 8,
        title=title,
        desc=_describe(parts, empty_text),
        html_id=html_id,
    )
    for i, (label, value) in enumerate(items):
        y = i * row + 4
        share = max(value, 0) / total if total else 0.0
        w = max(1.0, room * (value / peak)) if value > 0 else 0.0
        _row_label(drawing, label_width - 8, y + bar_h - 3, label, 22)
        drawing.rect(
            label_width,
            y,
            w,
            bar_h,
            fill=color,
            tip=f"{label}: {count(value)}",
            css_class="chart-mark",
        )
        drawing.text(
            label_width + w + 6,
            y + bar_h - 3,
            f"{count(value)} · {_pct(share)}",
            fill=MUTED,
            size=12,
            css_class="chart-value",
        )
    if not items:
        _say_empty(drawing, 8, row - 3, empty_text, anchor="start")
    return drawing.markup()


def share_bars(
    rows: Sequence[tuple[str, Mapping[str, int]]],
    keys: Sequence[str],
    *,
    title: str,
    html_id: str | None = None,
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    width: int = 640,
    row: float = 30.0,
    empty_text: str = "nothing yet",
) -> Markup:
    """100 % stacked bars: each row's shares of ``keys``, with a legend and the row's total.

    ``colors`` and ``labels`` map a key to its colour and its name in the
    legend; a key missing from them gets a palette colour and its own name.
    """
    color_of = {k: (colors or {}).get(k, PALETTE[i % len(PALETTE)]) for i, k in enumerate(keys)}
    name_of = {k: (labels or {}).get(k, k) for k in keys}
    left = 110.0
    room = width - left - 60
    bar_h = row - 10
    placed, legend_h = _legend_layout([name_of[k] for k in keys], left, width - 8.0)
    first = legend_h + 8
    drawing_rows = []
    parts = []
    for label, counts in rows:
        kept = [(k, max(counts.get(k, 0), 0)) for k in keys]
        total = sum(v for _, v in kept)
        drawing_rows.append((label, kept, total))
        if total:
            shares = ", ".join(f"{name_of[k]} {count(v)} ({_pct(v / total)})" for k, v in kept)
            parts.append(f"{label}: {shares}; n={count(total)}")
    empty = not parts
    drawing = Drawing(
        width,
        first + max(1, len(rows)) * row + 4,
        title=title,
        desc=_describe(parts, empty_text),
        html_id=html_id,
    )
    _draw_legend(drawing, placed, [color_of[k] for k in keys])
    for i, (label, kept, total) in enumerate(drawing_rows):
        y = first + i * row
        text_y = y + bar_h - 5
        _row_label(drawing, left - 8, text_y, label, 16)
        x = left
        for k, v in kept:
            if not v:
                continue
            w = room * (v / total)
            tip = f"{label}, {name_of[k]}: {count(v)} ({_pct(v / total)})"
            drawing.rect(x, y, w, bar_h, fill=color_of[k], tip=tip, css_class="chart-mark")
            if w > 34:
                drawing.text(
                    x + w / 2,
                    text_y,
                    f"{v / total * 100:.0f}%",
                    fill="#ffffff",
                    anchor="middle",
                    css_class="chart-value",
                )
            x += w
        drawing.text(width - 54, text_y, f"n={count(total)}", fill=MUTED, css_class="chart-value")
    if empty:
        _say_empty(drawing, width / 2, first + row / 2 + 4, empty_text)
    return drawing.markup()
