"""The auction rules (domain/auctions.py): increments, anti-snipe and sudden death, proxy
bidding, the reserve, and the hash chain with its verifier; with Hypothesis properties over any
interleaving of bids."""

from __future__ import annotations

import copy
import itertools
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livecommerce.domain.auctions import (
    AuctionSettings,
    AuctionState,
    Placed,
    chain_hash,
    chained,
    close,
    increment,
    make_settings,
    min_bid,
    open_state,
    outcome,
    place_bid,
    pseudonym,
    verify_log,
)
from livecommerce.domain.chain import canonical_json, genesis, sha256_hex
from livecommerce.errors import AuctionClosed, AuctionNotOpen, BidTooLow, InvalidInput

START = 1_000_000
END = START + 60_000


def auction(**overrides: object) -> AuctionSettings:
    base: dict[str, object] = {
        "offer_id": "ofr_1",
        "currency": "USD",
        "starting_bid": 1_000,
        "duration_seconds": 60,
        "min_increment": 100,
    }
    return make_settings(**{**base, **overrides})  # type: ignore[arg-type]


def fresh() -> AuctionState:
    return open_state("ofr_1", START, END)


def bid(
    s: AuctionSettings,
    state: AuctionState,
    user: str,
    amount: int,
    max_amount: int | None = None,
    at: int = START + 1_000,
) -> Placed:
    return place_bid(
        s,
        state,
        user_id=user,
        name=user.title(),
        amount=amount,
        max_amount=max_amount,
        now_ms=at,
        salt="salt",
    )


def test_increment_table_by_price_band() -> None:
    """Without `min_increment` the step grows with the price, band by band."""
    s = auction(min_increment=None)
    assert [50, 50, 100, 250, 500, 1_000, 2_500, 5_000] == [
        increment(s, p) for p in (0, 999, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000)
    ]
    assert 7 == increment(auction(min_increment=7), 123_456)


def test_first_bid_needs_the_starting_bid_then_one_increment_more() -> None:
    """The minimum is the starting bid, then the price plus the increment; details say it."""
    s = auction()
    with pytest.raises(BidTooLow) as low:
        bid(s, fresh(), "ann", 999)
    assert {"min_bid": 1_000} == low.value.details
    state = bid(s, fresh(), "ann", 1_000).state
    assert 1_100 == min_bid(s, state)
    with pytest.raises(BidTooLow):
        bid(s, state, "bob", 1_099)


def test_clock_refusals() -> None:
    """Before the start it is `auction_not_open`; at and after the end, `auction_closed`."""
    s = auction()
    with pytest.raises(AuctionNotOpen):
        bid(s, fresh(), "ann", 1_000, at=START - 1)
    with pytest.raises(AuctionClosed):
        bid(s, fresh(), "ann", 1_000, at=END)
    closed = close(s, fresh(), END)
    assert closed is not None
    with pytest.raises(AuctionClosed):
        bid(s, replace(closed, ends_at_ms=END + 99_999), "ann", 1_000, at=END - 1)


def test_max_below_amount_is_refused() -> None:
    """A max under the firm amount makes no sense and is refused."""
    with pytest.raises(InvalidInput):
        bid(auction(), fresh(), "ann", 1_500, max_amount=1_200)


def test_anti_snipe_extends_and_sudden_death_does_not() -> None:
    """A bid in the last 10 s moves the end to now + 10 s; sudden death never moves it."""
    late = END - 3_000
    placed = bid(auction(), fresh(), "ann", 1_000, at=late)
    assert (True, late + 10_000) == (placed.extended, placed.state.ends_at_ms)
    early = bid(auction(), fresh(), "ann", 1_000, at=END - 20_000)
    assert (False, END) == (early.extended, early.state.ends_at_ms)
    sudden = bid(auction(sudden_death=True), fresh(), "ann", 1_000, at=late)
    assert (False, END) == (sudden.extended, sudden.state.ends_at_ms)


def test_proxy_bids_for_the_leader_up_to_the_max() -> None:
    """Ann's max of 5,000 answers Bob's 2,000 with 2,100 (a proxy row); Cy's 6,000 beats her
    max and pays 5,100."""
    s = auction()
    state = bid(s, fresh(), "ann", 1_000, max_amount=5_000).state
    assert 1_000 == state.price
    placed = bid(s, state, "bob", 2_000)
    assert [(2_000, False, "bob"), (2_100, True, "ann")] == [
        (row.amount, row.max_applied, user) for row, user in placed.rows
    ]
    assert ("ann", 2_100) == (
        placed.state.leader and placed.state.leader.user_id,
        placed.state.price,
    )
    beaten = bid(s, placed.state, "cy", 6_000)
    assert ("cy", 6_000) == (
        beaten.state.leader and beaten.state.leader.user_id,
        beaten.state.price,
    )
    proxied = bid(s, placed.state, "cy", 2_200, max_amount=9_000)
    assert ("cy", 5_100) == (
        proxied.state.leader and proxied.state.leader.user_id,
        proxied.state.price,
    )
    assert [(2_200, False), (5_100, True)] == [(r.amount, r.max_applied) for r, _ in proxied.rows]


def test_equal_maxes_go_to_the_earlier() -> None:
    """Bob matching Ann's max does not take the lead: the price is the max, Ann still leads."""
    s = auction()
    state = bid(s, fresh(), "ann", 1_000, max_amount=3_000).state
    placed = bid(s, state, "bob", 3_000)
    assert ("ann", 3_000) == (
        placed.state.leader and placed.state.leader.user_id,
        placed.state.price,
    )


def test_reserve_decides_the_sale() -> None:
    """Below the reserve nobody wins; a leader whose max reaches it pays at least the reserve."""
    s = auction(reserve_price=4_000)
    low = bid(s, fresh(), "ann", 3_000).state
    assert (None, False) == (outcome(s, low).winner_id, outcome(s, low).reserve_met)
    high = bid(s, fresh(), "ann", 1_000, max_amount=4_500).state
    result = outcome(s, high)
    assert ("ann", 4_000, True) == (result.winner_id, result.amount, result.reserve_met)


def test_close_waits_for_the_clock_unless_forced() -> None:
    """Closing before the end does nothing; at the end (or forced) it closes once."""
    s = auction()
    assert close(s, fresh(), END - 1) is None
    closed = close(s, fresh(), END)
    assert closed is not None
    assert closed.closed
    assert closed is close(s, closed, END + 5)
    forced = close(s, fresh(), START, force=True)
    assert forced is not None
    assert forced.closed


def test_settings_are_validated() -> None:
    """Nonsense settings are refused: a reserve below the starting bid, a 1 s auction."""
    with pytest.raises(InvalidInput):
        auction(reserve_price=10)
    with pytest.raises(InvalidInput):
        auction(duration_seconds=1)
    with pytest.raises(InvalidInput):
        auction(starting_bid=0)


def test_canonical_json_and_chain() -> None:
    """Canonical JSON sorts keys, has no spaces and keeps UTF-8; each hash covers the previous
    one, so the published rows verify and the head is the last hash."""
    assert '{"a":"é","b":[1,true]}' == canonical_json({"b": [1, True], "a": "é"})
    s = auction()
    state = bid(s, fresh(), "ann", 1_000, max_amount=5_000).state
    placed = bid(s, state, "bob", 2_000)
    rows = [r for r, _ in (*bid(s, fresh(), "ann", 1_000, max_amount=5_000).rows, *placed.rows)]
    published, head = chained(s.to_wire(), rows)
    first = sha256_hex(genesis(s.to_wire()) + canonical_json(rows[0].to_wire()))
    assert first == published[0]["hash"]
    assert chain_hash(published[0]["hash"], published[1]) == published[1]["hash"]
    assert head == published[-1]["hash"]
    log: dict[str, Any] = {"settings": s.to_wire(), "bids": published, "head": head}
    assert verify_log(log).ok
    assert genesis(s.to_wire()) == chained(s.to_wire(), [])[1]


def test_tampering_is_found() -> None:
    """Changing an amount, dropping a row or editing the settings fails at the right row."""
    s = auction()
    state = fresh()
    rows = []
    for i, user in enumerate(["ann", "bob", "cy"]):
        placed = bid(s, state, user, 1_000 + 100 * i)
        state = placed.state
        rows += [r for r, _ in placed.rows]
    published, head = chained(s.to_wire(), rows)
    log: dict[str, Any] = {"settings": s.to_wire(), "bids": published, "head": head}
    edited = copy.deepcopy(log)
    edited["bids"][1]["amount"] += 1
    assert (False, 2) == (verify_log(edited).ok, verify_log(edited).bad_seq)
    dropped = copy.deepcopy(log)
    del dropped["bids"][1]
    assert (False, 3) == (verify_log(dropped).ok, verify_log(dropped).bad_seq)
    reset = copy.deepcopy(log)
    reset["settings"]["reserve_price"] = 1
    assert (False, 1) == (verify_log(reset).ok, verify_log(reset).bad_seq)
    truncated = copy.deepcopy(log)
    truncated["bids"].pop()
    assert (False, None) == (verify_log(truncated).ok, verify_log(truncated).bad_seq)
    assert not verify_log({"bids": []}).ok


def test_pseudonyms_are_stable_per_auction() -> None:
    """One bidder keeps one pseudonym in an auction and gets another in the next."""
    assert pseudonym("a", "usr_1") == pseudonym("a", "usr_1")
    assert pseudonym("a", "usr_1") != pseudonym("b", "usr_1")
    assert pseudonym("a", "usr_1") != pseudonym("a", "usr_2")


# --- properties -------------------------------------------------------------------------------

BIDDERS = ["ann", "bob", "cy", "dee"]
#: (bidder, how far above the minimum, max above the amount or None, ms since the start)
bids_strategy = st.lists(
    st.tuples(
        st.sampled_from(BIDDERS),
        st.integers(0, 3_000),
        st.one_of(st.none(), st.integers(0, 10_000)),
        st.integers(0, 70_000),
    ),
    max_size=25,
)


def run(
    s: AuctionSettings, plan: list[tuple[str, int, int | None, int]]
) -> tuple[AuctionState, list[AuctionState], dict[str, tuple[int, int]]]:
    """Apply the plan in time order; returns the final state, every state, and each bidder's
    highest max with the seq it was first set at."""
    state = fresh()
    states = [state]
    maxes: dict[str, tuple[int, int]] = {}
    for user, above, extra, offset in sorted(plan, key=lambda b: b[3]):
        amount = min_bid(s, state) + above
        cap = None if extra is None else amount + extra
        try:
            placed = bid(s, state, user, amount, cap, at=START + offset)
        except AuctionClosed:
            continue
        value = max(amount, cap or amount)
        if value > maxes.get(user, (0, 0))[0]:
            maxes[user] = (value, placed.own.seq)
        state = placed.state
        states.append(state)
    return state, states, maxes


@settings(max_examples=300, deadline=None)
@given(plan=bids_strategy, sudden=st.booleans(), table=st.booleans())
def test_any_interleaving_keeps_the_rules(
    plan: list[tuple[str, int, int | None, int]], sudden: bool, table: bool
) -> None:
    """For any bids: the winner holds the highest max (the earlier on a tie), the price is the
    second max plus one increment capped at the winner's max (or the winner's firm bid when
    higher), the price never falls, and the end only moves forward (never in sudden death)."""
    s = auction(sudden_death=sudden, min_increment=None if table else 100)
    state, states, maxes = run(s, plan)
    for before, after in itertools.pairwise(states):
        assert after.price is not None
        assert (before.price or 0) <= after.price
        assert before.ends_at_ms <= after.ends_at_ms
        if sudden:
            assert END == after.ends_at_ms
    if not maxes:
        assert state.leader is None
        return
    ranked = sorted(maxes.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
    winner, (winner_max, _) = ranked[0]
    assert state.leader is not None
    assert (winner, winner_max) == (state.leader.user_id, state.leader.max_amount)
    if len(ranked) > 1:
        second = ranked[1][1][0]
        expected = max(state.leader.firm, min(winner_max, second + increment(s, second)))
        assert expected == state.price
    else:
        assert state.leader.firm == state.price


@settings(max_examples=150, deadline=None)
@given(plan=bids_strategy)
def test_every_log_verifies_and_every_edit_is_found(
    plan: list[tuple[str, int, int | None, int]],
) -> None:
    """The rows of any auction verify; changing any one amount is caught at its row."""
    s = auction()
    state = fresh()
    rows = []
    for user, above, extra, offset in sorted(plan, key=lambda b: b[3]):
        amount = min_bid(s, state) + above
        try:
            placed = bid(s, state, user, amount, None if extra is None else amount + extra,
                         at=START + offset)  # fmt: skip
        except AuctionClosed:
            continue
        state = placed.state
        rows += [r for r, _ in placed.rows]
    published, head = chained(s.to_wire(), rows)
    log: dict[str, Any] = {"settings": s.to_wire(), "bids": published, "head": head}
    assert verify_log(log).ok
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    for i in range(len(published)):
        edited = copy.deepcopy(log)
        edited["bids"][i]["amount"] += 1
        assert (False, i + 1) == (verify_log(edited).ok, verify_log(edited).bad_seq)


@settings(max_examples=150, deadline=None)
@given(plan=bids_strategy)
def test_high_bid_is_never_below_a_non_leader_max(
    plan: list[tuple[str, int, int | None, int]],
) -> None:
    """The price covers every max but the leader's, so only the runner-up's max is kept."""
    s = auction()
    state, _, maxes = run(s, plan)
    if state.leader is None:
        return
    others = [m for user, (m, _) in maxes.items() if user != state.leader.user_id]
    assert state.price is not None
    assert all(m <= state.price for m in others)
    assert (max(others) if others else None) == state.second_max
