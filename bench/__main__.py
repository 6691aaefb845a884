"""``make bench``: run every benchmark module and write its section of docs/BENCHMARKS.md.

A benchmark module defines ``TITLE`` and ``run() -> str`` returning a Markdown section (tables
with figures, the baseline ratio and the command that reproduces it). Sections are replaced in
place, so one benchmark can be re-run alone: ``python -m bench fanout``.
"""

from __future__ import annotations

import datetime
import importlib
import os
import pkgutil
import platform
import re
import sys
from pathlib import Path

import bench

DOC = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
HEADER = """# Benchmarks

Figures from `make bench` (or `python -m bench NAME`), written by the benchmarks themselves.
Every figure is compared with a baseline measured in the same run, because these machines are
shared and noisy: read the ratios, not the absolute numbers. Before each measurement the
benchmarks wait (up to 90 s, `BENCH_SETTLE_SECONDS`) for the 1-minute load average to fall
below the core count (`bench/_load.py`); a run that still starts above it is marked *noisy*.
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def replace_section(doc: str, name: str, body: str) -> str:
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(doc):
        return pattern.sub(lambda _m: block, doc)
    return doc.rstrip() + "\n\n" + block + "\n"


def main(names: list[str]) -> int:
    modules = [m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")]
    chosen = names or modules
    doc = DOC.read_text() if DOC.exists() else HEADER
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        print(f"bench: running {name}", file=sys.stderr, flush=True)
        body = module.run()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        section = f"## {module.TITLE}\n\n_{stamp} · {machine()}_\n\n{body}"
        doc = replace_section(doc, name, section)
        DOC.write_text(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
