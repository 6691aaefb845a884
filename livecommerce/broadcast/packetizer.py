"""Packetize once per show: one RTP payload stream shared by every WebRTC viewer of a kind.

Each encoded ``av.Packet`` of the feed is split into RTP payloads once, by aiortc's own codec
``pack()`` (so the payloads are byte for byte what a per-viewer sender would make), into an
:class:`RtpFrame`: the payloads, the frame's RTP timestamp relative to the stream, and whether it
is a keyframe. A viewer's :class:`SharedRtpSender` then only writes its own RTP header (SSRC,
sequence number, its random timestamp base, its payload type, its negotiated ``mid`` and
``abs-send-time`` extensions, computed once per frame) in front of each shared payload and hands
the result to SRTP. Before this, every viewer's sender split the same bitstream again.

aiortc 1.16 internals this relies on (pinned ``aiortc==1.16.*``; ``INTERNALS`` below is checked by
``tests/unit/test_packetizer.py``, which fails loudly if an upgrade moves them):

- ``RTCRtpSender.send()`` starts ``self._run_rtp(codec)`` and routes RTCP NACKs to
  ``self._retransmit(seq)``: :class:`SharedRtpSender` overrides both (an existing sender is
  adopted by switching its class after ``addTrack``, before the connection starts it).
- The sender's private state read or kept up to date here: ``__rtp_started`` / ``__rtp_exited``
  (``stop()`` waits on them), ``__mid``, ``__rtp_header_extensions_map``, ``__rtx_payload_type``,
  ``__rtx_sequence_number``, ``__track``, and the RTCP sender-report counters ``__ntp_timestamp``,
  ``__rtp_timestamp``, ``__octet_count``, ``__packet_count``.
- ``RTCDtlsTransport._send_rtp(bytes)`` protects (SRTP) and sends one packet;
  ``aiortc.rtp.HeaderExtensionsMap.set``, ``RtpPacket.parse``, ``wrap_rtx`` and
  ``RTP_HISTORY_SIZE`` for the header extensions and retransmissions.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from struct import Struct
from typing import TYPE_CHECKING, Any

from aiortc import RTCRtpCodecParameters, RTCRtpSender
from aiortc.clock import current_ntp_time
from aiortc.codecs import get_encoder
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import RTP_HISTORY_SIZE, HeaderExtensions, HeaderExtensionsMap, RtpPacket, wrap_rtx
from aiortc.utils import random32

if TYPE_CHECKING:
    import av
    from av.stream import Stream

    from livecommerce.broadcast.relay import FeedCodec

__all__ = ["INTERNALS", "RtpFrame", "SharedPacketizer", "SharedRtpSender"]

log = logging.getLogger(__name__)

_PREFIX = "_RTCRtpSender__"
#: Private attributes of aiortc's ``RTCRtpSender`` this module reads or writes (see docstring).
INTERNALS = (
    "rtp_started",
    "rtp_exited",
    "mid",
    "rtp_header_extensions_map",
    "rtx_payload_type",
    "rtx_sequence_number",
    "track",
    "ntp_timestamp",
    "rtp_timestamp",
    "octet_count",
    "packet_count",
)
_HEADER = Struct("!BBHLL")
_EXTENSION = Struct("!HH")


@dataclass(frozen=True, slots=True)
class RtpFrame:
    """One encoded frame split into RTP payloads, shared by every viewer of the show."""

    payloads: tuple[bytes, ...]
    timestamp: int  # RTP clock units since the stream's origin; a viewer adds its random base
    is_keyframe: bool


class SharedPacketizer:
    """Splits one kind of a feed's packets into RTP payloads, once for all viewers."""

    def __init__(self, codec: FeedCodec) -> None:
        clock_rate = 48000 if codec.mime_type.lower() == "audio/opus" else 90000
        # aiortc's own encoder object, used only for ``pack()``: the same payloads as before.
        self._encoder = get_encoder(
            RTCRtpCodecParameters(mimeType=codec.mime_type, clockRate=clock_rate, payloadType=96)
        )

    def packetize(self, packet: av.Packet[Stream]) -> RtpFrame:
        """The packet's RTP payloads and timestamp (for VP8 this advances the picture id)."""
        payloads, timestamp = self._encoder.pack(packet)
        return RtpFrame(tuple(payloads), timestamp, bool(packet.is_keyframe))


def _private(sender: RTCRtpSender, name: str) -> Any:
    return getattr(sender, _PREFIX + name)


def _set_private(sender: RTCRtpSender, name: str, value: object) -> None:
    setattr(sender, _PREFIX + name, value)


class SharedRtpSender(RTCRtpSender):
    """An aiortc sender whose track yields :class:`RtpFrame`: it rewrites headers, never packs.

    NACKs are answered from a history of the plaintext packets it sent (RTX when negotiated);
    PLI/FIR handling, RTCP reports, ``stop()`` and stats stay aiortc's.
    """

    _sent: dict[int, bytes]

    @classmethod
    def adopt(cls, sender: RTCRtpSender) -> SharedRtpSender:
        """Turn a sender made by ``addTrack`` into a shared-payload sender (before it starts)."""
        sender.__class__ = cls
        assert isinstance(sender, SharedRtpSender)
        sender._sent = {}
        return sender

    def _extensions(self, extensions: HeaderExtensionsMap, mid: str | None) -> bytes:
        """This viewer's header-extension block for the frame being sent (once per frame)."""
        send_time = (current_ntp_time() >> 14) & 0x00FFFFFF
        profile, value = extensions.set(HeaderExtensions(abs_send_time=send_time, mid=mid))
        if not value:
            return b""
        return _EXTENSION.pack(profile, len(value) >> 2) + value

    async def _run_rtp(self, codec: RTCRtpCodecParameters) -> None:
        """aiortc's RTP loop, but over shared payloads: header + payload, then SRTP."""
        _private(self, "rtp_started").set()
        extensions: HeaderExtensionsMap = _private(self, "rtp_header_extensions_map")
        mid: str | None = _private(self, "mid")
        sent = self._sent
        pack_header = _HEADER.pack
        ssrc = self._ssrc
        sequence_number = random_sequence_number()
        origin = random32()
        octets = packets = 0
        try:
            payload_type = codec.payloadType
            assert payload_type is not None  # a negotiated codec always has one
            while True:
                track = self.track
                if track is None:
                    await asyncio.sleep(0.02)
                    continue
                frame = await track.recv()
                if not self._enabled:
                    continue
                assert isinstance(frame, RtpFrame)
                timestamp = (origin + frame.timestamp) & 0xFFFFFFFF
                block = self._extensions(extensions, mid)
                first = 0x90 if block else 0x80
                last = len(frame.payloads) - 1
                transport = self.transport
                for i, payload in enumerate(frame.payloads):
                    marker = 0x80 if i == last else 0
                    data = (
                        pack_header(first, marker | payload_type, sequence_number, timestamp, ssrc)
                        + block
                        + payload
                    )
                    sent[sequence_number % RTP_HISTORY_SIZE] = data
                    await transport._send_rtp(data)
                    octets += len(payload)
                    packets += 1
                    sequence_number = (sequence_number + 1) & 0xFFFF
                _set_private(self, "ntp_timestamp", current_ntp_time())
                _set_private(self, "rtp_timestamp", timestamp)
                _set_private(self, "octet_count", octets)
                _set_private(self, "packet_count", packets)
        except (asyncio.CancelledError, ConnectionError, MediaStreamError):
            pass
        except Exception:  # stop() waits on rtp_exited: never leave without setting it
            log.exception("shared RTP sender failed")
        if self.track is not None:
            self.track.stop()
            _set_private(self, "track", None)
        _private(self, "rtp_exited").set()

    async def _retransmit(self, sequence_number: int) -> None:
        """Answer a NACK from the sent history, wrapped in RTX when the viewer negotiated it."""
        data = self._sent.get(sequence_number % RTP_HISTORY_SIZE)
        if data is None or int.from_bytes(data[2:4], "big") != sequence_number:
            return
        rtx_payload_type: int | None = _private(self, "rtx_payload_type")
        if rtx_payload_type is not None:
            extensions: HeaderExtensionsMap = _private(self, "rtp_header_extensions_map")
            rtx_sequence: int = _private(self, "rtx_sequence_number")
            packet = wrap_rtx(
                RtpPacket.parse(data, extensions),
                payload_type=rtx_payload_type,
                sequence_number=rtx_sequence,
                ssrc=self._rtx_ssrc,
            )
            _set_private(self, "rtx_sequence_number", (rtx_sequence + 1) & 0xFFFF)
            data = packet.serialize(extensions)
        await self.transport._send_rtp(data)
