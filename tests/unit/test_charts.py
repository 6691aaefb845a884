"""Dashboard SVG charts: round axes, escaped labels, and an honest empty state."""

from __future__ import annotations

from livecommerce.routes.charts import nice_max, series_chart


def test_axis_top_is_a_round_number_at_or_above_the_peak() -> None:
    """The axis tops out at 1, 2 or 5 times a power of ten."""
    assert [1, 1, 2, 5, 10, 20, 50, 100, 200] == [
        nice_max(v) for v in (0, 1, 2, 3, 7, 11, 42, 99, 101)
    ]


def test_titles_and_labels_are_escaped() -> None:
    """A title with markup becomes text inside the SVG, never an element."""
    svg = str(series_chart("<script>x</script>", {0: 1, 60_000: 3}))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_bar_chart_draws_one_bar_per_minute() -> None:
    """Bars: one rect per minute with a tooltip carrying the formatted value."""
    svg = str(series_chart("GMV", {0: 100, 60_000: 250}, kind="bar", label=lambda v: f"${v}"))
    assert 2 == svg.count("<rect")
    assert "00:01: $250" in svg


def test_empty_series_says_no_data() -> None:
    """No samples: a short placeholder instead of an empty frame."""
    assert "no data yet" in str(series_chart("Viewers", {}))
