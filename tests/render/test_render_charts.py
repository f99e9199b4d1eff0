"""The shared bar charts: hostile labels stay text, and every mark stays in its picture."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from trackpref.render.charts import (
    PALETTE,
    bar_list,
    columns,
    count,
    nice_max,
    share_bars,
    ticks,
)
from trackpref.render.svg import SVG_NS, xml_safe

NS = f"{{{SVG_NS}}}"
TAGS = {"svg", "title", "desc", "rect", "line", "text"}
PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</svg><script>alert(2)</script>",
    "'onmouseover='alert(3)",
    "<!--<script>-->",
    "<![CDATA[<script>]]>",
    "&lt;script&gt;",
    "\x00\ud800<script",
]
HOSTILE = st.one_of(
    st.text(st.characters(exclude_categories=())),  # any code point: controls, surrogates...
    st.builds(
        "".join, st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=5)), max_size=4)
    ),
)
COUNTS = st.integers(min_value=-(10**6), max_value=10**30)


class _Tags(HTMLParser):
    """Start tags and attribute names as a browser's HTML tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


def parse(markup: Markup) -> ET.Element:
    """The chart as XML, after checking that HTML sees the same harmless elements."""
    out = str(markup)
    assert isinstance(markup, Markup)
    assert "<script" not in out.lower()
    tags = _Tags()
    tags.feed(out)
    tags.close()
    assert set(tags.tags) <= TAGS, tags.tags
    assert not [a for a in tags.attrs if a.startswith("on") or a in ("href", "src", "style")]
    root = ET.fromstring(out)
    assert {e.tag.removeprefix(NS) for e in root.iter()} <= TAGS
    return root


def of_class(root: ET.Element, tag: str, css: str) -> list[ET.Element]:
    return root.findall(f"{NS}{tag}[@class='chart-{css}']")


def box(e: ET.Element) -> tuple[float, float, float, float]:
    return tuple(float(e.get(k, "nan")) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def assert_rects_inside(root: ET.Element) -> None:
    """Every rectangle has finite, non-negative size and lies inside the viewBox."""
    _, _, width, height = (float(v) for v in root.get("viewBox", "").split())
    for rect in root.iter(f"{NS}rect"):
        x, y, w, h = box(rect)
        assert all(math.isfinite(v) for v in (x, y, w, h)), rect.attrib
        assert w >= 0
        assert h >= 0
        assert x >= 0
        assert y >= 0
        assert x + w <= width + 0.01, rect.attrib
        assert y + h <= height + 0.01, rect.attrib


def as_text(label: str) -> str:
    """What a label reads as once parsed: XML (like HTML) turns a CR into a line feed."""
    return xml_safe(label).replace("\r\n", "\n").replace("\r", "\n")


def tips(elements: list[ET.Element]) -> list[str]:
    return [e.findtext(f"{NS}title") or "" for e in elements]


def all_text(root: ET.Element) -> str:
    return "".join(root.itertext())


# -- scales -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "top"),
    [
        (-5, 1),
        (0, 1),
        (0.5, 1),
        (1, 1),
        (3, 5),
        (7, 10),
        (11, 20),
        (430, 500),
        (10**40 + 1, 2 * 10**40),
    ],
)
def test_nice_max(value: float, top: int) -> None:
    assert nice_max(value) == top


@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_nice_max_refuses_what_has_no_top(value: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        nice_max(value)


@given(st.integers(min_value=-(10**3), max_value=10**40))
def test_ticks_are_whole_even_steps_up_to_the_top(value: int) -> None:
    top = nice_max(value)
    grid = ticks(top)
    assert grid[0] == 0
    assert grid[-1] == top
    assert 2 <= len(grid) <= 6
    steps = {b - a for a, b in itertools.pairwise(grid)}
    assert len(steps) == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (-7, "-7"),
        (1234, "1,234"),
        (999_999_999, "999,999,999"),
        (2 * 10**12, "2e12"),
        (125 * 10**10, "1.25e12"),
        (-(10**9), "-1e9"),
        (10**400, "1e400"),
    ],
)
def test_count_labels_stay_short(value: int, text: str) -> None:
    assert count(value) == text


# -- escaping, for every kind of chart ---------------------------------------------


@given(title=HOSTILE, group=HOSTILE, serie=HOSTILE, html_id=HOSTILE)
def test_columns_keep_any_label_as_text(title: str, group: str, serie: str, html_id: str) -> None:
    root = parse(
        columns([group, "b"], [serie, "s2"], [[3, 1], [0, 2]], title=title, html_id=html_id)
    )
    assert root.get("aria-label") == xml_safe(title)
    assert root.get("id") == xml_safe(html_id)
    assert root.findtext(f"{NS}title") == as_text(title)
    marks = of_class(root, "rect", "mark")
    assert tips(marks)[0] == as_text(f"{group}: {serie} 3")
    assert as_text(serie) in tips(of_class(root, "rect", "key"))


@given(label=HOSTILE, title=HOSTILE)
def test_bar_lists_keep_any_label_as_text(label: str, title: str) -> None:
    root = parse(bar_list([(label, 5), ("other", 1)], title=title))
    assert root.findtext(f"{NS}title") == as_text(title)
    assert tips(of_class(root, "rect", "mark"))[0] == as_text(f"{label}: 5")
    assert tips(of_class(root, "text", "label"))[0] == as_text(label)


@given(row=HOSTILE, key=HOSTILE, name=HOSTILE, color=HOSTILE)
def test_share_bars_keep_any_label_as_text(row: str, key: str, name: str, color: str) -> None:
    root = parse(
        share_bars(
            [(row, {key: 2, "other": 1})],
            [key, "other"],
            title="t",
            colors={key: color},
            labels={key: name},
        )
    )
    first = of_class(root, "rect", "mark")[0]
    assert first.get("fill") == xml_safe(color)
    assert tips([first]) == [as_text(f"{row}, {name}: 2 (66.7 %)")]
    assert tips(of_class(root, "text", "label")) == [as_text(row)]


def test_known_payloads_are_shown_escaped() -> None:
    out = str(bar_list([(p, 1) for p in PAYLOADS], title=PAYLOADS[0]))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&amp;lt;script&amp;gt;" in out, "an escaped-looking label is escaped again"
    assert "\x00" not in out
    parse(Markup(out))


# -- the shapes of data ---------------------------------------------------------------

Chart = Callable[[], Markup]
EMPTY: dict[str, Chart] = {
    "columns, no groups": lambda: columns([], ["a"], [], title="t", empty_text="nothing here"),
    "columns, all zero": lambda: columns(
        ["a", "b"], ["s"], [[0], [0]], title="t", empty_text="nothing here"
    ),
    "bar_list, no items": lambda: bar_list([], title="t", empty_text="nothing here"),
    "share_bars, no rows": lambda: share_bars([], ["a"], title="t", empty_text="nothing here"),
    "share_bars, zero rows": lambda: share_bars(
        [("all", {"a": 0}), ("some", {})], ["a", "b"], title="t", empty_text="nothing here"
    ),
}


@pytest.mark.parametrize("make", EMPTY.values(), ids=EMPTY.keys())
def test_empty_data_says_so_in_words(make: Chart) -> None:
    root = parse(make())
    assert [e.text for e in of_class(root, "text", "empty")] == ["nothing here"]
    assert root.findtext(f"{NS}desc") == "nothing here"
    assert all(box(r)[2] == 0 or box(r)[3] == 0 for r in of_class(root, "rect", "mark"))
    assert_rects_inside(root)


def test_one_point_fills_its_plot() -> None:
    root = parse(columns(["2026-01-01"], ["views"], [[5]], title="t", value_labels=True))
    (bar,) = of_class(root, "rect", "mark")
    grid = sorted(float(line.get("y1", "nan")) for line in root.iter(f"{NS}line"))
    _, y, _, h = box(bar)
    assert y == pytest.approx(grid[0], abs=0.02), "5 of 5: up to the top line"
    assert y + h == pytest.approx(grid[-1], abs=0.02)
    assert [e.text for e in of_class(root, "text", "value")] == ["5"]
    assert [e.text for e in of_class(root, "text", "label")] == ["2026-01-01"]
    assert root.findtext(f"{NS}desc") == "2026-01-01: 5"
    assert not of_class(root, "rect", "key"), "one series needs no legend"
    (item,) = of_class(parse(bar_list([("only", 3)], title="t")), "rect", "mark")
    assert box(item)[2] == 150, "the largest item takes all the room"


@pytest.mark.parametrize("huge", [10**12, 10**30, 10**400], ids=["1e12", "1e30", "1e400"])
def test_huge_values_stay_in_the_picture(huge: int) -> None:
    root = parse(columns(["a", "b"], ["x", "y"], [[huge, 1], [huge // 3, 0]], title="t"))
    assert_rects_inside(root)
    heights = [box(r)[3] for r in of_class(root, "rect", "mark")]
    assert heights[0] == max(heights)
    assert len(max((e.text or "" for e in of_class(root, "text", "tick")), key=len)) <= 8
    assert_rects_inside(parse(bar_list([("a", huge), ("b", 1)], title="t")))
    assert_rects_inside(parse(share_bars([("r", {"a": huge, "b": 1})], ["a", "b"], title="t")))


def test_negative_and_zero_are_drawn_flat_and_told_truly() -> None:
    root = parse(columns(["a", "b", "c"], ["x"], [[-5], [0], [4]], title="t"))
    assert_rects_inside(root)
    marks = of_class(root, "rect", "mark")
    assert [box(r)[3] for r in marks[:2]] == [0, 0]
    assert box(marks[2])[3] > 0
    assert tips(marks) == ["a: -5", "b: 0", "c: 4"]
    listed = parse(bar_list([("neg", -3), ("pos", 3)], title="t"))
    assert [box(r)[2] for r in of_class(listed, "rect", "mark")] == [0, 150]
    assert "100.0 %" in all_text(listed), "shares are of what was counted"
    shares = parse(share_bars([("r", {"a": -2, "b": 2})], ["a", "b"], title="t"))
    (segment,) = of_class(shares, "rect", "mark")
    assert box(segment)[2] == 470, "the negative count takes no share"


@given(n=st.integers(min_value=2, max_value=40))
def test_many_series_get_a_legend_and_cycling_colours(n: int) -> None:
    series = [f"series number {i}" for i in range(n)]
    root = parse(columns(["g1", "g2"], series, [list(range(n)), [1] * n], title="t"))
    assert_rects_inside(root)
    keys = of_class(root, "rect", "key")
    assert tips(keys) == series
    assert [k.get("fill") for k in keys] == [PALETTE[i % len(PALETTE)] for i in range(n)]
    marks = of_class(root, "rect", "mark")
    assert len(marks) == 2 * n
    top_of_plot = min(float(line.get("y1", "nan")) for line in root.iter(f"{NS}line"))
    assert all(box(k)[1] + box(k)[3] < top_of_plot for k in keys), "the legend is above the plot"


@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=10_000), min_size=3, max_size=3),
        min_size=1,
        max_size=30,
    )
)
def test_bars_stay_inside_and_scale_with_value(values: list[list[int]]) -> None:
    groups = [f"group {i}" for i in range(len(values))]
    root = parse(columns(groups, ["a", "b", "c"], values, title="t"))
    assert_rects_inside(root)
    marks = of_class(root, "rect", "mark")
    flat = [v for row in values for v in row]
    assert len(marks) == len(flat)
    by_height = sorted(zip(flat, (box(m)[3] for m in marks), strict=True))
    assert all(h1 <= h2 + 0.01 for (_, h1), (_, h2) in itertools.pairwise(by_height))


@given(days=st.integers(min_value=1, max_value=120), width=st.sampled_from([320, 640, 900]))
def test_axis_labels_never_overlap_and_name_the_last_day(days: int, width: int) -> None:
    groups = [f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(days)]
    root = parse(columns(groups, ["v"], [[i] for i in range(days)], title="t", width=width))
    labels = of_class(root, "text", "label")
    assert tips(labels)[-1] == groups[-1]
    spans = [(float(e.get("x", "nan")), len(e.text or "") * 6.6 / 2) for e in labels]
    for (x1, h1), (x2, h2) in itertools.pairwise(spans):
        assert x1 + h1 <= x2 - h2, "labels apart"
    assert all(x - h >= 0 and x + h <= width for x, h in spans), "labels inside"


def test_long_labels_are_cut_and_kept_whole_in_the_tip() -> None:
    long = "a-very-long-referrer-domain.example.com"
    root = parse(bar_list([(long, 1)], title="t"))
    (label,) = of_class(root, "text", "label")
    assert label.text == long[:21] + "…"
    assert tips([label]) == [long]


def test_the_description_reads_the_data_and_summarises_long_lists() -> None:
    root = parse(columns([f"d{i}" for i in range(75)], ["v"], [[i] for i in range(75)], title="t"))
    desc = root.findtext(f"{NS}desc") or ""
    assert desc.startswith("d0: 0; d1: 1; ")
    assert desc.endswith("d59: 59; and 15 more")
    shares = parse(
        share_bars([("all", {"a": 1, "b": 3})], ["a", "b"], title="t", labels={"a": "A"})
    )
    assert shares.findtext(f"{NS}desc") == "all: A 1 (25.0 %), b 3 (75.0 %); n=4"


def test_shape_mistakes_are_refused_with_what_was_wrong() -> None:
    with pytest.raises(ValueError, match=r"groups x series \(1 x 2\), got \[1\]"):
        columns(["a"], ["x", "y"], [[1]], title="t")
    with pytest.raises(ValueError, match="series"):
        columns([], [], [], title="t")
    with pytest.raises(ValueError, match="colors"):
        columns(["a"], ["x"], [[1]], title="t", colors=())
