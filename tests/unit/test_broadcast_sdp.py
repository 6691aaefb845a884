"""SDP offer checks and codec filtering before aiortc sees an offer."""

from __future__ import annotations

import pytest

from livecommerce.broadcast import sdp

OFFER = """v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
m=audio 9 UDP/TLS/RTP/SAVPF 111 0
c=IN IP4 0.0.0.0
a=mid:0
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:0 PCMU/8000
a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host
m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 102 103
c=IN IP4 0.0.0.0
a=mid:1
a=rtpmap:96 VP9/90000
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtpmap:98 H264/90000
a=rtcp-fb:98 nack pli
a=fmtp:98 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
a=rtpmap:99 rtx/90000
a=fmtp:99 apt=98
a=rtpmap:102 H264/90000
a=fmtp:102 packetization-mode=1;profile-level-id=640c1f
a=rtpmap:103 VP8/90000
"""


def test_filter_keeps_only_supported_codecs_and_their_rtx() -> None:
    """Opus, H.264 42e01f pm1 (with its RTX) and VP8 stay; VP9, PCMU and High profile go."""
    out = sdp.filter_offer(OFFER)
    assert "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" in out
    assert "m=video 9 UDP/TLS/RTP/SAVPF 98 99 103\r\n" in out
    assert "VP9" not in out
    assert "a=fmtp:97" not in out
    assert "640c1f" not in out
    assert "a=rtcp-fb:98 nack pli" in out
    assert "a=candidate:1 1 udp" in out


def test_vp9_only_offer_has_no_supported_codec() -> None:
    """A VP9-only video section is refused as NoSupportedCodec (406), not a parse error."""
    vp9_only = OFFER.replace("96 97 98 99 102 103", "96")
    with pytest.raises(sdp.NoSupportedCodec):
        sdp.filter_offer(vp9_only)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "hello",
        "v=1\r\nm=video 9 RTP/AVP 96\r\n",
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n",  # no media
        OFFER.replace("m=video 9 UDP/TLS/RTP/SAVPF 96", "m=video 9"),
        OFFER + "".join(f"m=audio 9 UDP/TLS/RTP/SAVPF 111\na=mid:{i}\n" for i in range(5)),
        OFFER + "a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\n" * 40,
        OFFER.replace("96 97 98", "96 x 98"),
    ],
)
def test_malformed_or_over_cap_offers(bad: str) -> None:
    """Garbage, missing media, too many m-lines or candidates are MalformedSdp (400)."""
    with pytest.raises(sdp.MalformedSdp):
        sdp.filter_offer(bad)


def test_oversized_offer_is_refused() -> None:
    """An offer over 64 KiB is refused even if the route's size check was bypassed."""
    with pytest.raises(sdp.MalformedSdp):
        sdp.filter_offer(OFFER + "a=x:" + "y" * sdp.MAX_SDP_BYTES + "\n")


def test_h264_without_packetization_mode_1_is_not_accepted() -> None:
    """H.264 in packetization mode 0 (single NAL) cannot carry our frames and is dropped."""
    offer = OFFER.replace("packetization-mode=1;profile-level-id=42e01f", "profile-level-id=42e01f")
    out = sdp.filter_offer(offer)
    assert "m=video 9 UDP/TLS/RTP/SAVPF 103\r\n" in out


def test_preferred_codec_moves_first_with_its_rtx_after_it() -> None:
    """With H.264 preferred, a VP8-first offer lists H.264 then its RTX, then VP8."""
    offer = OFFER.replace("96 97 98 99 102 103", "103 96 97 98 99 102")
    out = sdp.filter_offer(offer, prefer=("h264",))
    assert "m=video 9 UDP/TLS/RTP/SAVPF 98 99 103\r\n" in out
    plain = sdp.filter_offer(offer)
    assert "m=video 9 UDP/TLS/RTP/SAVPF 103 98 99\r\n" in plain
    single = sdp.filter_offer(offer, prefer=("h264",), single=True)
    assert "m=video 9 UDP/TLS/RTP/SAVPF 98 99\r\n" in single
    assert "VP8" not in single
