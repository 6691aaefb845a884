"""One peer session (a show's publisher, a viewer, or a pull between nodes) and the offer check.

A session is the manager's record of one ``RTCPeerConnection`` and of what must stop with it
(its tracks and tasks). Every offer is checked and filtered on text before a peer connection
exists, so a malformed or codec-less offer costs no peer and is refused as a WHIP/WHEP 400/406
rather than failing deep inside aiortc.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Literal

from aiortc import MediaStreamTrack, RTCPeerConnection

from livecommerce.broadcast import sdp
from livecommerce.broadcast.errors import MediaRejected

__all__ = ["PeerSession", "Role", "checked_offer", "new_session_id"]

#: ``edge``: on an origin, a WHEP session serving another node's pull; ``pull``: on an edge,
#: the session receiving a show from its origin (see :mod:`~livecommerce.broadcast.edge`).
Role = Literal["publisher", "viewer", "edge", "pull"]


@dataclass
class PeerSession:
    """One peer connection: a show's publisher, one of its viewers, or a node-to-node pull."""

    id: str
    show_id: str
    role: Role
    pc: RTCPeerConnection
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    tracks: list[MediaStreamTrack] = field(default_factory=list)
    closed: bool = False
    #: Who a viewer session is counted as (docs/METRICS.md); empty for a publisher.
    person: str = ""
    #: A pull's session URL on its origin (DELETEd when the pull stops).
    remote_url: str | None = None


def new_session_id() -> str:
    """A 128-bit CSPRNG session id, URL-safe (it becomes part of the Location URL)."""
    return secrets.token_urlsafe(16)


def checked_offer(
    offer: str, accept: sdp.CodecFilter, prefer: tuple[str, ...] = (), single: bool = False
) -> str:
    """The offer filtered to the codecs we take; refusals are 406 (no codec) or 400 (bad SDP)."""
    try:
        return sdp.filter_offer(offer, accept, prefer, single)
    except sdp.NoSupportedCodec as exc:
        raise MediaRejected(406, "unsupported_media", str(exc)) from exc
    except sdp.MalformedSdp as exc:
        raise MediaRejected(400, "invalid_sdp", str(exc)) from exc
