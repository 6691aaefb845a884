"""Files on the local disk under the data dir: uploaded product photos.

A photo is decoded with PyAV (PNG, JPEG, WebP, or a GIF's first frame) and encoded again from
its pixels at a few widths — WebP, or JPEG where the FFmpeg build has no libwebp. Only pixels
are written, so EXIF (GPS position, camera serial), colour profiles and comments never reach the
public folder; the JPEG orientation tag is applied to the pixels first, so a phone's portrait
photo stays upright once the tag is gone. A size is never larger than the original.

Writes go to a hidden temporary name and are renamed into place, so a reader never serves half
an image; the names come from the service, never from a client. Decoding runs in a worker
thread: a 12-megapixel photo takes a few hundred milliseconds.
"""

from __future__ import annotations

import asyncio
import io
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy
from av.video.frame import VideoFrame

from livecommerce.errors import InvalidInput
from livecommerce.services.ports import StoredImage

#: The demuxer for each accepted upload type (the service checked the type and the signature).
DEMUXERS = {"png": "png_pipe", "jpg": "jpeg_pipe", "webp": "webp_pipe", "gif": "gif"}
#: A small file can declare a huge canvas: refuse before decoding it.
MAX_PIXELS = 50_000_000
WEBP_QUALITY = "82"
JPEG_QSCALE = 3  # mjpeg's 2 (best) … 31; 3 is visually lossless for product photos
FF_QP2LAMBDA = 118  # FFmpeg's scale from a quantiser to its "lambda" quality unit


def webp_available() -> bool:
    """Whether this FFmpeg build can write WebP (Debian's and PyAV's wheels can)."""
    try:
        av.codec.Codec("libwebp", "w")
    except av.FFmpegError:
        return False
    return True


class FileProductImages:
    """The ``ProductImages`` port over a directory; ``encoding`` is "webp" or "jpeg"."""

    def __init__(self, directory: Path, encoding: str | None = None) -> None:
        self._dir = directory
        self.encoding = encoding or ("webp" if webp_available() else "jpeg")
        self._ext = "webp" if self.encoding == "webp" else "jpg"

    async def save_photo(
        self, stem: str, kind: str, data: bytes, widths: tuple[int, ...]
    ) -> tuple[StoredImage, ...]:
        return await asyncio.to_thread(self._save, stem, kind, data, widths)

    def path_of(self, name: str) -> Path | None:
        path = self._dir / name
        return path if path.is_file() else None

    def _save(
        self, stem: str, kind: str, data: bytes, widths: tuple[int, ...]
    ) -> tuple[StoredImage, ...]:
        frame = upright(decode(data, kind), orientation(data) if kind == "jpg" else 1)
        encoded: list[tuple[StoredImage, bytes]] = []
        for width in sorted({min(w, frame.width) for w in widths}):
            height = max(1, round(frame.height * width / frame.width))
            name = f"{stem}-{width}.{self._ext}"
            encoded.append((StoredImage(name, width, height), self._encode(frame, width, height)))
        self._dir.mkdir(parents=True, exist_ok=True)
        for image, payload in encoded:
            tmp = self._dir / f".{image.name}.part"
            tmp.write_bytes(payload)
            tmp.replace(self._dir / image.name)
        return tuple(image for image, _ in encoded)

    def _encode(self, frame: VideoFrame, width: int, height: int) -> bytes:
        alpha = frame.format.has_palette or any(c.is_alpha for c in frame.format.components)
        if self.encoding == "webp":
            codec, pix_fmt = "libwebp", "yuva420p" if alpha else "yuv420p"
            options = {"quality": WEBP_QUALITY}
        else:
            codec, pix_fmt, options = "mjpeg", "yuvj420p", {}
        ctx = av.CodecContext.create(codec, "w")
        assert isinstance(ctx, av.VideoCodecContext)
        ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
        ctx.time_base = Fraction(1, 1)
        ctx.options = options
        if codec == "mjpeg":  # a fixed quantiser, as ffmpeg's -q:v
            ctx.qscale = True
            ctx.global_quality = JPEG_QSCALE * FF_QP2LAMBDA
        out = frame.reformat(width=width, height=height, format=pix_fmt, interpolation="AREA")
        out.pts = 0
        packets = [*ctx.encode(out), *ctx.encode(None)]
        return b"".join(bytes(p) for p in packets)


def decode(data: bytes, kind: str) -> VideoFrame:
    """The first picture of an upload; InvalidInput for anything FFmpeg cannot read."""
    try:
        with av.open(io.BytesIO(data), mode="r", format=DEMUXERS[kind]) as container:
            stream = container.streams.video[0]
            declared = stream.codec_context.width * stream.codec_context.height
            if declared > MAX_PIXELS:
                raise InvalidInput(f"images are limited to {MAX_PIXELS // 1_000_000} megapixels")
            for frame in container.decode(stream):
                if frame.width * frame.height > MAX_PIXELS:
                    break
                return frame
    except (av.FFmpegError, IndexError, StopIteration) as exc:
        raise InvalidInput("the image could not be read") from exc
    raise InvalidInput("the image could not be read")


def upright(frame: VideoFrame, tag: int) -> VideoFrame:
    """Apply an EXIF orientation (1..8) to the pixels, so the picture needs no tag to stand up."""
    if tag not in range(2, 9):
        return frame
    pixels = frame.to_ndarray(format="rgb24")
    if tag in (5, 7):  # mirrored, then turned like 8 and 6
        pixels, tag = numpy.fliplr(pixels), {5: 8, 7: 6}[tag]
    if tag == 2:
        pixels = numpy.fliplr(pixels)
    elif tag == 4:
        pixels = numpy.flipud(pixels)
    else:
        pixels = numpy.rot90(pixels, {3: 2, 6: -1, 8: 1}[tag])
    return VideoFrame.from_ndarray(
        numpy.ascontiguousarray(pixels, dtype=numpy.uint8), format="rgb24"
    )


def orientation(jpeg: bytes) -> int:
    """The EXIF orientation tag of a JPEG (1 when absent or unreadable)."""
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata
            break
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        segment = jpeg[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
            return _tiff_orientation(segment[6:])
        pos += 2 + length
    return 1


def _tiff_orientation(tiff: bytes) -> int:
    if tiff[:2] not in (b"II", b"MM") or len(tiff) < 8:
        return 1
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
    for i in range(count):
        entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        if len(entry) < 12:
            break
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag == 0x0112 and kind == 3:  # Orientation, SHORT
            (value,) = struct.unpack(order + "H", entry[8:10])
            return int(value)
    return 1
