"""Tunables of the broadcast plane that are not ICE (ICE lives in ``broadcast.ice`` settings).

Kept as one frozen dataclass so the manager, the packager and tests share one set of defaults;
``setup(app)`` builds it from the ``broadcast`` settings section.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BroadcastConfig", "Rendition"]


@dataclass(frozen=True)
class Rendition:
    """One HLS rendition: ``height`` 0 means pass-through of the source video."""

    name: str
    height: int = 0
    bitrate: int = 0


@dataclass(frozen=True)
class BroadcastConfig:
    """Limits and timings of ingest, fan-out and packaging on this node."""

    viewer_cap: int = 300  # WHEP viewers per node; beyond it 503 + Retry-After (HLS fallback)
    viewer_retry_after: int = 10  # seconds, sent with the 503
    publisher_stall_seconds: float = 8.0  # a publisher sending nothing this long has dropped
    session_tombstones: int = 10_000  # closed sessions remembered so a late DELETE gets 200
    connect_timeout_seconds: float = 20.0  # a peer that never connects is closed
    keyframe_interval: float = 1.0  # at most one keyframe request per show per interval
    shared_packetization: bool = True  # RTP payloads made once per show, not once per viewer
    synthetic_width: int = 1280
    synthetic_height: int = 720
    synthetic_fps: int = 30
    synthetic_bitrate: int = 2_500_000
