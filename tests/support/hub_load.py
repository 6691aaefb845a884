"""Load on the hub from outside the server: the server in its own process (so its RSS, open
files and CPU are its own, read from /proc), and worker processes that each hold thousands of
lightweight Socket.IO clients (``tests/support/hub_load_worker.py``). Shared by the chat
fan-out benchmark (``bench/chat_fanout.py``) and the soak tier of the reliability battery
(RB-17 fan-out latency, RB-18 idle-connection memory)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.servers import free_port, wait_for_port

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def pinned(core: int) -> list[str]:
    """A command prefix running a process on one core (``taskset``), so on a small machine the
    server and its load do not take each other's CPU; empty where that cannot be done."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(core)]


def load_average() -> float:
    """The 1-minute load average (a run that starts above the core count is noisy)."""
    return os.getloadavg()[0]


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def ensure_fd_limit(needed: int) -> None:
    """Raise this process's soft open-file limit to ``needed`` (the server and workers it starts
    inherit it): many systems default to 1,024, a tenth of an idle-connection soak."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise RuntimeError(f"the hard open-file limit is {hard}; {needed} are needed (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def percentile(histogram: Mapping[int, int], q: float) -> float:
    """The q-quantile (0..1) of a histogram of 0.1 ms buckets, in ms (nan when empty)."""
    total = sum(histogram.values())
    if not total:
        return float("nan")
    rank = min(total - 1, int(q * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen > rank:
            return bucket / 10
    raise AssertionError("unreachable: rank < total")


@dataclass(frozen=True)
class ServerProcess:
    base_url: str
    pid: int


@contextlib.asynccontextmanager
async def server_process(
    data_dir: str, env: Mapping[str, str], prefix: Sequence[str] = (), host: str = "127.0.0.1"
) -> AsyncIterator[ServerProcess]:
    """``livecommerce serve`` on a free port with ``env`` over the defaults (no demo, warnings
    only); ``prefix`` runs it through another command (``nsenter`` into a namespace)."""
    port = free_port()
    full = {
        **os.environ,
        "LIVECOMMERCE_SERVER__PORT": str(port),
        "LIVECOMMERCE_SERVER__HOST": host,
        "LIVECOMMERCE_SERVER__DATA_DIR": data_dir,
        "LIVECOMMERCE_DEMO__ENABLED": "false",
        "LIVECOMMERCE_LOG__LEVEL": "WARNING",
        **env,
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
        [*prefix, sys.executable, "-m", "livecommerce", "serve"],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.to_thread(wait_for_port, port, 30, host)
        yield ServerProcess(f"http://{host}:{port}", proc.pid)
    finally:
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 15)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)


async def seller_show(base: str) -> tuple[str, str]:
    """A seller account and a show on a fresh server: (show_id, seller token)."""
    async with aiohttp.ClientSession() as http:
        body = {
            "name": "Load Owner",  # staff-like names are refused at sign-up
            "email": f"load{time.time_ns()}@example.test",
            "password": "Tangerine-Orbit-8842",
            "role": "seller",
        }
        async with http.post(f"{base}/api/v1/auth/signup", json=body) as resp:
            token = (await resp.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with http.post(f"{base}/api/v1/shows", json={"title": "load"}, headers=headers) as r:
            show_id = (await r.json())["id"]
    return show_id, token


@dataclass
class Worker:
    """One worker process; ``command`` sends a line and reads its one-line JSON reply."""

    proc: asyncio.subprocess.Process

    async def command(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write((line + "\n").encode())
        await self.proc.stdin.drain()
        raw = await self.proc.stdout.readline()
        result: dict[str, Any] = json.loads(raw)
        return result

    async def quit(self) -> None:
        await self.command("quit")
        await self.proc.wait()


@contextlib.asynccontextmanager
async def load_workers(
    bases: Sequence[str],
    show_id: str,
    n: int,
    processes: int,
    prefix: Sequence[str] = (),
    sample_every: int = 1,
    buyers: Path | None = None,
) -> AsyncIterator[tuple[list[Worker], int]]:
    """``n`` clients joined to the show in ``processes`` workers (worker i on node
    ``i % len(bases)``): (workers, clients that joined). One client in ``sample_every`` decodes
    and times its lines; every client counts them. With ``buyers`` (one worker: a JSON file of
    ``{token, show_id}``), the clients are those signed-in users instead. Workers quit on
    exit."""
    assert buyers is None or processes == 1, "one worker holds every buyer"
    signed_in = [] if buyers is None else [str(buyers)]
    workers: list[Worker] = []
    try:
        for i in range(processes):
            count = n // processes + (1 if i < n % processes else 0)
            proc = await asyncio.create_subprocess_exec(
                *prefix, sys.executable, "-m", "tests.support.hub_load_worker",
                bases[i % len(bases)], show_id, str(count), str(sample_every), *signed_in,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 28,
            )  # fmt: skip
            workers.append(Worker(proc))
        ready = await asyncio.gather(*(w.command("connect") for w in workers))
        yield workers, sum(r["connected"] for r in ready)
    finally:
        for worker in workers:
            if worker.proc.returncode is None:
                try:
                    await asyncio.wait_for(worker.quit(), 60)
                except (TimeoutError, OSError, ValueError):
                    worker.proc.kill()
                    await worker.proc.wait()


def merged_histogram(reports: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for report in reports:
        for bucket, count in report["latency_hist"].items():
            out[int(bucket)] = out.get(int(bucket), 0) + count
    return out
