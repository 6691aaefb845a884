"""The password rule every way of setting a password goes through (sign-up by API or form, a
guest's upgrade, administrative creation): at least 10 characters, not a common password or
word in thin disguise, and nothing of the account's own name or e-mail.

"Common" comes from zxcvbn's ranked lists (the 30,000 most used passwords, English words, names,
film and TV words), not from an overall strength score: a score turns one long common phrase and
one short random string into the same number, while the attacks we face are list-driven. A
password is refused when one listed entry, as zxcvbn's matchers see it (any case, l33t
substitutions, reversed), or one keyboard walk, alphabet or digit run, or one repeated unit
(separators aside), makes up all of it but a short run (at most four characters) of digits and
punctuation before or after, the way ``Password123!`` or ``dr4g0n2024`` are built. Several
different words together pass: length does the work there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from zxcvbn import matching

from livecommerce.errors import WeakPassword

PASSWORD_MIN = 10
PASSWORD_MAX = 256
#: Digits and punctuation around a common core that still count as "the same password".
DECORATION_MAX = 4
#: Name and e-mail parts shorter than this are too common inside unrelated words to refuse.
PERSONAL_PART_MIN = 3
#: No ranked list holds an entry longer than this; a longer password cannot be one entry, so
#: the quadratic dictionary matchers never run on long input.
_LONGEST_ENTRY = max(len(word) for words in matching.RANKED_DICTIONARIES.values() for word in words)
_PARTS = re.compile(r"[^\W_]+")
_REPEATED = re.compile(r"^(.+?)\1+$", re.DOTALL)
#: Dropped before looking for a repeated unit, so ``knit-knit-knit`` is ``knit`` three times.
_SEPARATORS = re.compile(r"[\W_]+")


def check_password(password: str, *, name: str = "", email: str = "") -> None:
    """Raise WeakPassword with the reason when ``password`` breaks the rule for this account."""
    if len(password) < PASSWORD_MIN:
        raise WeakPassword(f"password must be at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise WeakPassword(f"password must be at most {PASSWORD_MAX} characters")
    if _contains_personal(password, name, email):
        raise WeakPassword("password must not contain your name or e-mail address")
    reason = _common_reason(password)
    if reason is not None:
        raise WeakPassword(reason)


def personal_parts(name: str, email: str) -> set[str]:
    """The pieces of a name and of an e-mail's local part a password must not contain."""
    local = email.partition("@")[0].casefold() if "@" in email else email.casefold()
    pieces = {local, *_PARTS.findall(local), *_PARTS.findall(name.casefold())}
    return {piece for piece in pieces if len(piece) >= PERSONAL_PART_MIN}


def _contains_personal(password: str, name: str, email: str) -> bool:
    folded = password.casefold()
    return any(part in folded for part in personal_parts(name, email))


def _decoration(text: str) -> bool:
    return len(text) <= DECORATION_MAX and not any(ch.isalpha() for ch in text)


def _covers(text: str, matches: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The first match that is all of ``text`` but a short non-letter prefix or suffix."""
    for match in matches:
        i, j = int(match["i"]), int(match["j"])
        if _decoration(text[:i] + text[j + 1 :]):
            return match
    return None


def _repeated(text: str) -> bool:
    """Whether ``text`` is one unit said again and again, short decoration aside."""
    for start in range(DECORATION_MAX + 1):
        for end in range(len(text), len(text) - DECORATION_MAX - 1, -1):
            core = text[start:end]
            if len(core) >= 2 and _decoration(text[:start] + text[end:]) and _REPEATED.match(core):
                return True
    return False


def _common_reason(password: str) -> str | None:
    lowered = password.lower()
    if len(lowered) <= _LONGEST_ENTRY + 2 * DECORATION_MAX:
        words = [
            *matching.dictionary_match(lowered),
            *matching.reverse_dictionary_match(lowered),
            *matching.l33t_match(lowered),
        ]
        found = _covers(lowered, words)
        if found is not None and found["dictionary_name"] == "passwords":
            return (
                "this is one of the most common passwords (capitals, l33t spelling, reversing "
                "or a few digits do not change that); choose several unrelated words"
            )
        if found is not None:
            return (
                "this is a single common word or name (capitals, l33t spelling, reversing or a "
                "few digits do not change that); choose several unrelated words"
            )
    patterns = [*matching.spatial_match(lowered), *matching.sequence_match(lowered)]
    if (
        _covers(lowered, patterns) is not None
        or _repeated(lowered)
        or _repeated(_SEPARATORS.sub("", lowered))
    ):
        return "this is a keyboard pattern, a sequence or a repetition; choose several words"
    return None
