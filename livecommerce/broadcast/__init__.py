"""Broadcast (media) plane: WHIP ingest, encode-once WebRTC fan-out (WHEP), HLS and replay.

Owns every peer connection, encoder and packager thread of the process. The composition root
(``livecommerce/bootstrap/media.py``) builds the ``BroadcastManager`` and the HLS packagers at
start-up and closes them at shutdown; ``routes/media.py`` is the HTTP face (WHIP/WHEP
signalling, HLS and replay files) and reaches them through the keys below. This is the only
package that imports aiortc and av.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from livecommerce.broadcast.hls import HlsPackagers
    from livecommerce.broadcast.manager import BroadcastManager

#: This node's peer sessions, feeds and synthetic sources.
BROADCAST: web.AppKey[BroadcastManager] = web.AppKey("broadcast")
#: This node's HLS packagers (one per live show) and the media folders they write.
HLS: web.AppKey[HlsPackagers] = web.AppKey("hls")
