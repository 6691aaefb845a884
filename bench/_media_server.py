"""Benchmark media server: runs in its own process so its CPU is measured apart from viewers.

``python -m bench._media_server --mode passthrough|relay --port P [--width W --height H]``
prints ``ready <pid>`` once listening; SIGTERM stops it cleanly (``--profile FILE`` then writes
its cProfile statistics there). Modes:

- ``passthrough``: our design. One synthetic show encoded once (libx264), WHEP viewers get the
  shared packets. RTP payloads are made once per show, or once per viewer with
  ``--per-viewer-packetization`` (the fan-out benchmark's same-run baseline).
- ``relay``: the baseline. aiortc ``MediaRelay`` shares *decoded* synthetic frames and every
  viewer's sender runs its own H.264 encoder (aiortc's default design).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import signal

from aiohttp import web
from aiortc import RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from livecommerce.broadcast import sdp
from livecommerce.broadcast.config import BroadcastConfig
from livecommerce.broadcast.errors import MediaRejected
from livecommerce.broadcast.ice import IcePolicy, create_peer_connection
from livecommerce.broadcast.manager import BroadcastManager
from livecommerce.broadcast.synthetic import SyntheticSource, SyntheticVideoTrack
from tests.support.media import FakeShowGate

SHOW = "bench"


def _h264_only(kind: str, codec: sdp.OfferedCodec) -> bool:
    return kind == "video" and codec.name.lower() == "h264" and sdp.accept_ingest_codec(kind, codec)


async def serve(args: argparse.Namespace) -> None:
    policy = IcePolicy(host_addresses=(args.address,))
    source = SyntheticSource(args.width, args.height, args.fps)
    config = BroadcastConfig(
        viewer_cap=10_000,
        synthetic_bitrate=args.bitrate,
        shared_packetization=not args.per_viewer_packetization,
    )
    manager = BroadcastManager(FakeShowGate({SHOW: "bench"}), policy, config)
    relay = MediaRelay()
    raw = SyntheticVideoTrack(source)
    pcs = set()
    app = web.Application()

    async def whep(request: web.Request) -> web.Response:
        offer = await request.text()
        if args.mode == "passthrough":
            try:
                _, answer = await manager.play(SHOW, offer)
            except MediaRejected as exc:
                return web.Response(status=exc.status, text=exc.message)
            return web.Response(status=201, text=answer, content_type="application/sdp")
        pc = create_peer_connection(policy)
        pcs.add(pc)
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp.filter_offer(offer, _h264_only), "offer")
        )
        pc.addTrack(relay.subscribe(raw, buffered=False))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(
            status=201, text=pc.localDescription.sdp, content_type="application/sdp"
        )

    async def stats(request: web.Request) -> web.Response:
        """Video frames the server sent so far (delivery is measured against this)."""
        feed = manager.feeds.get(SHOW)
        sent = feed.stats.video_packets if feed is not None else 0
        return web.json_response({"video_frames": sent if args.mode == "passthrough" else -1})

    app.router.add_get("/stats", stats)
    app.router.add_post("/whep", whep)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    if args.mode == "passthrough":
        await manager.start_synthetic(SHOW, source)
    print(f"ready {os.getpid()}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await manager.close()
        for pc in pcs:
            await pc.close()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["passthrough", "relay"], default="passthrough")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--bitrate", type=int, default=2_500_000)
    parser.add_argument("--per-viewer-packetization", action="store_true")
    parser.add_argument("--profile", default="", help="write cProfile stats here on exit")
    args = parser.parse_args()
    if not args.profile:
        asyncio.run(serve(args))
        return
    with cProfile.Profile() as profile:
        asyncio.run(serve(args))
    profile.dump_stats(args.profile)


if __name__ == "__main__":
    main()
