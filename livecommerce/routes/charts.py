"""Server-rendered SVG charts for the dashboard: no chart library, no script, CSP-clean.

Every text and attribute value goes through markupsafe escaping in :func:`_tag`; colours come
from CSS classes (the stylesheet has light and dark values), so the SVG carries no ``style``
attribute the CSP would refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from markupsafe import Markup, escape

WIDTH = 400
HEIGHT = 150
PAD_LEFT = 60
PAD_RIGHT = 8
PAD_BOTTOM = 24
PAD_TOP = 12
MINUTE_MS = 60_000


def _tag(name: str, attrs: Mapping[str, object], *children: str | Markup) -> Markup:
    """One element with escaped attributes and escaped (or already-safe) children."""
    rendered = "".join(
        f' {key.replace("_", "-")}="{escape(value)}"' for key, value in attrs.items()
    )
    inner = "".join(str(escape(child)) for child in children)
    return Markup(f"<{name}{rendered}>{inner}</{name}>")  # noqa: S704 why: all parts escaped above


def _hhmm(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M")


def nice_max(value: int) -> int:
    """A round axis top at or above ``value``: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def series_chart(
    title: str,
    series: Mapping[int, int],
    *,
    kind: str = "line",
    label: Callable[[int], str] = str,
) -> Markup:
    """A per-minute line or bar chart (epoch-ms minute → value) with an accessible name."""
    if not series:
        return _tag("p", {"class": "chart-empty"}, f"{title}: no data yet")
    minutes = sorted(series)
    first, last = minutes[0], minutes[-1]
    span = max(last - first, MINUTE_MS)
    top = nice_max(max(series.values()))
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP

    def x(ms: int) -> float:
        return round(PAD_LEFT + (ms - first) / span * plot_w, 1)

    def y(v: int) -> float:
        return round(PAD_TOP + plot_h - v / top * plot_h, 1)

    right = WIDTH - PAD_RIGHT
    parts: list[Markup] = [
        _tag("title", {}, title),
        _tag("line", {"class": "grid", "x1": PAD_LEFT, "y1": y(top), "x2": right, "y2": y(top)}),
        _tag("line", {"class": "grid", "x1": PAD_LEFT, "y1": y(0), "x2": right, "y2": y(0)}),
        _tag(
            "text",
            {"class": "axis", "x": PAD_LEFT - 6, "y": y(top) + 4, "text-anchor": "end"},
            label(top),
        ),
        _tag(
            "text", {"class": "axis", "x": PAD_LEFT - 6, "y": y(0) + 4, "text-anchor": "end"}, "0"
        ),
        _tag("text", {"class": "axis", "x": PAD_LEFT, "y": HEIGHT - 6}, _hhmm(first)),
        _tag(
            "text",
            {"class": "axis", "x": right, "y": HEIGHT - 6, "text-anchor": "end"},
            _hhmm(last),
        ),
    ]
    if kind == "bar":
        bar_w = round(min(24.0, max(2.0, plot_w / (span / MINUTE_MS + 1) * 0.8)), 1)
        for ms in minutes:
            v = series[ms]
            left = min(max(PAD_LEFT, x(ms) - bar_w / 2), right - bar_w)
            parts.append(
                _tag(
                    "rect",
                    {
                        "class": "bar",
                        "x": round(left, 1),
                        "y": y(v),
                        "width": bar_w,
                        "height": round(y(0) - y(v), 1),
                    },
                    _tag("title", {}, f"{_hhmm(ms)}: {label(v)}"),
                )
            )
    else:
        points = " ".join(f"{x(ms)},{y(series[ms])}" for ms in minutes)
        parts.append(_tag("polyline", {"class": "line", "points": points}))
        for ms in minutes:
            parts.append(
                _tag(
                    "circle",
                    {"class": "dot", "cx": x(ms), "cy": y(series[ms]), "r": 2.5},
                    _tag("title", {}, f"{_hhmm(ms)}: {label(series[ms])}"),
                )
            )
    peak = label(max(series.values()))
    return _tag(
        "svg",
        {
            "class": "chart",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "role": "img",
            "aria-label": f"{title}, peak {peak}",
        },
        *parts,
    )
