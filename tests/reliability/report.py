"""Render the figures a `make soak` run recorded into docs/RELIABILITY.md (machine, date, the
scale it ran at, each test's result, one table per RB id), replacing the previous run's
figures: the document is this run's record. It renders also when tests failed — a missed
criterion is a figure worth keeping — and says which ones failed.

``python -m tests.reliability.report FIGURES.jsonl TARGET.md [JUNIT.xml]``; the JUnit report
(pytest ``--junitxml``) gives the results; without it the results are left out.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HEADER = """# Reliability figures (`make soak`)

The N tier of the battery in ../shared/RELIABILITY.md (mirrored by the test module names in
`tests/reliability/`), run with `make soak`. Every figure below comes from the same run, on the
machine named here; the PR tier runs in `make test` and asserts the same criteria at smaller N.
This file is written by `tests/reliability/report.py`; edit that, not this.
"""

NAMES = {
    "RB-01": "flash_sale_no_oversell",
    "RB-04": "webhook_reorder_state_machine",
    "RB-06": "crash_mid_checkout_reconcile",
    "RB-07": "redis_kill_during_flash_sale",
    "RB-15": "redis_restart_chat_continuity",
    "RB-16": "partition_between_app_nodes",
    "RB-17": "fanout_latency_load",
    "RB-18": "idle_viewer_soak_memory",
    "RB-20": "sdp_and_signaling_dos",
    "RB-21": "turn_credential_scope",
    "RB-23": "api_and_parser_fuzz",
}

#: What a section's figures mean, where the table alone would not say it.
ABOUT = {
    "RB-16": (
        "Two app nodes (processes) share Redis and PostgreSQL; node B runs in its own network "
        "namespace and the veth link to Redis (its only path to node A) goes down for 30 s "
        "during a flash sale, then comes back. Both nodes reach PostgreSQL through its Unix "
        "socket; B's viewers stay connected to B over a second link. What the figures show "
        "and why: (1) the money path fails closed — B's checkouts need a Redis hold and get "
        "`store_unavailable` after the client's socket timeout and retries. (2) The hub has no "
        "degraded-mode notice (docs/HUB.md lists none), so B's viewers are not told the node "
        "lost the cluster. (3) After the heal B's fan-out, which pings Redis and held the silent "
        "link dead after 5 s, reconnects and re-sends its shows' offers (`offer.pinned`, "
        "`offer.updated`): the Bus's own offer events are pub/sub and keep nothing for a node "
        "that was away. Until the heal B cannot know the stock sold on A. (4) Lines B stored "
        "while cut off whose publish timed out are dropped by B's "
        'fan-out publisher (logged: "reached this node only"), and a node fills gaps from the '
        "store only after its *own* Redis connection came back — A's never dropped, so A's "
        "viewers never get those lines live (they are in the store, so history has them)."
    ),
    "RB-17": (
        "One show, the server in its own process with its production hub settings (coalescing "
        "on) except the per-user chat limit; viewers are raw Engine.IO/Socket.IO websocket "
        "clients in worker processes (`tests/support/hub_load_worker.py`, shared with "
        "`bench/chat_fanout.py`), senders are python-socketio clients: the seller and four "
        "viewers, 20 lines/s together for 30 s, and the seller starts a sale half way. "
        "Latency is send-to-receive on one clock; clients share the machine's cores with the "
        "server, so it includes their own queueing. Busy shows batch lines in an adaptive "
        "window (`hub.coalesce_*`: 0 ms while quiet, growing with lines × viewers to 100 ms at "
        "50,000 deliveries/s), so at 5,000 viewers and 20 lines/s a line waits 0–100 ms for "
        "its batch before any fan-out work (the sale start, a single event, is not batched)."
    ),
    "RB-18": (
        "The server in its own process; idle viewers (joined to one show, answering the "
        "Engine.IO heartbeat only) in worker processes of 2,500 each. RSS and open files from "
        "/proc, asyncio tasks from the `livecommerce_asyncio_tasks` gauge on /metrics. The "
        "baseline is taken after one viewer came and went (python-engineio starts its service "
        "task at the first connection and keeps it). Drift is the least-squares slope of RSS "
        "over the hold, per hour, relative to the mean — over a short hold it is a noisy "
        "extrapolation."
    ),
    "RB-21": (
        "**Not applicable** until the server mints TURN credentials. ICE servers are static "
        "settings (`broadcast.ice.servers`: URLs with an optional fixed username and "
        "credential); no API issues time-limited per-session TURN credentials, so there is no "
        "expiry, peer restriction, quota or authentication of minted credentials to test. Note "
        "for whoever adds TURN: a fixed credential configured there is handed to every player "
        "that asks (the WHEP `OPTIONS`/`201` `Link` headers and the watch page), which is why "
        "RB-21 wants short-lived minted ones. The soak test is a tripwire: it fails once an "
        "API route for TURN exists."
    ),
}

SCALE_VARS = {
    "LIVECOMMERCE_SOAK_SCALE": "factor on every client count (1 = full scale)",
    "LIVECOMMERCE_SOAK_MINUTES": "RB-18's hold, minutes (full scale: 60)",
}


@dataclass(frozen=True)
class Result:
    test: str  # pytest node id
    outcome: str  # passed | failed | error | skipped
    message: str


def _machine() -> str:
    cores = os.cpu_count() or 0
    try:
        with Path("/proc/meminfo").open() as info:
            kib = int(info.readline().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "unknown memory"
    return f"{platform.node()} · {cores} cores · {memory} · Python {platform.python_version()}"


def rb_of(test: str) -> str | None:
    found = re.search(r"test_rb(\d\d)_", test)
    return f"RB-{found.group(1)}" if found else None


def read_results(junit: Path) -> list[Result]:
    """Each test case of a pytest JUnit report as (node id, outcome, first line of why)."""
    results = []
    tree = ElementTree.parse(junit)  # noqa: S314 - pytest's report of this very run
    for case in tree.getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        test = f"{module}.py::{case.get('name', '')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = "failed" if tag == "failure" else tag
                message = next(iter((found.get("message") or "").strip().splitlines()), "")
                break
        results.append(Result(test, outcome, message))
    return results


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(
    rows: list[dict[str, object]],
    now: datetime,
    results: list[Result] | None = None,
    environ: dict[str, str] | None = None,
) -> str:
    env = os.environ if environ is None else environ
    lines = [HEADER, f"Run: {now:%Y-%m-%d %H:%M} UTC on {_machine()}.", ""]
    scale = [f"`{k}={env[k]}` ({what})" for k, what in SCALE_VARS.items() if k in env]
    lines += [
        "Scale: "
        + ("; ".join(scale) if scale else "full (no `LIVECOMMERCE_SOAK_*` set)")
        + ". Each test also records the size it ran at below.",
        "",
    ]
    if not rows:
        lines += ["No figures were recorded (did every soak test fail before measuring?).", ""]
    by_id: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_id.setdefault(str(row["rb"]), []).append(row)
    outcomes: dict[str, list[Result]] = {}
    for result in results or []:
        outcomes.setdefault(rb_of(result.test) or "other", []).append(result)
    if results:
        failed = [r for r in results if r.outcome in ("failed", "error")]
        lines += [
            f"Results: {len(results) - len(failed)} of {len(results)} soak tests passed"
            + (f"; failed: {', '.join(sorted({rb_of(r.test) or r.test for r in failed}))}."
               if failed else "."),
            "",
        ]  # fmt: skip
    for rb in sorted(set(by_id) | set(outcomes) | set(ABOUT)):
        title = f"## {rb} `{NAMES[rb]}`" if rb in NAMES else f"## {rb}"
        lines += [title, ""]
        if rb in ABOUT:
            lines += [ABOUT[rb], ""]
        for result in outcomes.get(rb, []):
            why = f" — {_cell(result.message)}" if result.message else ""
            lines.append(f"- `{result.test}`: **{result.outcome}**{why}")
        if outcomes.get(rb):
            lines.append("")
        if rb in by_id:
            lines += ["| Figure | Value | Criterion |", "|---|---|---|"]
            for row in by_id[rb]:
                value = _cell(f"{row['value']} {row['unit']}".strip())
                lines.append(f"| {_cell(row['name'])} | {value} | {_cell(row['limit'] or '—')} |")
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    source, target = Path(argv[1]), Path(argv[2])
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    junit = Path(argv[3]) if len(argv) > 3 else None
    results = read_results(junit) if junit is not None and junit.stat().st_size else None
    target.write_text(render(rows, datetime.now(UTC), results))
    print(f"wrote {len(rows)} figures to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
