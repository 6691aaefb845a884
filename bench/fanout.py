"""Fan-out: server CPU per WebRTC viewer, RTP payloads made once per show versus once per viewer.

One synthetic 720p30 ~2.5 Mbit/s show; N receive-only WHEP viewers on loopback (real aiortc peers:
ICE, DTLS, SRTP) that count complete frames from the RTP headers and authenticate one packet in 32
with SRTP, without decoding (``bench._viewers.CountingViewer``). The server runs in its own
process pinned to CPU 0, the viewers in several processes pinned to CPU 1, and the server's CPU
(all threads) is read from /proc over a steady window, so viewers' CPU is not counted. Viewers are
added step by step to the same server. Per-viewer cost is the marginal cost:
(CPU with N viewers - the show's own CPU) / N, scaled to 30 fps. Same-run baselines: every
viewer's sender packetizing the shared packets itself (the path before issue 13), and aiortc's
MediaRelay of decoded frames, where every viewer's sender encodes.

Run: ``python -m bench fanout`` inside ``scripts/loopback-ns`` (``make bench`` does that).
Environment: ``FANOUT_SIZES`` (default ``100,200,300,400,500,600``), ``FANOUT_BASELINE_SIZES``
(per-viewer packetization, default ``100,200,300``), ``FANOUT_RELAY_SIZES`` (default
``1``; empty skips it), ``FANOUT_WINDOW`` seconds (default 10), ``FANOUT_VIEWER_PROCESSES``
(default 4).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
from dataclasses import dataclass

import aiohttp

from bench._load import cores, noisy, settle
from bench._viewers import (
    ROOT,
    cpu_seconds,
    media_server,
    pinned,
    udp_rcvbuf_errors,
    usable_cpus,
)

TITLE = "Fan-out"
FPS = 30
WARMUP = 3.0
TARGET = 0.99  # frames delivered to the worst viewer


@dataclass
class Row:
    mode: str
    viewers: int
    cores: float  # server CPU, cores, over the window
    delivered: float  # worst viewer's complete frames / frames due at the show's 30 fps
    mean_delivered: float
    rcvbuf_errors: int
    server_fps: float  # frames the server sent per second (pass-through), -1 = not counted
    verified: int = 0  # SRTP packets the viewers authenticated in the window
    auth_failures: int = 0
    viewer_cores: float = 0.0  # all viewer processes together (they share one CPU)


@dataclass
class _Worker:
    process: asyncio.subprocess.Process

    async def ask(self, line: str) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(line.encode())
        await self.process.stdin.drain()
        return (await asyncio.wait_for(self.process.stdout.readline(), 300)).decode()

    async def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def _workers(url: str, processes: int, cpus: str) -> list[_Worker]:
    workers = []
    for _ in range(processes):
        process = await asyncio.create_subprocess_exec(
            *pinned(cpus),
            sys.executable,
            "-m",
            "bench._viewer_worker",
            url,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        workers.append(_Worker(process))
    return workers


async def _add(workers: list[_Worker], count: int) -> None:
    """Connect ``count`` more viewers, spread evenly over the workers (they connect in parallel)."""
    shares = [
        count // len(workers) + (1 if i < count % len(workers) else 0) for i in range(len(workers))
    ]
    answers = await asyncio.gather(
        *(
            worker.ask(f"add {share}\n")
            for worker, share in zip(workers, shares, strict=True)
            if share
        )
    )
    for answer in answers:
        if not answer.startswith("ready"):
            raise RuntimeError(f"viewer worker failed: {answer!r}")


async def _sent(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(url + "/stats") as resp:
        return int((await resp.json())["video_frames"])


async def _measure(
    mode: str, args: list[str], sizes: list[int], window: float, processes: int
) -> list[Row]:
    split = usable_cpus() >= 2
    rows = []
    async with media_server(args, cpus="0" if split else "") as server:
        workers = await _workers(server.url + "/whep", processes, "1" if split else "")
        try:
            have = 0
            for n in [0, *sizes]:
                if n > have:
                    await _add(workers, n - have)
                    have = n
                rows.append(await _window(mode, server.url, server.pid, n, workers, window))
        finally:
            for worker in workers:
                await worker.close()
    return rows


async def _window(
    mode: str, url: str, pid: int, n: int, workers: list[_Worker], window: float
) -> Row:
    await asyncio.sleep(WARMUP if n else 8.0)  # the show itself settles first
    loop = asyncio.get_running_loop()
    # The workers count for ``window`` seconds from their "go"; the server's frames and CPU are
    # read over the same ``window`` from just after it, so neither side's count gets extra time.
    answers = asyncio.gather(*(worker.ask(f"go {window}\n") for worker in workers))
    before_sent = await _sent(url)
    before_cpu, before_err = cpu_seconds(pid), udp_rcvbuf_errors()
    before_viewers = _viewer_cpu(workers)
    started = loop.time()
    await asyncio.sleep(window)
    sent = await _sent(url) - before_sent
    elapsed = loop.time() - started
    cores = (cpu_seconds(pid) - before_cpu) / elapsed
    viewer_cores = (_viewer_cpu(workers) - before_viewers) / elapsed
    results = [json.loads(answer) for answer in await answers]
    windows = [w for result in results for w in result["windows"]]
    # Per viewer: complete frames / frames the show was due to send over that viewer's own span
    # of RTP timestamps (exact at the edges), but never fewer than 30 fps of wall time less one
    # frame: a server running behind real time stamps its late frames consecutively.
    nominal = FPS * window - 1
    got = [frames / max(due, nominal) for frames, due in windows]
    return Row(
        mode,
        n,
        cores,
        min(got) if got else 1.0,
        sum(got) / len(got) if got else 1.0,
        udp_rcvbuf_errors() - before_err,
        sent / elapsed if sent > 0 else -1.0,
        sum(result["verified"] for result in results),
        sum(result["auth_failures"] for result in results),
        viewer_cores,
    )


def _viewer_cpu(workers: list[_Worker]) -> float:
    return sum(cpu_seconds(worker.process.pid) for worker in workers)


def _per_viewer_30fps(row: Row, idle: Row) -> float:
    """Server cores one viewer costs at a full 30 fps.

    Pass-through: the idle row (0 viewers) is the show's own cost (render + one encoder), scaled
    by the frames actually produced in this row; the rest is fan-out, divided by N and scaled
    from the frames sent to 30 fps (a starved server sends fewer frames and spends less).
    Relay baseline: all CPU is per viewer (nothing runs without viewers), scaled by the frames
    the viewers actually got.
    """
    if not row.viewers:
        return 0.0
    if row.server_fps > 0 and idle.server_fps > 0:
        fanout = max(0.0, row.cores - idle.cores * row.server_fps / idle.server_fps)
        return fanout / row.viewers * FPS / row.server_fps
    return row.cores / row.viewers / max(row.mean_delivered, 1e-3)


def _cost(rows: list[Row]) -> float:
    """Median per-viewer cost over the rows with viewers, preferring those that met the target."""
    good = [_per_viewer_30fps(r, rows[0]) for r in rows if r.viewers and r.delivered >= TARGET]
    every = [_per_viewer_30fps(r, rows[0]) for r in rows if r.viewers]
    return max(statistics.median(good or every), 1e-5)


def _reach(rows: list[Row]) -> str:
    """The largest N up to which every worst viewer got ≥ 99 % of the frames, and the first
    N that did not."""
    held = 0
    for row in rows:
        if row.viewers and row.delivered < TARGET:
            if not held:
                return f"below 99 % from the smallest N measured ({row.viewers})"
            return f"≥ 99 % up to N = {held}, below from N = {row.viewers}"
        held = row.viewers
    return f"≥ 99 % at every N measured (up to {held})"


def _table(rows: list[Row]) -> list[str]:
    idle = rows[0]
    out = [
        "| mode | viewers | server cores | core/viewer at 30 fps | frames delivered "
        "(worst / mean) | server fps | SRTP verified / failed | UDP RcvbufErrors | viewer cores |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        fps = f"{r.server_fps:.1f}" if r.server_fps > 0 else "n/a"
        out.append(
            f"| {r.mode} | {r.viewers} | {r.cores:.3f} | {_per_viewer_30fps(r, idle):.4f} | "
            f"{r.delivered:.1%} / {r.mean_delivered:.1%} | {fps} | "
            f"{r.verified} / {r.auth_failures} | {r.rcvbuf_errors} | {r.viewer_cores:.2f} |"
        )
    return out


def _sizes(name: str, default: str) -> list[int]:
    return [int(x) for x in os.environ.get(name, default).split(",") if x.strip()]


def run() -> str:
    sizes = _sizes("FANOUT_SIZES", "100,200,300,400,500,600")
    baseline_sizes = _sizes("FANOUT_BASELINE_SIZES", "100,200,300")
    relay_sizes = _sizes("FANOUT_RELAY_SIZES", "1")
    window = float(os.environ.get("FANOUT_WINDOW", "10"))
    processes = int(os.environ.get("FANOUT_VIEWER_PROCESSES", "4"))
    load = settle()
    mark = " — **noisy**" if noisy(load) else ""
    ours = asyncio.run(_measure("shared", ["--mode", "passthrough"], sizes, window, processes))
    before = asyncio.run(
        _measure(
            "per-viewer",
            ["--mode", "passthrough", "--per-viewer-packetization"],
            baseline_sizes,
            window,
            processes,
        )
    )
    relay = (
        asyncio.run(_measure("relay", ["--mode", "relay"], relay_sizes, window, 1))
        if relay_sizes
        else []
    )
    ours_per, before_per = _cost(ours), _cost(before)
    lines = [
        f"1-min load average at start: {load:.1f} on {cores()} cores{mark}.",
        "",
        "One synthetic 720p30 show (libx264 ultrafast, ~2.5 Mbit/s, encoded once in the server "
        "process); N receive-only aiortc WHEP viewers (real ICE/DTLS/SRTP peers that count "
        "complete frames from RTP headers and SRTP-authenticate one packet in 32, no decoding) "
        "spread over "
        f"{processes} processes pinned to CPU 1; the server pinned to CPU 0 (`taskset`), its CPU "
        f"(all threads) from /proc over {window:.0f} s after {WARMUP:.0f} s of warm-up at each N. "
        "The 0-viewer row is the show's own cost (render + one encoder, on the same core). Frames "
        "delivered = complete frames a viewer received / frames the 30 fps show was due to send "
        "between the RTP timestamps of its first and last one in the window (exact at the edges), "
        "and at least 30 per second of the window less one: a frame the server was too busy to "
        "encode or send in time counts as missed (server fps says which); core/viewer is "
        "the marginal cost normalised to 30 fps (see `_per_viewer_30fps`). Viewer sockets ask for "
        "a 2 MiB receive buffer (`SO_RCVBUF`, capped by `net.core.rmem_max`).",
        "",
        "Shared packetization (RTP payloads made once per show; a viewer rewrites headers + SRTP):",
        "",
        *_table(ours),
        "",
        "Baseline, same run: every viewer's aiortc sender packetizes the shared packets itself "
        "(`broadcast.shared_packetization: false`, the path before issue 13):",
        "",
        *_table(before),
    ]
    if relay:
        lines += [
            "",
            "Baseline, same run: aiortc `MediaRelay` of decoded frames, one H.264 encoder per "
            "viewer (counted against nominal 30 fps):",
            "",
            *_table(relay),
        ]
    lines += [
        "",
        f"- Server CPU per viewer at 30 fps (median over N meeting 99 %): shared "
        f"**{ours_per:.4f}** core, per-viewer packetization **{before_per:.4f}** core → "
        f"**{before_per / ours_per:.2f}×** less; ≈ **{1 / ours_per:.0f}** vs "
        f"**{1 / before_per:.0f} viewers per server core**.",
        f"- Frames delivered to the worst viewer, one server core that also encodes the show: "
        f"shared {_reach(ours)}; per-viewer packetization {_reach(before)}.",
    ]
    starved = [r for r in ours + before if r.server_fps > 0 and r.server_fps < 29 and r.cores < 0.9]
    if starved:
        lines.append(
            f"- {len(starved)} row(s) sent under 29 fps while the server used under 0.9 core: "
            "other processes took its core (a noisy run), so their delivery says little about "
            "the fan-out; the per-viewer CPU figures still hold."
        )
    if relay:
        relay_per = min(_per_viewer_30fps(r, relay[0]) for r in relay if r.viewers)
        lines.append(
            f"- Re-encoding per viewer (MediaRelay) costs **{relay_per:.3f}** core per viewer: "
            f"**{relay_per / ours_per:.0f}×** the shared path."
        )
    lines += [
        "",
        "Reproduce: `scripts/loopback-ns .venv/bin/python -m bench fanout` (env `FANOUT_SIZES`, "
        "`FANOUT_BASELINE_SIZES`, `FANOUT_RELAY_SIZES`, `FANOUT_WINDOW`, "
        "`FANOUT_VIEWER_PROCESSES`).",
    ]
    return "\n".join(lines)
