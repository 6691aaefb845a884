"""The viewer (WHEP) side of a session: subscribing it to the show's feed and answering the offer.

A viewer gets the feed's own packets, never a transcode, so its offer may only keep the feed's
codecs; its PLI/FIR is routed to the feed's one source instead of a per-viewer encoder; and with
shared packetization its sender is a :class:`~livecommerce.broadcast.packetizer.SharedRtpSender`
that sends the feed's RTP payloads under its own headers.
"""

from __future__ import annotations

from aiortc import RTCSessionDescription

from livecommerce.broadcast import sdp
from livecommerce.broadcast.errors import MediaRejected
from livecommerce.broadcast.packetizer import SharedRtpSender
from livecommerce.broadcast.relay import ShowFeed
from livecommerce.broadcast.session import PeerSession, checked_offer

__all__ = ["answer_viewer", "pull_offer", "viewer_offer"]


def viewer_offer(offer: str, feed: ShowFeed) -> str:
    """A WHEP offer filtered to the feed's own codecs."""
    return checked_offer(offer, _accept_feed_codec(feed))


def pull_offer(offer: str, feed: ShowFeed) -> str:
    """Another node's pull offer, filtered like a viewer's except that a kind the feed lacks
    stays (and is answered inactive): the edge offers audio and video without knowing which
    the show has."""
    return checked_offer(offer, _accept_feed_codec(feed, missing_kind_ok=True))


async def answer_viewer(session: PeerSession, feed: ShowFeed, offer: str) -> None:
    """Subscribe the session to the feed and answer its filtered offer (400 if aiortc refuses)."""
    pc = session.pc
    try:
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        for transceiver in pc.getTransceivers():
            kind = transceiver.kind
            if (kind == "video" and feed.video_codec) or (kind == "audio" and feed.audio_codec):
                track = feed.subscribe(kind)
                session.tracks.append(track)
                sender = pc.addTrack(track)
                if feed.shared_packetization:
                    sender = SharedRtpSender.adopt(sender)
                # Viewer PLI/FIR reaches the one source, not a per-viewer encoder.
                sender._send_keyframe = track.request_keyframe  # type: ignore[method-assign]
                transceiver.direction = "sendonly"
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
    except MediaRejected:
        raise
    except Exception as exc:
        raise MediaRejected(400, "invalid_sdp", "the offer could not be negotiated") from exc


def _accept_feed_codec(feed: ShowFeed, missing_kind_ok: bool = False) -> sdp.CodecFilter:
    """Viewer offers may only keep the feed's own codecs: packets are passed, not transcoded."""

    def accept(kind: str, codec: sdp.OfferedCodec) -> bool:
        if not sdp.accept_ingest_codec(kind, codec):
            return False
        ours = feed.video_codec if kind == "video" else feed.audio_codec
        if ours is None:
            return missing_kind_ok
        return ours.name.lower() == codec.name.lower()

    return accept
