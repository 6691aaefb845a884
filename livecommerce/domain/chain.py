"""Hash chains over published logs (the auction bid log, a show's moderation audit log): one
scheme, so one verifier and one set of rules to read.

Canonical JSON: keys sorted, no spaces (`","` and `":"` separators), non-ASCII kept as UTF-8,
integers as integers, booleans `true`/`false`, `null` for an absent option. The genesis is the
SHA-256 (lowercase hex) of the canonical JSON of the log's seed object (what the log is about);
row *n* hashes `hash_{n-1} ‖ canonical JSON of the row's chained fields`, `hash_0` = the
genesis, `‖` text concatenation, hashed as UTF-8. The head is the last hash (the genesis for an
empty log). Rows carry `seq` 1, 2, 3… so a dropped or reordered row is told apart from an
edited one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text (non-ASCII not escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def genesis(seed: Mapping[str, Any]) -> str:
    """The `prev_hash` of the first row: SHA-256 of the canonical seed."""
    return sha256_hex(canonical_json(dict(seed)))


def chain_hash(prev_hash: str, row: Mapping[str, Any], fields: Sequence[str]) -> str:
    """SHA-256 of the previous hash (hex text) followed by the canonical JSON of `fields`."""
    return sha256_hex(prev_hash + canonical_json({k: row[k] for k in fields}))


def chained(
    seed: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], fields: Sequence[str]
) -> tuple[list[dict[str, Any]], str]:
    """The rows with their `hash`, and the head."""
    head = genesis(seed)
    out: list[dict[str, Any]] = []
    for row in rows:
        head = chain_hash(head, row, fields)
        out.append({**row, "hash": head})
    return out, head


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    #: The seq of the first row that does not verify (None when ok, or when only the head is off).
    bad_seq: int | None = None
    reason: str = ""


def verify_chain(
    seed: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    fields: Sequence[str],
    head: object,
) -> Verdict:
    """Recompute a published chain: consecutive seqs from 1, every row's hash (and its
    `prev_hash` when the row carries one), and the head."""
    try:
        prev = genesis(seed)
        for expected_seq, row in enumerate(rows, start=1):
            if row.get("seq") != expected_seq:
                return Verdict(False, row.get("seq"), f"expected seq {expected_seq}")
            if "prev_hash" in row and row["prev_hash"] != prev:
                return Verdict(False, expected_seq, "prev_hash does not match")
            prev_next = chain_hash(prev, row, fields)
            if row.get("hash") != prev_next:
                return Verdict(False, expected_seq, "hash does not match")
            prev = prev_next
        if head != prev:
            return Verdict(False, None, "head does not match the last hash")
    except (KeyError, TypeError, AttributeError) as exc:
        return Verdict(False, None, f"malformed log: {exc}")
    return Verdict(True)
