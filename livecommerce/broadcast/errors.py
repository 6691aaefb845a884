"""Refusals of the media plane, each with the HTTP status WHIP/WHEP clients expect.

The WHIP/WHEP RFCs fix the status codes (401 wrong key, 406 no common codec, 409 one publisher,
413 too large, 503 + Retry-After when full), so a refusal carries its status and headers; the
routes render it in the project's ``{"error": {"code", "message"}}`` shape. Codes are stable.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["MediaRejected"]


class MediaRejected(Exception):
    """A WHIP/WHEP request refused before (or instead of) a peer connection."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def unauthenticated(message: str = "wrong or rotated stream key") -> MediaRejected:
    """401: the stream key does not open this show."""
    return MediaRejected(401, "unauthenticated", message, {"WWW-Authenticate": "Bearer"})


def not_found(message: str = "no such show") -> MediaRejected:
    """404: unknown show or session."""
    return MediaRejected(404, "not_found", message)
