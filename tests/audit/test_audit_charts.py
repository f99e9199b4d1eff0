from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackpref.audit.charts import grouped_bars, nice_max


@pytest.mark.parametrize(("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (430, 500)])
def test_nice_max(value: int, top: int) -> None:
    assert nice_max(value) == top


@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=10_000), min_size=3, max_size=3),
        min_size=1,
        max_size=6,
    )
)
def test_bars_stay_inside_the_plot_and_scale_with_value(values: list[list[int]]) -> None:
    groups = [f"g{i}" for i in range(len(values))]
    chart = grouped_bars(groups, ("a", "b", "c"), values)
    assert len(chart.bars) == 3 * len(values)
    for bar in chart.bars:
        assert chart.plot_top - 0.01 <= bar.y <= chart.plot_bottom + 0.01
        assert bar.x >= chart.plot_left
        assert bar.x + bar.width <= chart.width
    tallest = max(chart.bars, key=lambda b: b.value)
    assert all(b.height <= tallest.height for b in chart.bars)


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="groups x series"):
        grouped_bars(["a"], ["x", "y"], [[1]])
