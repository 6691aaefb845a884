"""Who counts as watching (docs/METRICS.md): one person per account, guest, browser or, when a
player sends nothing that names its browser, per media session; a person is watching while
they were seen (a joined socket, a connected WebRTC session, an HLS fetch) within the window.

A person is named by a key whose prefix says how it was identified; stores only ever see the
keyed hash of it (``services/presence.py``), so no raw browser id or account id is kept.
"""

from __future__ import annotations

import re

#: A browser id (the first-party ``lc_vid`` cookie, or the same value in a query parameter):
#: URL-safe and long enough to be random, short enough to bound what a client can make us keep.
VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def valid_visitor_id(value: object) -> bool:
    return isinstance(value, str) and VISITOR_ID.fullmatch(value) is not None


def known_person(user_id: str | None, visitor_id: str | None) -> str | None:
    """The account (or guest) when the request is signed in, else the browser, else None."""
    if user_id:
        return f"u:{user_id}"
    if visitor_id is not None and valid_visitor_id(visitor_id):
        return f"v:{visitor_id}"
    return None


def person_key(user_id: str | None, visitor_id: str | None, session_key: str) -> str:
    """The one identity a viewer is counted under: :func:`known_person`, else the one
    connection or media session (``session_key``)."""
    return known_person(user_id, visitor_id) or f"s:{session_key}"


def should_push(
    last_pushed_at: float | None,
    last_count: int | None,
    count: int,
    now: float,
    min_interval: float,
) -> bool:
    """Push ``viewers.count`` when it changed, and never more often than ``min_interval``."""
    if last_count == count:
        return False
    return last_pushed_at is None or now - last_pushed_at >= min_interval
