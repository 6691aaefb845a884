"""Giveaways with a commit-reveal draw ("lc-draw-v1"): the rules anyone can recompute.

At creation the server draws a secret 32-byte seed and publishes `commitment = SHA-256(seed)`;
at the close the entry list is frozen and `entries_hash` published; at the draw the seed is
revealed and the winners follow from it alone: entries sorted by id, winner *i* (from 0) is the
entry at index `int.from_bytes(HMAC-SHA256(seed, f"{giveaway_id}:{i}"), "big") mod remaining`,
removed before the next pick. Since the seed was fixed (committed) before anyone entered and the
entries were fixed (hashed) before the seed was shown, neither the seller nor an entrant can
steer the outcome, and `verify_draw` (or the script in docs/GIVEAWAYS.md) checks a published
record end to end. Pure: the seed and every id come in as arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from livecommerce.domain.chain import canonical_json, sha256_hex
from livecommerce.errors import InvalidInput

ALGORITHM = "lc-draw-v1"
SEED_BYTES = 32
MAX_WINNERS = 100
MIN_DURATION_SECONDS = 5
MAX_DURATION_SECONDS = 24 * 3600
#: A keyword is one word of chat: letters, digits and a few marks, no spaces.
KEYWORD = re.compile(r"^[\w#@!?+-]{1,32}$")


class GiveawayStatus(StrEnum):
    """Where a giveaway stands; values are the wire names."""

    OPEN = "open"  # taking entries until closes_at
    CLOSED = "closed"  # entries frozen and hashed; waiting for staff to draw
    DRAWN = "drawn"  # seed revealed, winners picked


class EntryMode(StrEnum):
    """How a viewer enters."""

    BUTTON = "button"  # the Enter button (hub `giveaway.enter`)
    CHAT_KEYWORD = "chat_keyword"  # a chat line with the keyword, or the button


def check_settings(
    *, winners: int, entry: EntryMode, keyword: str | None, duration_ms: int
) -> str | None:
    """Refuse bad settings; the keyword as stored (None for a button giveaway)."""
    if not 1 <= winners <= MAX_WINNERS:
        raise InvalidInput(f"winners must be between 1 and {MAX_WINNERS}")
    if not MIN_DURATION_SECONDS * 1000 <= duration_ms <= MAX_DURATION_SECONDS * 1000:
        raise InvalidInput(
            f"a giveaway runs between {MIN_DURATION_SECONDS} s and {MAX_DURATION_SECONDS} s"
        )
    if entry is EntryMode.BUTTON:
        if keyword is not None:
            raise InvalidInput("a keyword is only for entry: chat_keyword")
        return None
    if keyword is None or not KEYWORD.match(keyword):
        raise InvalidInput("chat_keyword needs a keyword: one word of 1 to 32 characters")
    return keyword


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """The keyword as a whole word, any case (`win` matches "I WIN!" but not "winner")."""
    return re.compile(rf"(?<!\w){re.escape(keyword)}(?!\w)", re.IGNORECASE)


def commitment_of(seed: bytes) -> str:
    """What is published before the draw: SHA-256 of the seed, lowercase hex."""
    return hashlib.sha256(seed).hexdigest()


def entrant_of(salt: str, user_id: str) -> str:
    """An entrant's pseudonym in one giveaway: hex HMAC-SHA256 under the giveaway's secret salt
    (unlinkable to the account; each entrant finds their own row by the entry id their ack
    gave them)."""
    return hmac.new(salt.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """One person's entry: its id orders the draw, `entrant` is what the record publishes."""

    id: str
    entrant: str

    def to_wire(self) -> dict[str, str]:
        return {"id": self.id, "entrant": self.entrant}


def canonical_entries(entries: Sequence[Entry]) -> list[dict[str, str]]:
    """The frozen entry list as published: `{id, entrant}` sorted by id."""
    return [e.to_wire() for e in sorted(entries, key=lambda e: e.id)]


def entries_hash(entries: Sequence[Entry]) -> str:
    """SHA-256 (hex) of the canonical JSON (as in docs/AUCTIONS.md) of `canonical_entries`."""
    return sha256_hex(canonical_json(canonical_entries(entries)))


def draw(seed: bytes, giveaway_id: str, entry_ids: Sequence[str], winners: int) -> list[str]:
    """The winning entry ids in pick order: at most `winners`, each entry at most once."""
    pool = sorted(entry_ids)
    picked: list[str] = []
    for i in range(min(winners, len(pool))):
        digest = hmac.new(seed, f"{giveaway_id}:{i}".encode(), hashlib.sha256).digest()
        picked.append(pool.pop(int.from_bytes(digest, "big") % len(pool)))
    return picked


@dataclass(frozen=True, slots=True)
class DrawVerdict:
    ok: bool
    reason: str = ""


def verify_draw(record: Mapping[str, Any]) -> DrawVerdict:
    """Recompute a published record (`GET /api/v1/giveaways/{id}`): the seed matches the
    commitment, the entries their hash, and the winners (in order) the draw."""
    try:
        if record.get("algorithm") != ALGORITHM:
            return DrawVerdict(False, f"unknown algorithm {record.get('algorithm')!r}")
        seed_hex = record.get("seed")
        if not isinstance(seed_hex, str):
            return DrawVerdict(False, "no seed: the giveaway is not drawn yet")
        seed = bytes.fromhex(seed_hex)
        if commitment_of(seed) != record["commitment"]:
            return DrawVerdict(False, "the seed does not match the commitment")
        listed = [Entry(str(e["id"]), str(e["entrant"])) for e in record["entries"]]
        if entries_hash(listed) != record["entries_hash"]:
            return DrawVerdict(False, "the entries do not match entries_hash")
        expected = draw(seed, str(record["id"]), [e.id for e in listed], record["winners_count"])
        if [w["entry_id"] for w in record["winners"]] != expected:
            return DrawVerdict(False, "the winners are not the ones the seed draws")
    except (KeyError, TypeError, ValueError) as exc:
        return DrawVerdict(False, f"malformed record ({exc.__class__.__name__}: {exc})")
    return DrawVerdict(True)
