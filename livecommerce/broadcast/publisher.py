"""The publisher (WHIP) side of a session: answering the offer and wiring its tracks to the feed.

Ingest takes ONE video codec, H.264 first, because every viewer (Safari/iOS included) and the
HLS pass-through can use it, and a single-codec answer makes the feed's codec certain. Every
incoming track is marked pass-through and consumed into the show's feed as encoded packets. The
negotiated codecs and the video receiver come back to the manager, which attaches them to the
feed (the receiver is where the feed's keyframe requests become PLIs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription

from livecommerce.broadcast import sdp
from livecommerce.broadcast.errors import MediaRejected
from livecommerce.broadcast.ingest import consume_ingest, mark_passthrough
from livecommerce.broadcast.relay import FeedCodec, ShowFeed
from livecommerce.broadcast.session import PeerSession, checked_offer

__all__ = ["PublishedMedia", "answer_publisher", "codec_of", "publisher_offer"]


@dataclass(frozen=True)
class PublishedMedia:
    """What a publisher's answered offer brings to the feed."""

    video: FeedCodec | None
    audio: FeedCodec | None
    video_receiver: RTCRtpReceiver | None  # where the feed's keyframe requests go (PLI)


def publisher_offer(offer: str) -> str:
    """A WHIP offer filtered to the ingest codecs, with one video codec, H.264 when offered."""
    return checked_offer(offer, sdp.accept_ingest_codec, ("h264",), single=True)


def ingest_tracks(session: PeerSession, feed: Callable[[], ShowFeed]) -> dict[str, RTCRtpReceiver]:
    """Consume every track the session's peer sends into the show's feed as encoded packets
    (pass-through: nothing decoded); the receivers by kind, filled as tracks arrive (the
    video one is where the feed's keyframe requests go as PLI). A publisher's WHIP session and
    an edge's pull of another node both ingest so."""
    receivers: dict[str, RTCRtpReceiver] = {}

    @session.pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        mark_passthrough(track)
        session.tracks.append(track)
        for receiver in session.pc.getReceivers():
            if receiver.track is track:
                receivers[track.kind] = receiver
        session.tasks.append(asyncio.create_task(consume_ingest(track, feed())))

    return receivers


async def answer_publisher(
    session: PeerSession, offer: str, feed: Callable[[], ShowFeed]
) -> PublishedMedia:
    """Answer a filtered WHIP offer, consuming every incoming track into the show's feed."""
    pc = session.pc
    receivers = ingest_tracks(session, feed)
    await _negotiate(pc, offer)
    codecs = {t.kind: codec_of(list(t._codecs)) for t in pc.getTransceivers()}
    if codecs.get("video") is None and codecs.get("audio") is None:
        raise MediaRejected(406, "unsupported_media", "no common codec")
    return PublishedMedia(codecs.get("video"), codecs.get("audio"), receivers.get("video"))


async def _negotiate(pc: RTCPeerConnection, offer: str) -> None:
    try:
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
    except MediaRejected:
        raise
    except Exception as exc:  # aiortc raises ValueError/InternalError on odd SDP
        raise MediaRejected(400, "invalid_sdp", "the offer could not be negotiated") from exc


def codec_of(transceiver_codecs: list[object]) -> FeedCodec | None:
    """The negotiated media codec of a transceiver (its first non-RTX one), as a feed codec."""
    for codec in transceiver_codecs:
        mime = str(getattr(codec, "mimeType", ""))
        if mime.lower().endswith("/rtx"):
            continue
        params = dict(getattr(codec, "parameters", {}) or {})
        return FeedCodec(mime, {str(k): v for k, v in params.items()})
    return None
