"""Moderation policy: who may chat in a show right now, what a line may say, and the audit trail.

Everything here is a pure decision over values the service loads (the show's ``ChatPolicy``, the
user's ``Standing``, the time): the hub and the REST routes enforce the same rules, and tests
cover them without a server. Staff (the show's seller, hosts, admins) bypass the checks — they
are the ones applying them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from livecommerce.domain.chain import Verdict as ChainVerdict
from livecommerce.domain.chain import chain_hash, genesis, verify_chain
from livecommerce.domain.names import skeleton
from livecommerce.errors import (
    Banned,
    ChatRestricted,
    InvalidInput,
    Muted,
    SlowMode,
)

#: Longest timeout a host may give (a ban is the tool for longer).
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
#: Longest slow-mode cooldown.
MAX_SLOW_MODE_SECONDS = 3600
#: Longest banned-word list per show, and longest word.
MAX_BANNED_WORDS = 500
MAX_BANNED_WORD_LENGTH = 64


@dataclass(frozen=True, slots=True)
class ChatPolicy:
    """A show's chat rules, changed at run time by its staff and kept in the store."""

    slow_mode_seconds: int = 0
    banned_words: tuple[str, ...] = ()
    block_links: bool = False
    #: Every line from a viewer waits in the review queue until a host approves it (lines
    #: that trip a filter wait there too, instead of being refused).
    hold_for_review: bool = False
    #: Only followers of the seller may chat (the follow data arrives with a later issue).
    followers_only: bool = False
    #: Only people who bought from the seller may chat (order data from the shop).
    buyers_only: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "slow_mode_seconds": self.slow_mode_seconds,
            "banned_words": list(self.banned_words),
            "block_links": self.block_links,
            "hold_for_review": self.hold_for_review,
            "followers_only": self.followers_only,
            "buyers_only": self.buyers_only,
        }


def make_policy(
    *,
    slow_mode_seconds: int = 0,
    banned_words: tuple[str, ...] | list[str] = (),
    block_links: bool = False,
    hold_for_review: bool = False,
    followers_only: bool = False,
    buyers_only: bool = False,
) -> ChatPolicy:
    """Validate and normalise a policy change (banned words deduplicated, skeleton-checked)."""
    check_slow_mode_seconds(slow_mode_seconds)
    if len(banned_words) > MAX_BANNED_WORDS:
        raise InvalidInput(f"at most {MAX_BANNED_WORDS} banned words")
    cleaned: list[str] = []
    for word in banned_words:
        norm = unicodedata.normalize("NFC", word).strip()
        if not norm or len(norm) > MAX_BANNED_WORD_LENGTH or not skeleton(norm):
            raise InvalidInput(f"banned word {word!r} is empty, too long or has no letters")
        if norm.casefold() not in (c.casefold() for c in cleaned):
            cleaned.append(norm)
    return ChatPolicy(
        slow_mode_seconds=slow_mode_seconds,
        banned_words=tuple(cleaned),
        block_links=block_links,
        hold_for_review=hold_for_review,
        followers_only=followers_only,
        buyers_only=buyers_only,
    )


def check_slow_mode_seconds(seconds: int) -> None:
    if not 0 <= seconds <= MAX_SLOW_MODE_SECONDS:
        raise InvalidInput(f"slow mode must be between 0 and {MAX_SLOW_MODE_SECONDS} seconds")


def check_timeout_seconds(seconds: int) -> None:
    if not 1 <= seconds <= MAX_TIMEOUT_SECONDS:
        raise InvalidInput(f"a timeout must be between 1 and {MAX_TIMEOUT_SECONDS} seconds")


# --- standing: bans, timeouts, slow mode, audience -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Standing:
    """What the store knows about one user in one show."""

    banned: bool = False
    muted_until_ms: int = 0
    #: When this user's last line was accepted (for slow mode); 0 = never.
    last_message_ms: int = 0
    #: The ban or timeout in force: its audit entry (what an appeal names) and the reason
    #: staff gave ("" when none, or when nothing is in force).
    action_id: str | None = None
    reason: str = ""


def check_standing(standing: Standing, now_ms: int) -> None:
    """Raise Banned or Muted for a user who may not chat now. The refusal says why and until
    when (`details.reason`, `details.until`: epoch ms, null for a ban) and which action an
    appeal would name (`details.action_id`), so the viewer is never left guessing."""
    why = {"reason": standing.reason, "action_id": standing.action_id}
    if standing.banned:
        raise Banned("you are banned from this show's chat", details={**why, "until": None})
    if standing.muted_until_ms > now_ms:
        left = -(-(standing.muted_until_ms - now_ms) // 1000)
        raise Muted(
            f"you are timed out for {left} more seconds",
            details={"retry_after": left, **why, "until": standing.muted_until_ms},
        )


def slow_mode_wait_ms(policy: ChatPolicy, last_message_ms: int, now_ms: int) -> int:
    """Milliseconds this user must still wait under slow mode (0 = may send now)."""
    if policy.slow_mode_seconds <= 0 or last_message_ms <= 0:
        return 0
    return max(0, last_message_ms + policy.slow_mode_seconds * 1000 - now_ms)


def check_slow_mode(policy: ChatPolicy, last_message_ms: int, now_ms: int) -> None:
    wait = slow_mode_wait_ms(policy, last_message_ms, now_ms)
    if wait > 0:
        seconds = -(-wait // 1000)
        raise SlowMode(f"slow mode: wait {seconds} more seconds", details={"retry_after": seconds})


def check_audience(policy: ChatPolicy, *, is_follower: bool, is_buyer: bool) -> None:
    """Followers-only / buyers-only chat; both flags set means either qualifies."""
    if not (policy.followers_only or policy.buyers_only):
        return
    if (policy.followers_only and is_follower) or (policy.buyers_only and is_buyer):
        return
    who = " or ".join(
        w for w, on in (("followers", policy.followers_only), ("buyers", policy.buyers_only)) if on
    )
    raise ChatRestricted(f"chat in this show is for {who} only")


# --- content filters -------------------------------------------------------------------------


class Verdict(StrEnum):
    """What the filters decided for one line."""

    PUBLISH = "publish"  # deliver it
    HOLD = "hold"  # keep it for staff review; the author is told it is held
    REJECT = "reject"  # refuse it with message_rejected


@dataclass(frozen=True, slots=True)
class Screening:
    verdict: Verdict
    #: Why it was held or refused ("banned_word", "link", "review"), None when published.
    reason: str | None = None


#: What a viewer reads when a line is refused or held, by reason: plain words, no codes.
REFUSALS = {
    "banned_word": "Your message contains a word this show does not allow.",
    "link": "Links are not allowed in this show's chat.",
    "review": "Your message was sent to the hosts for review; it appears once they approve it.",
}


def refusal_text(reason: str | None) -> str:
    """The sentence a viewer sees for a refused or held line."""
    return REFUSALS.get(reason or "", "Your message was not accepted in this show's chat.")


_TLDS = (
    "com|net|org|io|co|shop|store|ly|me|app|xyz|info|biz|ru|de|uk|gg|tv|link|site|online|top|"
    "click|live|us|to|cc|be|fr|it|nl|es|cn|in|br|au"
)
_LINK = re.compile(
    rf"(?:[a-z][a-z0-9+.-]*://\S+)|(?:\bwww\.\S+)|(?:\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:{_TLDS})\b)"
)


def contains_link(text: str) -> bool:
    """URLs, ``www.`` and bare domains with a common TLD; fullwidth dots and letters too."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.replace("。", ".").replace(" dot ", ".").replace("(dot)", ".")
    return _LINK.search(folded) is not None


def contains_banned_word(text: str, banned_words: tuple[str, ...]) -> bool:
    """Match on skeleton words, so fullwidth, leet ("sp@m") and Cyrillic spellings hit "spam".

    Multi-word entries match as a phrase of whole words.
    """
    if not banned_words:
        return False
    haystack = f" {skeleton(text)} "
    squeezed = skeleton(text).replace(" ", "")
    for word in banned_words:
        needle = skeleton(word)
        if not needle:
            continue
        if f" {needle} " in haystack:
            return True
        # "s p a m" / "s.p.a.m": letters spaced out to dodge the filter
        if len(needle) >= 4 and " " not in needle and needle in squeezed and _spaced(text):
            return True
    return False


def _spaced(text: str) -> bool:
    parts = skeleton(text).split()
    return len(parts) >= 3 and sum(len(p) == 1 for p in parts) * 2 >= len(parts)


def screen_text(text: str, policy: ChatPolicy) -> Screening:
    """Run the show's filters over an already-normalised line. With ``hold_for_review`` every
    line is held (the reason says which filter it tripped, else ``review``)."""
    reason: str | None = None
    if contains_banned_word(text, policy.banned_words):
        reason = "banned_word"
    elif policy.block_links and contains_link(text):
        reason = "link"
    if policy.hold_for_review:
        return Screening(Verdict.HOLD, reason or "review")
    if reason is None:
        return Screening(Verdict.PUBLISH)
    return Screening(Verdict.REJECT, reason)


# --- audit ---------------------------------------------------------------------------------


class ModAction(StrEnum):
    """Every moderation action that lands in the audit log."""

    DELETE = "delete"  # one message removed
    TIMEOUT = "timeout"  # user muted for N seconds
    BAN = "ban"  # user banned from the show, their lines hidden
    UNBAN = "unban"  # ban lifted (hidden lines stay hidden)
    LIFT = "lift"  # timeout ended early
    SLOW_MODE = "slow_mode"  # per-user cooldown changed
    POLICY = "policy"  # filters or audience flags changed
    APPROVE = "approve"  # a held line released to the room
    REJECT = "reject"  # a held line refused
    RESOLVE_REPORT = "resolve_report"  # a viewer report closed
    APPEAL = "appeal"  # a banned or timed-out viewer appealed (the actor is the viewer)
    APPEAL_DECIDED = "appeal_decided"  # staff lifted the action appealed, or upheld it


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to whom, when and why; append-only."""

    id: str
    show_id: str
    actor_id: str
    actor_name: str
    action: ModAction
    at_ms: int
    target_user_id: str | None = None
    target_message_id: str | None = None
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    #: The target's display name when the action was taken ("" when unknown).
    target_name: str = ""
    #: Its place in the show's hash chain (set by the store when it appends; 0 = not yet).
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""

    def row(self) -> dict[str, Any]:
        """The fields the chain hashes (`AUDIT_FIELDS`), flat, as the export publishes them."""
        return {
            "seq": self.seq,
            "id": self.id,
            "show_id": self.show_id,
            "at": self.at_ms,
            "action": str(self.action),
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "target_user_id": self.target_user_id,
            "target_name": self.target_name,
            "target_message_id": self.target_message_id,
            "reason": self.reason,
            "detail": self.detail,
        }

    def to_wire(self) -> dict[str, Any]:
        return {
            **self.row(),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "show_id": self.show_id,
            "actor": {"id": self.actor_id, "name": self.actor_name},
            "action": str(self.action),
            "target": (
                {"id": self.target_user_id, "name": self.target_name}
                if self.target_user_id
                else None
            ),
            "target_user_id": self.target_user_id,
            "target_message_id": self.target_message_id,
            "reason": self.reason,
            "detail": self.detail,
            "summary": audit_summary(self),
            "at": self.at_ms,
        }


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _rules(detail: dict[str, Any]) -> str:
    parts = []
    words = detail.get("banned_words") or []
    parts.append(f"{len(words)} banned word{'s' if len(words) != 1 else ''}")
    parts.append("links blocked" if detail.get("block_links") else "links allowed")
    if detail.get("hold_for_review"):
        parts.append("every line held for review")
    for flag, text in (("followers_only", "followers only"), ("buyers_only", "buyers only")):
        if detail.get(flag):
            parts.append(text)
    return ", ".join(parts)


def audit_summary(entry: AuditEntry) -> str:
    """The entry in words, as a host reads it: "Ana banned Bob: spam"."""
    actor = entry.actor_name or "Someone"
    target = entry.target_name or ("a viewer" if entry.target_user_id else "")
    detail = entry.detail
    quoted = f"“{detail['text']}”" if detail.get("text") else "a message"
    seconds = int(detail.get("seconds") or 0)
    whose = f"{target}’s " if target else ""
    match entry.action:
        case ModAction.DELETE:
            text = f"{actor} deleted {whose}message {quoted}"
        case ModAction.TIMEOUT:
            text = f"{actor} timed out {target} for {_duration(seconds)}"
        case ModAction.BAN:
            text = f"{actor} banned {target}"
        case ModAction.UNBAN:
            text = f"{actor} unbanned {target}"
        case ModAction.LIFT:
            text = f"{actor} lifted {target}’s timeout"
        case ModAction.SLOW_MODE:
            text = (
                f"{actor} set slow mode to {_duration(seconds)}"
                if seconds
                else f"{actor} turned slow mode off"
            )
        case ModAction.POLICY:
            text = f"{actor} changed the chat rules: {_rules(detail)}"
        case ModAction.APPROVE:
            text = f"{actor} approved {whose}held message {quoted}"
        case ModAction.REJECT:
            text = f"{actor} rejected {whose}held message {quoted}"
        case ModAction.RESOLVE_REPORT:
            text = f"{actor} resolved a report"
        case ModAction.APPEAL:
            text = f"{actor} appealed their {detail.get('kind', 'restriction')}"
        case ModAction.APPEAL_DECIDED:
            outcome = "lifted" if detail.get("outcome") == "lifted" else "upheld"
            text = f"{actor} {outcome} {whose}{detail.get('kind', 'restriction')} on appeal"
    return f"{text}: {entry.reason}" if entry.reason else text


AUDIT_CSV_COLUMNS = (
    "at",
    "action",
    "actor_id",
    "actor_name",
    "target_user_id",
    "target_message_id",
    "reason",
    "detail",
    "target_name",
    "summary",
    "seq",
    "prev_hash",
    "hash",
)


# --- the audit log's hash chain -----------------------------------------------------------------

#: What the chain hashes of each audit row (see `AuditEntry.row`).
AUDIT_FIELDS = (
    "seq",
    "id",
    "show_id",
    "at",
    "action",
    "actor_id",
    "actor_name",
    "target_user_id",
    "target_name",
    "target_message_id",
    "reason",
    "detail",
)


def audit_seed(show_id: str) -> dict[str, str]:
    """The per-show genesis object: its SHA-256 is the first row's `prev_hash`."""
    return {"log": "livecommerce.moderation_audit", "show_id": show_id}


def audit_genesis(show_id: str) -> str:
    return genesis(audit_seed(show_id))


def chain_entry(entry: AuditEntry, seq: int, prev_hash: str) -> AuditEntry:
    """The entry as row `seq` after a row hashed `prev_hash` (the genesis for row 1)."""
    placed = replace(entry, seq=seq, prev_hash=prev_hash)
    return replace(placed, hash=chain_hash(prev_hash, placed.row(), AUDIT_FIELDS))


def verify_audit(log: Mapping[str, Any]) -> ChainVerdict:
    """Recompute an exported audit log `{show_id, seed, entries: [...], head}` (entries in any
    order; the export lists them newest first): the seed must be the show's, the rows
    1..n complete, every row's `prev_hash` and `hash`, and the head."""
    try:
        show_id = log["show_id"]
        if log["seed"] != audit_seed(show_id):
            return ChainVerdict(False, None, "the seed is not this show's")
        rows = sorted(log["entries"], key=lambda r: r["seq"])
        return verify_chain(log["seed"], rows, AUDIT_FIELDS, log["head"])
    except (KeyError, TypeError) as exc:
        return ChainVerdict(False, None, f"malformed log: {exc}")


def csv_cell(value: str) -> str:
    """Neutralise spreadsheet formulas: a cell starting with = + - @ (or tab/CR) is quoted."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


class ReportStatus(StrEnum):
    OPEN = "open"  # waiting for a host
    RESOLVED = "resolved"  # a host acted on it or dismissed it


MAX_REASON_LENGTH = 200


def normalize_reason(raw: str | None) -> str:
    """Reasons are free text shown to staff only; trimmed and capped, controls dropped."""
    if not raw:
        return ""
    text = unicodedata.normalize("NFC", raw).strip()
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return text[:MAX_REASON_LENGTH]


# --- appeals -------------------------------------------------------------------------------


class AppealStatus(StrEnum):
    OPEN = "open"  # waiting for the show's staff
    LIFTED = "lifted"  # staff lifted the ban or timeout
    UPHELD = "upheld"  # staff kept it


#: Longest appeal a viewer may write.
MAX_APPEAL_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class Appeal:
    """A banned or timed-out viewer's one appeal against the action in force (`action_id`: its
    audit entry), and what staff decided."""

    id: str
    show_id: str
    user_id: str
    user_name: str
    action_id: str
    #: "ban" or "timeout".
    kind: str
    #: The reason staff gave for the action.
    reason: str
    #: When a timeout ends (epoch ms); None for a ban.
    until_ms: int | None
    text: str
    at_ms: int
    status: AppealStatus = AppealStatus.OPEN
    note: str = ""
    decided_by: str | None = None
    decided_by_name: str = ""
    decided_at_ms: int | None = None

    def to_wire(self) -> dict[str, Any]:
        decided = None
        if self.decided_at_ms is not None:
            decided = {
                "by": {"id": self.decided_by, "name": self.decided_by_name},
                "at": self.decided_at_ms,
                "note": self.note,
            }
        return {
            "id": self.id,
            "show_id": self.show_id,
            "user": {"id": self.user_id, "name": self.user_name},
            "action": {
                "id": self.action_id,
                "kind": self.kind,
                "reason": self.reason,
                "until": self.until_ms,
            },
            "text": self.text,
            "status": str(self.status),
            "at": self.at_ms,
            "decided": decided,
        }
