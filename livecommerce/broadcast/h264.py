"""Just enough H.264 bitstream reading to package pass-through video without a decoder.

A pass-through rendition remuxes the publisher's Annex-B access units into fMP4; the muxer
needs the parameter sets (SPS/PPS) as extradata and the picture size for the track header, and
a change of either (a browser lowering its resolution under load, OBS restarting with another
profile) must start a new init segment. Reading the size from the SPS itself, rather than from
a decoded frame, makes that decision at the keyframe that carries the new SPS, whatever delay
the decoder has. Pure functions; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SpsInfo", "nal_units", "parameter_sets", "parse_sps"]

_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def nal_units(annexb: bytes) -> list[bytes]:
    """The NAL units of an Annex-B access unit (start codes and trailing zeros removed)."""
    starts = []
    i = annexb.find(b"\x00\x00\x01")
    while i != -1:
        starts.append(i)
        i = annexb.find(b"\x00\x00\x01", i + 3)
    out = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(annexb)
        nal = annexb[start + 3 : end].rstrip(b"\x00")
        if nal:
            out.append(nal)
    return out


def parameter_sets(annexb: bytes) -> bytes:
    """The SPS and PPS NAL units (with 4-byte start codes) of an Annex-B access unit."""
    return b"".join(
        b"\x00\x00\x00\x01" + nal for nal in nal_units(annexb) if nal[0] & 0x1F in (7, 8)
    )


@dataclass(frozen=True)
class SpsInfo:
    """What the packager needs from a sequence parameter set."""

    width: int
    height: int
    codec: str  # RFC 6381 ``avc1.PPCCLL`` for the multivariant playlist's CODECS


class _Bits:
    """MSB-first bit reader over an RBSP (emulation prevention bytes already removed)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def bit(self) -> int:
        byte = self._pos >> 3
        if byte >= len(self._data):
            raise ValueError("SPS ends early")
        value = (self._data[byte] >> (7 - (self._pos & 7))) & 1
        self._pos += 1
        return value

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code in SPS")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value & 1 else -(value // 2)


def _rbsp(nal: bytes) -> bytes:
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = next_scale = 8
    for _ in range(size):
        if next_scale:
            next_scale = (last + bits.se() + 256) % 256
        last = next_scale or last


def parse_sps(parameter_set_bytes: bytes) -> SpsInfo | None:
    """Picture size and codec string from the first SPS in Annex-B bytes (H.264 §7.3.2.1.1);
    None when there is no SPS or it cannot be read."""
    sps = next((n for n in nal_units(parameter_set_bytes) if n[0] & 0x1F == 7), None)
    if sps is None or len(sps) < 4:
        return None
    codec = f"avc1.{sps[1]:02x}{sps[2]:02x}{sps[3]:02x}"
    bits = _Bits(_rbsp(sps[1:]))
    try:
        profile = bits.bits(8)
        bits.bits(16)  # constraint flags, level
        bits.ue()  # seq_parameter_set_id
        chroma = 1
        separate_planes = 0
        if profile in _HIGH_PROFILES:
            chroma = bits.ue()
            if chroma == 3:
                separate_planes = bits.bit()
            bits.ue()  # bit_depth_luma_minus8
            bits.ue()  # bit_depth_chroma_minus8
            bits.bit()  # qpprime_y_zero_transform_bypass_flag
            if bits.bit():  # seq_scaling_matrix_present_flag
                for i in range(8 if chroma != 3 else 12):
                    if bits.bit():
                        _skip_scaling_list(bits, 16 if i < 6 else 64)
        bits.ue()  # log2_max_frame_num_minus4
        poc_type = bits.ue()
        if poc_type == 0:
            bits.ue()
        elif poc_type == 1:
            bits.bit()
            bits.se()
            bits.se()
            for _ in range(bits.ue()):
                bits.se()
        bits.ue()  # max_num_ref_frames
        bits.bit()  # gaps_in_frame_num_value_allowed_flag
        width_mbs = bits.ue() + 1
        height_units = bits.ue() + 1
        frame_mbs_only = bits.bit()
        if not frame_mbs_only:
            bits.bit()  # mb_adaptive_frame_field_flag
        bits.bit()  # direct_8x8_inference_flag
        crop = (0, 0, 0, 0)
        if bits.bit():
            crop = (bits.ue(), bits.ue(), bits.ue(), bits.ue())
    except ValueError:
        return None
    field_factor = 2 - frame_mbs_only
    chroma_type = 0 if separate_planes else chroma
    crop_x = 2 if chroma_type in (1, 2) else 1
    crop_y = field_factor * (2 if chroma_type == 1 else 1)
    width = width_mbs * 16 - crop_x * (crop[0] + crop[1])
    height = field_factor * height_units * 16 - crop_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        return None
    return SpsInfo(width, height, codec)
