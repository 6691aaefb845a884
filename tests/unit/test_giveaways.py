"""The giveaway rules (domain/giveaways.py, "lc-draw-v1"): the draw against vectors computed
here independently with hmac/hashlib, its properties over any entry list, the keyword match,
the settings' limits, the promotion journal entry, and the record verifier refusing a changed
seed, entry or pick order."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livecommerce.domain.giveaways import (
    ALGORITHM,
    Entry,
    EntryMode,
    check_settings,
    commitment_of,
    draw,
    entrant_of,
    entries_hash,
    keyword_pattern,
    verify_draw,
)
from livecommerce.domain.ledger import Account, EntryKind, balances, promotion_entry
from livecommerce.errors import InvalidInput

SEED = bytes(range(32))


def reference_draw(seed: bytes, giveaway_id: str, ids: list[str], winners: int) -> list[str]:
    """The algorithm as docs/GIVEAWAYS.md states it, written out separately."""
    pool = sorted(ids)
    out = []
    i = 0
    while i < winners and pool:
        mac = hmac.new(seed, f"{giveaway_id}:{i}".encode(), hashlib.sha256).digest()
        out.append(pool.pop(int.from_bytes(mac, "big") % len(pool)))
        i += 1
    return out


def test_draw_matches_an_independent_vector() -> None:
    """Five entries, two winners, a fixed seed: the picks are the ones computed by hand below
    (first index mod 5 over the sorted ids, then mod 4 over what is left)."""
    ids = ["ent_e", "ent_a", "ent_c", "ent_b", "ent_d"]
    pool = sorted(ids)
    first = int.from_bytes(hmac.new(SEED, b"gvw_1:0", hashlib.sha256).digest(), "big") % 5
    one = pool.pop(first)
    second = int.from_bytes(hmac.new(SEED, b"gvw_1:1", hashlib.sha256).digest(), "big") % 4
    two = pool.pop(second)
    assert [one, two] == draw(SEED, "gvw_1", ids, 2)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32),
    ids=st.lists(st.text("abcdef0123456789", min_size=1, max_size=8), unique=True, max_size=30),
    winners=st.integers(min_value=1, max_value=10),
)
def test_draw_properties(seed: bytes, ids: list[str], winners: int) -> None:
    """Any entries: the picks are distinct entries, min(winners, entries) of them, the same
    whatever order the entries come in, and equal to the written-out reference."""
    picked = draw(seed, "gvw_x", ids, winners)
    assert min(winners, len(ids)) == len(picked)
    assert len(set(picked)) == len(picked)
    assert set(picked) <= set(ids)
    assert picked == draw(seed, "gvw_x", list(reversed(ids)), winners)
    assert reference_draw(seed, "gvw_x", ids, winners) == picked


def test_draw_depends_on_seed_and_giveaway() -> None:
    """Another seed or another giveaway id draws differently (over 40 entries, 5 winners)."""
    ids = [f"ent_{n:02d}" for n in range(40)]
    base = draw(SEED, "gvw_1", ids, 5)
    assert base != draw(bytes(32), "gvw_1", ids, 5)
    assert base != draw(SEED, "gvw_2", ids, 5)


def test_commitment_and_entries_hash_canonical_forms() -> None:
    """The commitment is hex SHA-256 of the seed bytes; the entries hash is SHA-256 of the
    canonical JSON of {id, entrant} sorted by id, whatever order they come in."""
    assert hashlib.sha256(SEED).hexdigest() == commitment_of(SEED)
    entries = [Entry("ent_b", "ff"), Entry("ent_a", "é0")]
    text = '[{"entrant":"é0","id":"ent_a"},{"entrant":"ff","id":"ent_b"}]'
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == entries_hash(entries)
    assert entries_hash(entries) == entries_hash(list(reversed(entries)))
    assert hmac.new(b"salt", b"usr_1", hashlib.sha256).hexdigest() == entrant_of("salt", "usr_1")


@pytest.mark.parametrize(
    ("text", "heard"),
    [
        ("win", True),
        ("I WIN!", True),
        ("please, Win me", True),
        ("winner", False),
        ("twin", False),
        ("w i n", False),
    ],
)
def test_keyword_is_a_whole_word_in_any_case(text: str, heard: bool) -> None:
    """The keyword matches as a whole word whatever its case, never inside another word."""
    assert heard == bool(keyword_pattern("win").search(text))


def test_settings_limits() -> None:
    """Winners 1..100, 5 s to 24 h, a keyword exactly for chat_keyword and one word long."""
    ok: dict[str, Any] = {
        "winners": 3,
        "entry": EntryMode.BUTTON,
        "keyword": None,
        "duration_ms": 60_000,
    }
    assert check_settings(**ok) is None
    assert "#win" == check_settings(**{**ok, "entry": EntryMode.CHAT_KEYWORD, "keyword": "#win"})
    bads: tuple[dict[str, Any], ...] = (
        {"winners": 0},
        {"winners": 101},
        {"duration_ms": 4_000},
        {"duration_ms": 24 * 3600 * 1000 + 1},
        {"keyword": "win"},
        {"entry": EntryMode.CHAT_KEYWORD},
        {"entry": EntryMode.CHAT_KEYWORD, "keyword": "two words"},
    )
    for bad in bads:
        with pytest.raises(InvalidInput):
            check_settings(**{**ok, **bad})


def test_promotion_entry_balances_on_the_sellers_accounts() -> None:
    """A prize worth 4900 posts +4900 promotion expense and -4900 goods given away, both the
    seller's, and touches no money account."""
    txn = promotion_entry(
        order_id="ord_1", seller_id="usr_s", value=4900, currency="USD",
        idempotency_key="giveaway:gvw_1", at_ms=1,
    )  # fmt: skip
    assert EntryKind.PROMOTION == txn.kind
    assert {
        (Account.PROMOTION_EXPENSE, "usr_s", "USD"): 4900,
        (Account.GOODS_GIVEN_AWAY, "usr_s", "USD"): -4900,
    } == balances([txn])
    with pytest.raises(InvalidInput):
        promotion_entry(order_id="o", seller_id="s", value=-1, currency="USD",
                        idempotency_key="k", at_ms=1)  # fmt: skip


def record(n: int = 6, winners: int = 2) -> dict[str, Any]:
    entries = [Entry(f"ent_{k:02d}", entrant_of("salt", f"usr_{k}")) for k in range(n)]
    picks = draw(SEED, "gvw_1", [e.id for e in entries], winners)
    return {
        "id": "gvw_1",
        "algorithm": ALGORITHM,
        "seed": SEED.hex(),
        "commitment": commitment_of(SEED),
        "entries": [e.to_wire() for e in entries],
        "entries_hash": entries_hash(entries),
        "winners_count": winners,
        "winners": [{"entry_id": p} for p in picks],
    }


def test_verify_draw_accepts_the_record_and_refuses_every_edit() -> None:
    """The record verifies; a changed seed, entry, pick order or algorithm does not, and a
    record before the draw (no seed) or malformed is refused with a reason."""
    good = record()
    assert verify_draw(good).ok
    edits: list[tuple[str, Any]] = []
    seed = copy.deepcopy(good)
    seed["seed"] = bytes(32).hex()
    edits.append(("commitment", seed))
    entry = copy.deepcopy(good)
    entry["entries"][0]["entrant"] = "00" * 32
    edits.append(("entries_hash", entry))
    order = copy.deepcopy(good)
    order["winners"].reverse()
    edits.append(("winners", order))
    algo = dict(good, algorithm="lc-draw-v0")
    edits.append(("algorithm", algo))
    edits.append(("not drawn", dict(good, seed=None)))
    edits.append(("malformed", json.loads(json.dumps({**good, "entries": [{"id": 1}]}))))
    for what, edited in edits:
        verdict = verify_draw(edited)
        assert not verdict.ok, what
        assert verdict.reason
