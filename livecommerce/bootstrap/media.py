"""Starting and stopping the broadcast plane: the peer-session manager with its edge links
(origin records, the WHEP client towards other nodes, the node-token key derived from the
secret key), the HLS packagers (writing under the data dir's media folder), the bus
subscriptions (stream-key rotation, show state, origin moves), the media gauges, and the demo
show's synthetic test pattern."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge

from livecommerce import keys
from livecommerce.broadcast import BROADCAST, HLS
from livecommerce.broadcast.config import BroadcastConfig, Rendition
from livecommerce.broadcast.edge import EdgeLinks, OriginClient, pull_key
from livecommerce.broadcast.gate import ShowServiceGate
from livecommerce.broadcast.hls import HlsPackagers
from livecommerce.broadcast.ice import IcePolicy
from livecommerce.broadcast.manager import BroadcastManager
from livecommerce.services.container import Services
from livecommerce.settings import Settings


@contextlib.asynccontextmanager
async def running_media(
    app: web.Application, settings: Settings, services: Services, registry: CollectorRegistry
) -> AsyncIterator[BroadcastManager]:
    section = settings.broadcast
    policy = IcePolicy.from_settings(section.ice.servers, section.ice.host_addresses)
    config = BroadcastConfig(
        viewer_cap=section.viewer_cap,
        shared_packetization=section.shared_packetization,
        synthetic_width=section.synthetic_width,
        synthetic_height=section.synthetic_height,
        synthetic_fps=section.synthetic_fps,
        synthetic_bitrate=section.synthetic_bitrate,
    )
    key = pull_key(app[keys.SECRET_KEY])
    client = OriginClient(key)

    async def announce(show_id: str, node_url: str) -> None:
        await services.bus.publish("show.origin", {"show_id": show_id, "node_url": node_url})

    edge = EdgeLinks(
        services.origins,
        settings.node_url,
        key,
        client,
        linger_seconds=section.edge_linger_seconds,
        origin_ttl_seconds=section.origin_ttl_seconds,
        announce=announce,
    )
    manager = BroadcastManager(
        ShowServiceGate(services.shows, services.lifecycle, services.clock), policy, config, edge
    )
    packagers = HlsPackagers(
        settings.media_dir / "hls",
        tuple(Rendition(r.name, r.height, r.bitrate) for r in section.hls_ladder),
        section.hls_segment_seconds,
        section.synthetic_fps,
        section.hls_part_seconds if section.hls_low_latency else None,
    )
    app[BROADCAST] = manager
    services.presence.add_source(manager.watching)
    app[HLS] = packagers
    if section.hls_enabled:
        manager.listeners.append(packagers)

    async def on_key_rotated(payload: dict[str, Any]) -> None:
        await manager.key_rotated(str(payload.get("show_id", "")))

    async def on_show_state(payload: dict[str, Any]) -> None:
        show_id, state = str(payload.get("show_id", "")), payload.get("state")
        if state == "ended":
            await manager.end_show(show_id)
        elif state == "paused":
            await manager.paused_elsewhere(show_id)

    async def on_show_origin(payload: dict[str, Any]) -> None:
        show_id, node_url = str(payload.get("show_id", "")), str(payload.get("node_url", ""))
        if show_id and node_url:
            manager.origin_announced(show_id, node_url)

    services.bus.subscribe("show.key_rotated", on_key_rotated)
    services.bus.subscribe("show.state", on_show_state)
    services.bus.subscribe("show.origin", on_show_origin)
    _register_metrics(registry, manager, packagers)
    manager.start()
    try:
        yield manager
    finally:
        await manager.close()
        await client.close()
        await packagers.close()


def _register_metrics(
    registry: CollectorRegistry, manager: BroadcastManager, packagers: HlsPackagers
) -> None:
    """Peer and viewer gauges, read at scrape time (no bookkeeping on the media path), and the
    HLS restart counter, bumped from packager threads (prometheus counters are thread-safe)."""
    gauges: list[tuple[str, str, Callable[[], float]]] = [
        ("livecommerce_broadcast_peer_connections",
         "Open WebRTC peer connections (publishers and viewers) on this node",
         lambda: manager.peer_count),
        ("livecommerce_broadcast_webrtc_viewers", "WHEP viewers on this node",
         manager.viewer_count),
        ("livecommerce_broadcast_edge_pulls",
         "Shows this node pulls from their origin node for its WHEP viewers",
         lambda: manager.pull_count),
        ("livecommerce_broadcast_edge_sessions",
         "Other nodes pulling a show published on this node", manager.edge_count),
        ("livecommerce_broadcast_live_feeds", "Shows with a feed on this node",
         lambda: len(manager.feeds)),
    ]  # fmt: skip
    for name, text, read in gauges:
        Gauge(name, text, registry=registry).set_function(read)
    restarts = Counter(
        "livecommerce_hls_rendition_restarts",
        "HLS rendition restarts by rendition (or decoder) and reason "
        "(format_change, error, decoder_error, thread_died)",
        ["rendition", "reason"],
        registry=registry,
    )
    packagers.restart_hooks.append(
        lambda rendition, reason: restarts.labels(rendition, reason.value).inc()
    )
