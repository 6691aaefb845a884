"""Render the figures a `make soak` run recorded into docs/RELIABILITY.md (machine, date, one
table per RB id), replacing the previous run's figures: the document is this run's record."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

HEADER = """# Reliability figures (`make soak`)

The N tier of the battery in ../shared/RELIABILITY.md (mirrored by the test module names in
`tests/reliability/`), run with `make soak`. Every figure below comes from the same run, on the
machine named here; the PR tier runs in `make test` and asserts the same criteria at smaller N.
"""


def _machine() -> str:
    cores = os.cpu_count() or 0
    try:
        with Path("/proc/meminfo").open() as info:
            kib = int(info.readline().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "unknown memory"
    return f"{platform.node()} · {cores} cores · {memory} · Python {platform.python_version()}"


def render(rows: list[dict[str, object]], now: datetime) -> str:
    lines = [HEADER, f"Run: {now:%Y-%m-%d %H:%M} UTC on {_machine()}.", ""]
    if not rows:
        lines.append("No figures were recorded (did every soak test fail before measuring?).")
    by_id: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_id.setdefault(str(row["rb"]), []).append(row)
    for rb in sorted(by_id):
        lines += [f"## {rb}", "", "| Figure | Value | Criterion | Test |", "|---|---|---|---|"]
        for row in by_id[rb]:
            value = f"{row['value']} {row['unit']}".strip()
            lines.append(f"| {row['name']} | {value} | {row['limit'] or '—'} | `{row['test']}` |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    source, target = Path(argv[1]), Path(argv[2])
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    target.write_text(render(rows, datetime.now(UTC)))
    print(f"wrote {len(rows)} figures to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
