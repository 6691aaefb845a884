"""The `make soak` report (tests/reliability/report.py) renders after an hour of soak even when
tests failed: results from pytest's JUnit file, the scale from the environment, every RB id."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.reliability.report import read_results, render

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.reliability.test_rb17_fanout_latency_load" name="test_load"
 time="40"><failure message="AssertionError: chat p50 159.2 ms&#10;assert 159.2 &lt;= 50.0">
long traceback</failure></testcase>
<testcase classname="tests.reliability.test_rb21_turn_credential_scope" name="test_tripwire"
 time="1"/></testsuite></testsuites>"""


def test_failed_tests_scale_and_figures_are_all_rendered(tmp_path: Path) -> None:
    """A failure shows its first message line, the scale variables are named, figures tabled."""
    junit = tmp_path / "results.xml"
    junit.write_text(JUNIT)
    rows: list[dict[str, object]] = [
        {"rb": "RB-17", "name": "chat p50", "value": 159.2, "unit": "ms", "limit": "≤ 50 ms",
         "test": "tests/reliability/test_rb17_fanout_latency_load.py::test_load"},
    ]  # fmt: skip
    page = render(
        rows,
        datetime(2026, 12, 5, 4, 0, tzinfo=UTC),
        read_results(junit),
        {"LIVECOMMERCE_SOAK_SCALE": "0.4"},
    )
    assert "Results: 1 of 2 soak tests passed; failed: RB-17." in page
    assert (
        "- `tests/reliability/test_rb17_fanout_latency_load.py::test_load`: **failed** — "
        "AssertionError: chat p50 159.2 ms"
    ) in page
    assert "`LIVECOMMERCE_SOAK_SCALE=0.4`" in page
    assert "| chat p50 | 159.2 ms | ≤ 50 ms |" in page
    assert "## RB-21 `turn_credential_scope`" in page
    assert "**Not applicable**" in page
