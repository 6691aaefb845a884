"""Pictures for upload tests, made with PyAV (never downloaded): PNG, WebP, and JPEG with an EXIF
block that carries an orientation tag and a fake GPS note, so a test can prove both are gone."""

from __future__ import annotations

import io
import struct
from fractions import Fraction

import av
import numpy
from av.video.frame import VideoFrame

#: Text planted in the EXIF block; it must never reach a stored file.
EXIF_SECRET = b"GPS 38.7223N 9.1393W serial CAM-0042"


def pattern(width: int, height: int) -> VideoFrame:
    """Left half red, right half blue: a turned picture is easy to tell from an upright one."""
    pixels = numpy.zeros((height, width, 3), dtype=numpy.uint8)
    pixels[:, : width // 2] = (255, 0, 0)
    pixels[:, width // 2 :] = (0, 0, 255)
    return VideoFrame.from_ndarray(pixels, format="rgb24")


def encode(frame: VideoFrame, codec: str, pix_fmt: str) -> bytes:
    ctx = av.CodecContext.create(codec, "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt = frame.width, frame.height, pix_fmt
    ctx.time_base = Fraction(1, 1)
    out = frame.reformat(format=pix_fmt)
    out.pts = 0
    return b"".join(bytes(p) for p in [*ctx.encode(out), *ctx.encode(None)])


def png(width: int, height: int) -> bytes:
    return encode(pattern(width, height), "png", "rgb24")


def noisy_png(width: int, height: int) -> bytes:
    """A PNG that does not compress (random pixels) with a green band along the bottom: a
    picture cut short loses the band, so a test can tell a body that was read whole."""
    pixels = numpy.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=numpy.uint8)
    pixels[-40:] = (0, 255, 0)
    return encode(VideoFrame.from_ndarray(pixels, format="rgb24"), "png", "rgb24")


def webp(width: int, height: int) -> bytes:
    return encode(pattern(width, height), "libwebp", "yuv420p")


def jpeg_with_exif(width: int, height: int, orientation: int = 1) -> bytes:
    """A JPEG whose APP1 EXIF block has an orientation tag and ``EXIF_SECRET`` in a note."""
    plain = encode(pattern(width, height), "mjpeg", "yuvj420p")
    note_offset = 8 + 2 + 2 * 12 + 4
    ifd = struct.pack(">H", 2)
    ifd += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)  # Orientation, SHORT
    ifd += struct.pack(">HHII", 0x010E, 2, len(EXIF_SECRET), note_offset)  # ImageDescription
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd + b"\x00\x00\x00\x00" + EXIF_SECRET
    app1 = b"Exif\x00\x00" + tiff
    return plain[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + plain[2:]


def decode(data: bytes) -> VideoFrame:
    """The first picture of a stored file, whatever its format."""
    with av.open(io.BytesIO(data), mode="r") as container:
        return next(container.decode(video=0))
