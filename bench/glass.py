"""Glass-to-glass latency in a real browser: LL-HLS and plain HLS with hls.js, and WebRTC (WHEP).

The real app runs the synthetic show (1280x720 at 30 fps, the default ladder: pass-through
``source`` + transcoded ``360p``), whose frames carry their capture time (Unix ms) in a strip of
binary blocks (:mod:`livecommerce.broadcast.synthetic`). Headless Chromium (Debian's, inside
``scripts/loopback-ns``) plays it through the viewer page's own player code (``media.js``:
``playHls`` with the page's hls.js configuration, ``playWhep``), and on every presented frame
(``requestVideoFrameCallback``) draws the strip into a canvas and decodes it in JS the way
:func:`~livecommerce.broadcast.synthetic.read_stamp` does: glass-to-glass = the frame's expected
display time - its capture time, both on this machine's clock, encode, packaging, HTTP, player
buffer and decode included. Each frame counts once.

Two servers in one run: the defaults (LL-HLS on: 1 s segments, 1/3 s parts), measured with
hls.js and with WHEP; then ``hls_low_latency: false`` (plain HLS, 1 s segments) with hls.js.
WebRTC is the same-run baseline the HLS figures are compared with. Each player gets
``GLASS_WARMUP`` seconds (default 8) to reach its steady live position, then ``GLASS_WINDOW``
seconds (default 30) are measured.

Run: ``scripts/loopback-ns .venv/bin/python -m bench glass``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright

from bench._load import cores, noisy, settle
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.media_app import MediaApp, running_media_app

TITLE = "Glass-to-glass latency"

# The stamp reader of synthetic.read_stamp, in JS on canvas pixels (RGB: video-range luma
# 16/235 becomes 0/255, so the threshold is mid-scale), started on a fresh <video>.
_PLAY_JS = """
async ({kind, url}) => {
  const media = await import("/static/js/media.js");
  const video = document.createElement("video");
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  document.body.append(video);
  const out = (window.__glass = { samples: [], errors: [], session: null });
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  let last = -1;
  const read = (wallMs) => {
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return;
    const strip = Math.max(2, Math.floor(h / 45));
    const top = Math.floor(strip / 4), rows = strip - 2 * top;
    if (canvas.width !== w || canvas.height !== rows) { canvas.width = w; canvas.height = rows; }
    ctx.drawImage(video, 0, top, w, rows, 0, 0, w, rows);
    const px = ctx.getImageData(0, 0, w, rows).data;
    let marker = 0, counter = 0, capture = 0;
    for (let i = 0; i < 80; i++) {
      const x0 = Math.floor((i * w) / 80), x1 = Math.floor(((i + 1) * w) / 80);
      const m = Math.max(1, Math.floor((x1 - x0) / 4));
      let sum = 0, n = 0;
      for (let y = 0; y < rows; y++) {
        for (let x = x0 + m; x < x1 - m; x++) {
          const k = (y * w + x) * 4;
          sum += 0.299 * px[k] + 0.587 * px[k + 1] + 0.114 * px[k + 2];
          n++;
        }
      }
      const bit = sum / n > 127.5 ? 1 : 0;
      if (i < 8) marker = marker * 2 + bit;
      else if (i < 36) counter = counter * 2 + bit;
      else capture = capture * 2 + bit;
    }
    if (marker !== 0b10110010 || counter === last) return;
    last = counter;
    out.samples.push(Math.round(wallMs - capture));
  };
  const onFrame = (_now, meta) => {
    read(performance.timeOrigin + meta.expectedDisplayTime);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  if (kind === "whep") out.session = await media.playWhep(video, url, []);
  else out.session = await media.playHls(video, url, (d) => out.errors.push(String(d.details)));
  await video.play().catch((e) => out.errors.push(String(e)));
}
"""


@dataclass(frozen=True)
class Result:
    """One player's glass-to-glass samples (ms), one per displayed frame."""

    name: str
    samples: list[int]
    errors: list[str]

    def pct(self, q: float) -> int:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.asynccontextmanager
async def _show(data_dir: Path, low_latency: bool) -> AsyncIterator[MediaApp]:
    """The real app on loopback with its synthetic show live, at the demo's picture size."""
    settings = {
        "synthetic_width": 1280,
        "synthetic_height": 720,
        "hls_low_latency": low_latency,
    }
    async with running_media_app(data_dir, settings) as env:
        await env.manager.start_synthetic(env.show_id)
        yield env


async def _watch(
    browser: Browser, env: MediaApp, name: str, kind: str, warmup: float, window: float
) -> Result:
    url = f"/whep/{env.show_id}" if kind == "whep" else f"/hls/{env.show_id}/index.m3u8"
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = await context.new_page()
        await page.goto(env.base_url + "/")
        await page.evaluate(_PLAY_JS, {"kind": kind, "url": url})
        await page.wait_for_function("window.__glass.samples.length > 0", timeout=40_000)
        await asyncio.sleep(warmup)
        start = await page.evaluate("window.__glass.samples.length")
        await asyncio.sleep(window)
        data: dict[str, Any] = await page.evaluate(
            "({samples: window.__glass.samples, errors: window.__glass.errors})"
        )
        await page.evaluate("window.__glass.session.stop()")
        return Result(name, list(data["samples"])[start:], list(data["errors"]))
    finally:
        await context.close()


async def _measure(warmup: float, window: float) -> list[Result]:
    results = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with tempfile.TemporaryDirectory() as data_dir:
                async with _show(Path(data_dir), low_latency=True) as env:
                    results.append(
                        await _watch(browser, env, "WebRTC (WHEP)", "whep", warmup, window)
                    )
                    results.append(
                        await _watch(browser, env, "LL-HLS, hls.js", "hls", warmup, window)
                    )
            with tempfile.TemporaryDirectory() as data_dir:
                async with _show(Path(data_dir), low_latency=False) as env:
                    results.append(
                        await _watch(browser, env, "plain HLS, hls.js", "hls", warmup, window)
                    )
        finally:
            await browser.close()
    return results


def run() -> str:
    warmup = float(os.environ.get("GLASS_WARMUP", "8"))
    window = float(os.environ.get("GLASS_WINDOW", "30"))
    load = settle()
    results = asyncio.run(_measure(warmup, window))
    baseline = statistics.median(results[0].samples) if results[0].samples else 0
    lines = [
        f"1-min load average at start: {load:.2f} on {cores()} cores"
        + (" — **noisy** (above the core count)" if noisy(load) else "")
        + ".",
        "",
        "Server: the real app, synthetic show 1280x720 at 30 fps (libx264, 1 s GOP), ladder "
        "`source` (pass-through) + `360p`, 1 s segments, LL-HLS parts of 1/3 s "
        "(PART-HOLD-BACK 1 s). Viewer: headless Chromium with the viewer page's player code; "
        "each displayed frame's burnt-in capture time is read from a canvas and compared "
        f"with its display time (same clock). {warmup:.0f} s warm-up, {window:.0f} s window "
        "per player; server, encoder and browser share the machine.",
        "",
        "| path | frames | p50 ms | p95 ms | max ms | p50 vs WebRTC |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        if not result.samples:
            lines.append(f"| {result.name} | 0 | – | – | – | – |")
            continue
        p50 = statistics.median(result.samples)
        ratio = f"{p50 / baseline:.1f}×" if baseline else "–"
        lines.append(
            f"| {result.name}{' (noisy)' if noisy(load) else ''} | {len(result.samples)} | "
            f"{p50:.0f} | {result.pct(0.95)} | {max(result.samples)} | {ratio} |"
        )
    by_name = {r.name: r for r in results}
    targets = (("LL-HLS, hls.js", 2500), ("plain HLS, hls.js", 6000))
    lines.append("")
    for name, limit in targets:
        found = by_name.get(name)
        if found is not None and found.samples:
            p50 = statistics.median(found.samples)
            verdict = "met" if p50 <= limit else "**not met**"
            lines.append(f"- {name}: target p50 ≤ {limit / 1000:.1f} s {verdict}.")
    lines += [
        "",
        "What sets them: WebRTC is encode + loopback + the browser's jitter buffer. LL-HLS is "
        "hls.js holding PART-HOLD-BACK (3 parts = 1 s) behind the newest part, plus that part's "
        "own 1/3 s (a part is listed only once complete), plus encode, packaging and MSE "
        "append; shorter parts would cut both terms at the cost of more requests per second "
        "per viewer. Plain HLS is hls.js holding 3 target durations (3 s) behind the end of "
        "the playlist, whose newest segment is up to 1 s old when listed.",
    ]
    errors = sorted({e for r in results for e in r.errors})
    if errors:
        lines += ["", "Player errors seen: " + ", ".join(errors) + "."]
    lines += [
        "",
        "Reproduce: `scripts/loopback-ns .venv/bin/python -m bench glass` "
        "(env `GLASS_WARMUP`, `GLASS_WINDOW`).",
    ]
    return "\n".join(lines)
