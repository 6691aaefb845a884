"""Chat lines and reactions: what a line may contain, what a stored line looks like, and how
reaction taps are folded into bursts.

Text rules live here (not in the hub) so the REST API, the replay and tests share one definition:
NFC first (so "é" typed two ways counts the same), then trimming, then the length limit counted in
code points, then a refusal of control and bidi-override characters, which break layouts or make
one line read as another. Emoji sequences (ZWJ, variation selectors) stay allowed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from livecommerce.errors import InvalidInput, TextEmpty, TextInvalidCharacters, TextTooLong

#: Longest chat line, in code points after NFC and trimming.
MAX_TEXT_LENGTH = 500

#: Character categories refused anywhere in a line: controls, surrogates, private use.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co"})

#: Bidi controls: invisible, and able to reorder what the reader sees ("Trojan source").
_BIDI_CONTROLS = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})


def normalize_text(raw: str, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Return the line as it will be stored, or raise with a code the client can act on.

    Raises TextEmpty, TextTooLong or TextInvalidCharacters (all InvalidInput, 422).
    """
    text = unicodedata.normalize("NFC", raw).strip()
    if not text:
        raise TextEmpty("the message is empty")
    if len(text) > max_length:
        raise TextTooLong(f"the message is longer than {max_length} characters")
    for ch in text:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES or ord(ch) in _BIDI_CONTROLS:
            raise TextInvalidCharacters(
                f"the message contains a control character (U+{ord(ch):04X})"
            )
    return text


class MessageStatus(StrEnum):
    """Where a stored line stands; only ``visible`` lines are delivered and replayed."""

    VISIBLE = "visible"  # delivered to the room and part of history
    DELETED = "deleted"  # removed by staff (mod.delete); gone from history and the replay
    HIDDEN = "hidden"  # its author was banned; hidden with the rest of their lines
    HELD = "held"  # waiting in the review queue; only staff see it until approved
    REJECTED = "rejected"  # refused from the review queue; never shown


@dataclass(frozen=True, slots=True)
class ChatAuthor:
    """The author as shown next to a line; badges are computed by the server, never sent in."""

    id: str
    name: str
    badges: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "badges": list(self.badges)}


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One stored chat line; ``seq`` increases by one per visible-or-not line in its show.

    Held lines get a seq too (when approved they are delivered with it), so replay after
    ``last_seq`` may skip numbers but never reorders.
    """

    id: str
    show_id: str
    seq: int
    author: ChatAuthor
    text: str
    at_ms: int
    status: MessageStatus = MessageStatus.VISIBLE

    def to_wire(self) -> dict[str, Any]:
        """The ``chat.message`` payload (``at`` is epoch milliseconds)."""
        return {
            "id": self.id,
            "seq": self.seq,
            "show_id": self.show_id,
            "text": self.text,
            "user": self.author.to_wire(),
            "at": self.at_ms,
        }


# --- reactions --------------------------------------------------------------------------------

#: Reaction kinds a client may send; anything else is refused so the burst stays small.
REACTION_KINDS = frozenset({"heart", "fire", "clap", "laugh", "wow", "cart"})
#: Taps one ``reaction.send`` may carry (clients may pre-aggregate fast tapping).
MAX_REACTION_COUNT = 20


def check_reaction(kind: str, count: int) -> None:
    """Refuse unknown kinds and silly counts before they reach the aggregator."""
    if kind not in REACTION_KINDS:
        raise InvalidInput(f"unknown reaction {kind!r}; one of {sorted(REACTION_KINDS)}")
    if not 1 <= count <= MAX_REACTION_COUNT:
        raise InvalidInput(f"count must be between 1 and {MAX_REACTION_COUNT}")


@dataclass(slots=True)
class ReactionTally:
    """Taps per kind since the last burst; the hub drains it at most every 250 ms per show.

    Mutable on purpose (it is an accumulator), but pure: no clock, no I/O.
    """

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + count

    def merge(self, other: Mapping[str, int]) -> None:
        """Fold in another node's (or another tally's) counts; unknown kinds are dropped."""
        for kind, count in other.items():
            if kind in REACTION_KINDS and isinstance(count, int) and count > 0:
                self.add(kind, count)

    def drain(self) -> dict[str, int]:
        """Return the counts and start over (empty dict when nothing happened)."""
        out, self.counts = self.counts, {}
        return out

    def __bool__(self) -> bool:
        return bool(self.counts)


def sum_counts(tallies: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Add several count maps (used to check that aggregation loses no tap)."""
    total: dict[str, int] = {}
    for tally in tallies:
        for kind, count in tally.items():
            total[kind] = total.get(kind, 0) + count
    return total
