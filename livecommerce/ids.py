"""Identifiers and secrets from the OS CSPRNG, so no id can be guessed from another."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_id(prefix: str) -> str:
    """A 128-bit random id with a readable type prefix (``shw_…``, ``usr_…``)."""
    return f"{prefix}_{secrets.token_hex(16)}"


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random secret for tokens and stream keys."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough for stream keys (passwords use argon2)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def keyed_digest(key: bytes, secret: str) -> str:
    """HMAC-SHA256 of a high-entropy secret under the server's secret key, for sign-in tokens:
    a leaked database still holds no usable token, and a new key matches no stored digest, so
    rotating the key ends every session at once."""
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()
