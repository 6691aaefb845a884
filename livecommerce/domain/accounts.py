"""Rules for account input: display names and e-mail addresses, normalised once here."""

from __future__ import annotations

import re
import unicodedata

from livecommerce.errors import InvalidInput

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")
NAME_MAX = 40


def normalize_name(raw: str) -> str:
    """NFC, collapsed whitespace, no control or format characters, 1..40 characters."""
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        raise InvalidInput("name must not be empty")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"name must be at most {NAME_MAX} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise InvalidInput("name must not contain control or invisible characters")
    return name


def normalize_email(raw: str) -> str:
    """Lower-cased, trimmed, and shaped like an address (delivery is not checked)."""
    email = raw.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput("email is not a valid address")
    return email
