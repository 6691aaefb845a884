"""Display names that impersonate staff, and the "skeleton" that makes lookalikes compare equal.

Badges are computed by the server, but a viewer called "Seller" spelt with a Cherokee S, or
"ADM1N", still reads like staff in a fast chat. A name is reduced to a skeleton: NFKC (fullwidth
and styled letters to plain ones), casefold, combining marks dropped, then a small table of
Cyrillic / Greek / digit lookalikes mapped to Latin (a hand-picked subset of Unicode's
confusables.txt, enough for the letters of the reserved words and common swaps), and compared
word by word with the skeletons of the reserved words. The same skeleton drives the banned-word
filter in ``moderation.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from livecommerce.errors import ReservedName

#: Names only staff or the platform may carry; the shop's own name is added per deployment.
RESERVED_WORDS = (
    "seller",
    "host",
    "admin",
    "administrator",
    "moderator",
    "mod",
    "system",
    "staff",
    "support",
    "official",
    "livecommerce",
)

# Lookalike → Latin letter. Keys are single code points after NFKC + casefold.
_CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i",
    "ј": "j", "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "г": "r",
    "ѕ": "s", "т": "t", "ц": "u", "ѵ": "v", "ԝ": "w", "х": "x", "у": "y", "з": "e", "ь": "b",
    "п": "n", "л": "n", "ɡ": "g",
    # Greek
    "α": "a", "β": "b", "ϲ": "c", "δ": "d", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u",
    "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "ς": "c",
    "σ": "o", "ϳ": "j",
    # Cherokee (casefold keeps the capital forms) and Latin extensions NFKC leaves alone
    "\u13aa": "a", "\u13da": "s", "\u13bb": "h", "\u13b7": "m", "\u13ac": "e", "\u13b3": "w",
    "\u13a1": "r", "\u13a2": "t", "\u13c6": "g", "ı": "i", "ȷ": "j", "ɑ": "a", "ǀ": "l",
    # digits and symbols used as letters ("1" is tried as both "l" and "i", see _variants)
    "0": "o", "|": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s",
}  # fmt: skip

# Capitals whose lower-case forms no longer look Latin (Greek Η is "H", η is "n").
_CAPITALS: dict[str, str] = {
    "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n",
    "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c",
    "Т": "t", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j",
}  # fmt: skip

_SEPARATORS = re.compile(r"[^a-z]+")


def skeleton(text: str, *, one: str = "l", digits: bool = True) -> str:
    """Reduce text to comparable Latin letters: lookalikes map to the letter they imitate.

    Non-letters that are not lookalikes become single spaces, so word boundaries survive.
    ``one`` is what "1" imitates; with ``digits=False`` digits are separators instead
    ("host1" is "host" followed by a number, "h0st" is "host").
    """
    nfkc = unicodedata.normalize("NFKC", text)
    folded = "".join(_CAPITALS.get(ch, ch) for ch in nfkc).casefold()
    stripped = "".join(
        ch for ch in unicodedata.normalize("NFD", folded) if unicodedata.category(ch) != "Mn"
    )
    table = {**_CONFUSABLES, "1": one} if digits else _CONFUSABLES
    mapped = "".join(
        " " if (not digits and ch.isdigit()) else table.get(ch, ch)
        for ch in unicodedata.normalize("NFC", stripped)
    )
    return _SEPARATORS.sub(" ", mapped).strip()


def _variants(text: str) -> set[str]:
    """The skeletons a reader might see: "1" as l or i, or digits as mere numbers."""
    return {skeleton(text), skeleton(text, one="i"), skeleton(text, digits=False)}


def words(text: str) -> list[str]:
    """Skeleton words of ``text`` (the unit the name and banned-word checks compare)."""
    return skeleton(text).split()


def reserved_match(name: str, extra: Iterable[str] = ()) -> str | None:
    """The reserved word ``name`` imitates, or None.

    A name is refused when one of its skeleton words, or all of them run together ("a d m i n",
    "Seller_Official"), equals a reserved skeleton.
    """
    reserved = {skeleton(w).replace(" ", ""): w for w in (*RESERVED_WORDS, *extra) if skeleton(w)}
    for variant in _variants(name):
        parts = variant.split()
        for candidate in (*parts, "".join(parts)):
            if candidate in reserved:
                return reserved[candidate]
    return None


def check_display_name(name: str, extra_reserved: Iterable[str] = ()) -> None:
    """Raise ReservedName when a non-staff display name reads like a staff one."""
    found = reserved_match(name, extra_reserved)
    if found is not None:
        raise ReservedName(f"the name {name!r} looks like the reserved name {found!r}")
