"""How busy the machine is when a benchmark measures, and waiting for it to quiet down first.

The 1-minute load average is a moving average: the row or section that just ended (5,000 chat
clients, 600 WebRTC viewers, a Chromium) still shows in it for about a minute. Read at once, it
would mark the next row *noisy* for our own load, and the next row would measure a machine still
tearing the last one down. :func:`settle` waits until the average is below the core count (at
most ``BENCH_SETTLE_SECONDS``, 90 by default; a machine that never quiets is measured anyway and
its rows are marked noisy), so a row marked noisy means somebody else was using the machine.
"""

from __future__ import annotations

import os
import time

SETTLE_SECONDS = float(os.environ.get("BENCH_SETTLE_SECONDS", "90"))


def cores() -> int:
    return os.cpu_count() or 1


def noisy(load: float) -> bool:
    """A run that starts above the core count shares the machine: read its ratios only."""
    return load > cores()


def settle(limit: float = SETTLE_SECONDS) -> float:
    """The 1-minute load average once it is below the core count (or ``limit`` seconds on)."""
    deadline = time.monotonic() + limit
    while True:
        load = os.getloadavg()[0]
        if load < cores() or time.monotonic() >= deadline:
            return load
        time.sleep(2)
