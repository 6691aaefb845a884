"""Broadcast (media) plane: WHIP ingest, encode-once WebRTC fan-out (WHEP), HLS and replay.

Owns every peer connection, encoder and packager thread of the process. ``setup(app)`` is the
one call the app factory makes: it adds the broadcast cleanup context (manager, bus
subscription, demo show's synthetic source), the shutdown hook that closes every peer
connection, and the WHIP/WHEP/HLS routes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from livecommerce import keys

if TYPE_CHECKING:
    from livecommerce.broadcast.manager import BroadcastManager

__all__ = ["setup"]

log = logging.getLogger(__name__)


async def _broadcast_ctx(app: web.Application) -> AsyncIterator[None]:
    from livecommerce.broadcast.config import BroadcastConfig, Rendition
    from livecommerce.broadcast.gate import ShowServiceGate
    from livecommerce.broadcast.hls import HlsPackagers
    from livecommerce.broadcast.ice import IcePolicy
    from livecommerce.broadcast.manager import BroadcastManager

    settings = app[keys.SETTINGS]
    section = settings.broadcast
    policy = IcePolicy.from_settings(section.ice.servers, section.ice.host_addresses)
    config = BroadcastConfig(
        viewer_cap=section.viewer_cap,
        reconnect_grace_seconds=section.reconnect_grace_seconds,
        synthetic_width=section.synthetic_width,
        synthetic_height=section.synthetic_height,
        synthetic_fps=section.synthetic_fps,
        synthetic_bitrate=section.synthetic_bitrate,
    )
    manager = BroadcastManager(ShowServiceGate(app[keys.SHOWS]), policy, config)
    app[keys.BROADCAST] = manager
    packagers = HlsPackagers(
        section.media_dir / "hls",
        tuple(Rendition(r.name, r.height, r.bitrate) for r in section.hls_ladder),
        section.hls_segment_seconds,
        section.synthetic_fps,
        section.hls_part_seconds if section.hls_low_latency else None,
    )
    app[keys.HLS] = packagers
    if section.hls_enabled:
        manager.listeners.append(packagers)

    async def on_key_rotated(payload: dict[str, Any]) -> None:
        await manager.key_rotated(str(payload.get("show_id", "")))

    app[keys.BUS].subscribe("show.key_rotated", on_key_rotated)

    async def check() -> None:
        return None  # the manager is in-process; a failure would have stopped start-up

    app[keys.HEALTH_CHECKS]["broadcast"] = check
    _register_metrics(app, manager)
    if settings.demo.enabled:
        await _start_demo(app)
    yield
    await manager.close()
    await packagers.close()


def _register_metrics(app: web.Application, manager: BroadcastManager) -> None:
    """Peer and viewer gauges, read at scrape time (no bookkeeping on the media path)."""
    from prometheus_client import Gauge

    registry = app[keys.REGISTRY]
    peers = Gauge(
        "livecommerce_broadcast_peer_connections",
        "Open WebRTC peer connections (publishers and viewers) on this node",
        registry=registry,
    )
    peers.set_function(lambda: manager.peer_count)
    viewers = Gauge(
        "livecommerce_broadcast_webrtc_viewers",
        "WHEP viewers on this node",
        registry=registry,
    )
    viewers.set_function(lambda: manager.viewer_count())
    live = Gauge(
        "livecommerce_broadcast_live_feeds", "Shows with a feed on this node", registry=registry
    )
    live.set_function(lambda: len(manager.feeds))


async def _start_demo(app: web.Application) -> None:
    """The demo show broadcasts the synthetic test pattern for as long as the server runs."""
    from livecommerce.services.demo import DEMO_FILE

    path = app[keys.SETTINGS].server.data_dir / DEMO_FILE
    try:
        show_id = str(json.loads(path.read_text())["show_id"])
    except (OSError, ValueError, KeyError):
        log.warning("demo enabled but %s is unreadable; no synthetic broadcast", path)
        return
    await app[keys.BROADCAST].start_synthetic(show_id)


async def _close_peers(app: web.Application) -> None:
    manager = app.get(keys.BROADCAST)
    if manager is not None:
        await manager.close()


def setup(app: web.Application) -> None:
    """Plug the broadcast plane into the app (after the services' cleanup context)."""
    from livecommerce.routes.media import add_media_routes

    app.cleanup_ctx.append(_broadcast_ctx)
    app.on_shutdown.append(_close_peers)
    add_media_routes(app)
