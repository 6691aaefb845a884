"""Unit tests for product image checks: declared type, magic bytes and size."""

from __future__ import annotations

import pytest

from livecommerce.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia
from livecommerce.services.catalog_admin import check_image


@pytest.mark.parametrize(
    ("content_type", "data", "ext"),
    [
        ("image/png", b"\x89PNG\r\n\x1a\nrest", "png"),
        ("image/jpeg", b"\xff\xd8\xff\xe0rest", "jpg"),
        ("image/gif", b"GIF89arest", "gif"),
        ("image/webp", b"RIFF\x00\x00\x00\x00WEBPrest", "webp"),
        ("IMAGE/PNG; charset=binary", b"\x89PNG\r\n\x1a\n", "png"),
    ],
)
def test_real_images_pass(content_type: str, data: bytes, ext: str) -> None:
    """Each served type passes when its bytes match and gets its extension."""
    assert ext == check_image(content_type, data, 1024)


@pytest.mark.parametrize(
    ("content_type", "data", "error"),
    [
        ("image/svg+xml", b"<svg/>", UnsupportedMedia),
        ("text/html", b"<html>", UnsupportedMedia),
        ("image/png", b"\xff\xd8\xff\xe0", InvalidInput),
        ("image/webp", b"RIFF\x00\x00\x00\x00WAVE", InvalidInput),
        ("image/png", b"\x89PNG\r\n\x1a\n" + b"0" * 2000, PayloadTooLarge),
    ],
)
def test_bad_images_are_refused(content_type: str, data: bytes, error: type[Exception]) -> None:
    """SVG/HTML, bytes that lie about their type and oversized files are refused."""
    with pytest.raises(error):
        check_image(content_type, data, 1024)
