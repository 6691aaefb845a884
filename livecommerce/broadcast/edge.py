"""Edge WebRTC: pulling a show from its origin node over WHEP, once per node, for local viewers.

A show's media enters one node (its origin: the WHIP publisher's node, or the synthetic
source's). A WHEP viewer landing on another node (an edge) is served from a local
:class:`~livecommerce.broadcast.relay.ShowFeed` that this node fills from one pull: an aiortc
peer connection (made by the ICE helper, like every other) that offers recvonly video and audio
to the origin's ``POST /whep/{show}``. Its tracks take the WHIP ingest path
(:func:`~livecommerce.broadcast.ingest.mark_passthrough`): the re-assembled *encoded* frames go
into the feed, never through a decoder or encoder, and the feed's keyframe requests become PLIs
on the pull, which the origin routes to its own source. So encode-once holds across nodes.

The pull is a node request, not a viewer: it carries a node token (:func:`node_token`, an HMAC
of the show and a timestamp under a key derived from ``server.secret_key``, which every node of
a deployment shares), so the origin exempts it from the viewer cap and answers it only from a
source of its own (an edge never pulls from another edge, so pulls cannot loop). A client
without the key can still be a WHEP viewer, never an edge.

:class:`OriginClient` is the HTTP half (the only outbound HTTP of the media plane): its
addresses come from the origin records nodes write about themselves (``server.internal_url``),
never from a request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiortc import RTCSessionDescription

from livecommerce.broadcast.errors import MediaRejected
from livecommerce.broadcast.publisher import PublishedMedia, codec_of, ingest_tracks
from livecommerce.broadcast.relay import ShowFeed
from livecommerce.broadcast.session import PeerSession
from livecommerce.services.ports import ShowOrigins

__all__ = [
    "NODE_TOKEN_HEADER",
    "EdgeLinks",
    "OriginClient",
    "node_token",
    "open_pull",
    "pull_key",
    "verify_node_token",
]

log = logging.getLogger(__name__)

#: The request header a pull carries its node token in.
NODE_TOKEN_HEADER = "LiveCommerce-Node-Token"  # noqa: S105  # why: a header name
_TOKEN_SKEW = 60  # seconds a node token is accepted either side of its timestamp
_SIGNAL_TIMEOUT = aiohttp.ClientTimeout(total=10)
_LEAVE_TIMEOUT = aiohttp.ClientTimeout(total=3)


def pull_key(secret_key: bytes) -> bytes:
    """The node-token key, derived from the shared secret key (never the key itself, so a
    node token can never pass for anything the secret key signs elsewhere)."""
    return hmac.new(secret_key, b"livecommerce edge pull", hashlib.sha256).digest()


def node_token(key: bytes, show_id: str, at: float | None = None) -> str:
    """``<unix seconds>.<hex HMAC-SHA256 of "show:seconds">``: good for one show, one minute."""
    seconds = int(time.time() if at is None else at)
    digest = hmac.new(key, f"{show_id}:{seconds}".encode(), hashlib.sha256).hexdigest()
    return f"{seconds}.{digest}"


def verify_node_token(key: bytes, show_id: str, token: str, at: float | None = None) -> bool:
    """Whether ``token`` was made with ``key`` for this show within the last (or next) minute."""
    stamp, _, digest = token.partition(".")
    if not stamp.isdigit() or len(stamp) > 12 or len(digest) != 64:
        return False
    now = time.time() if at is None else at
    if abs(now - int(stamp)) > _TOKEN_SKEW:
        return False
    expected = hmac.new(key, f"{show_id}:{stamp}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, digest)


class OriginClient:
    """WHEP signalling towards other nodes: the offer POST and the DELETE that ends a pull."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        return self._http

    async def offer(self, origin_url: str, show_id: str, offer: str) -> tuple[str, str]:
        """POST the pull's offer to the origin; (answer SDP, session URL). A refusal is the
        viewer's refusal: 409 ``show_not_live`` when the origin has no source any more, else
        503 ``origin_unavailable`` (the player retries)."""
        url = f"{origin_url}/whep/{show_id}"
        headers = {
            "Content-Type": "application/sdp",
            NODE_TOKEN_HEADER: node_token(self._key, show_id),
        }
        try:
            async with self._session().post(
                url, data=offer.encode(), headers=headers, timeout=_SIGNAL_TIMEOUT
            ) as resp:
                body = await resp.text()
                location = resp.headers.get("Location", "")
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _unavailable() from exc
        if status == 409:
            raise MediaRejected(409, "show_not_live", "the show is not live")
        session_url = urljoin(url, location)
        if status != 201 or not urlsplit(session_url).path.startswith(f"/whep/{show_id}/"):
            log.warning("origin refused a pull", extra={"show_id": show_id, "status": status})
            raise _unavailable()
        return body, session_url

    async def leave(self, session_url: str) -> None:
        """DELETE the pull's session on the origin (best effort: a dead origin forgets it)."""
        try:
            async with self._session().delete(session_url, timeout=_LEAVE_TIMEOUT):
                pass
        except (aiohttp.ClientError, TimeoutError):
            log.info("origin did not answer the end of a pull")

    async def close(self) -> None:
        """Close the connection pool (app shutdown)."""
        if self._http is not None:
            await self._http.close()


def _unavailable() -> MediaRejected:
    return MediaRejected(
        503, "origin_unavailable", "the show's origin node cannot be reached", {"Retry-After": "2"}
    )


@dataclass(frozen=True)
class EdgeLinks:
    """What a node needs to be an origin and an edge: the shared origin records, its own URL
    as the others reach it, the node-token key and the WHEP client towards other nodes."""

    origins: ShowOrigins
    node_url: str
    key: bytes
    client: OriginClient
    linger_seconds: float = 10.0
    origin_ttl_seconds: float = 10.0
    #: Tells the other nodes at once that this node became a show's origin (the bus), so
    #: their pulls and a stale publisher move without waiting for a refresh round.
    announce: Callable[[str, str], Awaitable[None]] | None = None


async def open_pull(
    session: PeerSession, links: EdgeLinks, origin_url: str, feed: Callable[[], ShowFeed]
) -> PublishedMedia:
    """Offer recvonly audio+video to the origin and consume what it sends into the feed as
    encoded packets (the WHIP ingest path); returns the negotiated codecs and the video
    receiver (where the feed's keyframe requests become PLIs to the origin)."""
    pc = session.pc
    receivers = ingest_tracks(session, feed)
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    answer, session_url = await links.client.offer(
        origin_url, session.show_id, pc.localDescription.sdp
    )
    session.remote_url = session_url
    try:
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    except Exception as exc:  # aiortc raises ValueError/InternalError on an odd answer
        raise MediaRejected(502, "origin_unavailable", "the origin's answer was refused") from exc
    codecs = {  # a kind the show lacks is answered inactive
        t.kind: codec_of(list(t._codecs))
        for t in pc.getTransceivers()
        if t.currentDirection == "recvonly"
    }
    if codecs.get("video") is None and codecs.get("audio") is None:
        raise MediaRejected(409, "show_not_live", "the origin sends no media")
    return PublishedMedia(codecs.get("video"), codecs.get("audio"), receivers.get("video"))
