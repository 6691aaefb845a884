"""SDP offer checks and codec filtering, done on text before aiortc sees the offer.

aiortc ignores ``setCodecPreferences()`` on the answering side and raises deep inside
``setRemoteDescription`` for an offer without a codec it knows (a VP9-only offer), so the only
reliable way to choose codecs and to answer 400/406 instead of 500 is to check and rewrite the
offer first: enforce size, m-line and candidate caps, then keep only the payload types we accept
(plus their RTX), and refuse when a media section is left with none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "MAX_CANDIDATES",
    "MAX_MEDIA_SECTIONS",
    "MAX_SDP_BYTES",
    "CodecFilter",
    "MalformedSdp",
    "NoSupportedCodec",
    "accept_ingest_codec",
    "filter_offer",
]

MAX_SDP_BYTES = 64 * 1024
MAX_MEDIA_SECTIONS = 4
MAX_CANDIDATES = 32  # per media section
_H264_PROFILES = {"42e01f", "42001f"}  # constrained baseline / baseline, level 3.1

_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([\w.-]+)/(\d+)(?:/(\d+))?$")
_FMTP = re.compile(r"^a=fmtp:(\d+) (.*)$")
_PT_LINE = re.compile(r"^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ ]")


class MalformedSdp(ValueError):
    """The body is not an SDP offer we can parse within the caps (answer 400)."""


class NoSupportedCodec(ValueError):
    """A media section offers no codec we accept (answer 406)."""


@dataclass(frozen=True)
class OfferedCodec:
    """One payload type of a media section as offered."""

    payload_type: int
    name: str
    clock_rate: int
    parameters: dict[str, str]


CodecFilter = Callable[[str, OfferedCodec], bool]


def accept_ingest_codec(kind: str, codec: OfferedCodec) -> bool:
    """Codecs we ingest and pass through: H.264 constrained baseline pm1, VP8, Opus."""
    name = codec.name.lower()
    if kind == "audio":
        return name == "opus" and codec.clock_rate == 48_000
    if name == "vp8":
        return True
    if name == "h264":
        return (
            codec.parameters.get("packetization-mode") == "1"
            and codec.parameters.get("profile-level-id", "").lower() in _H264_PROFILES
        )
    return False


def _parse_fmtp(value: str) -> dict[str, str]:
    params = {}
    for item in value.split(";"):
        if "=" in item:
            k, v = item.split("=", 1)
            params[k.strip().lower()] = v.strip()
    return params


def filter_offer(
    sdp: str,
    accept: CodecFilter = accept_ingest_codec,
    prefer: tuple[str, ...] = (),
    single: bool = False,
) -> str:
    """Return the offer with only accepted codecs (and their RTX) left in every media section.

    Codecs named in ``prefer`` (lower case) rank first; with ``single`` only the best-ranked
    codec (and its RTX) is kept, so the answer leaves the publisher no choice: a browser that
    lists VP8 first still sends H.264 when it offered it, and the feed's codec is known.

    Raises :class:`MalformedSdp` for anything outside the caps or the SDP grammar we rely on,
    :class:`NoSupportedCodec` when an audio/video section has no acceptable codec.
    """
    if len(sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
        raise MalformedSdp("offer too large")  # routes check the body size first (413)
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise MalformedSdp("offer must start with v=0")
    sections: list[list[str]] = [[]]
    for line in lines:
        if len(line) < 2 or line[1] != "=":
            raise MalformedSdp("not an SDP line")
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    session, media = sections[0], sections[1:]
    if not media:
        raise MalformedSdp("offer has no media section")
    if len(media) > MAX_MEDIA_SECTIONS:
        raise MalformedSdp("too many media sections")
    out = list(session)
    for section in media:
        out.extend(_filter_section(section, accept, prefer, single))
    return "\r\n".join(out) + "\r\n"


def _filter_section(
    section: list[str], accept: CodecFilter, prefer: tuple[str, ...], single: bool
) -> list[str]:
    parts = section[0][2:].split()
    if len(parts) < 4:
        raise MalformedSdp("bad m-line")
    kind, proto = parts[0], parts[2]
    if sum(1 for line in section if line.startswith("a=candidate:")) > MAX_CANDIDATES:
        raise MalformedSdp("too many candidates")
    if kind not in ("audio", "video"):
        return section  # application (data channel) sections pass unchanged
    if "RTP" not in proto:
        raise MalformedSdp("not an RTP media section")
    try:
        offered_pts = [int(p) for p in parts[3:]]
    except ValueError as exc:
        raise MalformedSdp("bad payload type") from exc
    rtpmap: dict[int, tuple[str, int]] = {}
    fmtp: dict[int, dict[str, str]] = {}
    for line in section:
        if m := _RTPMAP.match(line):
            rtpmap[int(m.group(1))] = (m.group(2), int(m.group(3)))
        elif m := _FMTP.match(line):
            fmtp[int(m.group(1))] = _parse_fmtp(m.group(2))
    keep: set[int] = set()
    for pt in offered_pts:
        if pt in rtpmap:
            name, rate = rtpmap[pt]
            if name.lower() != "rtx" and accept(
                kind, OfferedCodec(pt, name, rate, fmtp.get(pt, {}))
            ):
                keep.add(pt)
    if not keep:
        raise NoSupportedCodec(f"no supported {kind} codec offered")
    for pt in offered_pts:  # retransmission of a kept codec stays
        if (
            rtpmap.get(pt, ("", 0))[0].lower() == "rtx"
            and fmtp.get(pt, {}).get("apt", "").isdigit()
        ) and int(fmtp[pt]["apt"]) in keep:
            keep.add(pt)
    kept_pts = [pt for pt in offered_pts if pt in keep]
    order = {pt: i for i, pt in enumerate(kept_pts)}

    def rank(pt: int) -> tuple[int, int, int]:
        name = rtpmap[pt][0].lower()
        if name == "rtx":
            base = int(fmtp[pt]["apt"])
            return (*rank(base)[:2], 1)
        pref = prefer.index(name) if name in prefer else len(prefer)
        return (pref, order[pt], 0)

    kept_pts.sort(key=rank)
    if single:
        best = kept_pts[0]
        kept_pts = [pt for pt in kept_pts if pt == best or fmtp.get(pt, {}).get("apt") == str(best)]
        keep = set(kept_pts)
    result = [" ".join(["m=" + parts[0], parts[1], parts[2], *map(str, kept_pts)])]
    for line in section[1:]:
        m = _PT_LINE.match(line)
        if m and int(m.group(1)) not in keep:
            continue
        result.append(line)
    return result
