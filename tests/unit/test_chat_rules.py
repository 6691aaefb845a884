"""Chat text rules and reaction aggregation (pure domain)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecommerce.domain.chat import (
    MAX_TEXT_LENGTH,
    ReactionTally,
    check_reaction,
    normalize_text,
    sum_counts,
)
from livecommerce.errors import InvalidInput, TextEmpty, TextInvalidCharacters, TextTooLong


def test_nfc_and_trim() -> None:
    """A decomposed é and surrounding whitespace normalise to the composed, trimmed text."""
    assert normalize_text("  cafe\u0301 \n") == "café"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t "])
def test_empty_refused(raw: str) -> None:
    """Blank lines are refused with text_empty."""
    with pytest.raises(TextEmpty) as info:
        normalize_text(raw)
    assert info.value.code == "text_empty"


def test_length_counted_after_nfc() -> None:
    """500 composed characters pass even if they arrive decomposed; 501 are refused."""
    assert len(normalize_text("e\u0301" * 500)) == MAX_TEXT_LENGTH
    with pytest.raises(TextTooLong):
        normalize_text("a" * 501)


@pytest.mark.parametrize("bad", ["a\x00b", "a\x07b", "line\nbreak", "rtl\u202eevil", "x\u2066y"])
def test_control_characters_refused(bad: str) -> None:
    """Controls, inner newlines and bidi overrides are refused with text_invalid_characters."""
    with pytest.raises(TextInvalidCharacters) as info:
        normalize_text(bad)
    assert info.value.code == "text_invalid_characters"


def test_emoji_sequences_allowed() -> None:
    """ZWJ families and variation selectors are ordinary chat."""
    text = "love it \U0001f468\u200d\U0001f469\u200d\U0001f467 \u2764\ufe0f"
    assert text == normalize_text(text)


@given(st.text(max_size=600))
def test_normalize_is_idempotent(raw: str) -> None:
    """Whatever passes once passes again unchanged."""
    try:
        once = normalize_text(raw)
    except InvalidInput:
        return
    assert once == normalize_text(once)


def test_reaction_kinds_checked() -> None:
    """Unknown kinds and out-of-range counts are refused."""
    check_reaction("heart", 1)
    with pytest.raises(InvalidInput):
        check_reaction("poop", 1)
    with pytest.raises(InvalidInput):
        check_reaction("heart", 0)


@given(st.lists(st.tuples(st.sampled_from(["heart", "fire", "clap"]), st.integers(1, 20))))
def test_tally_loses_no_tap(taps: list[tuple[str, int]]) -> None:
    """Draining in arbitrary places never loses or invents a tap."""
    tally = ReactionTally()
    drained = []
    for i, (kind, count) in enumerate(taps):
        tally.add(kind, count)
        if i % 3 == 0:
            drained.append(tally.drain())
    drained.append(tally.drain())
    expected: dict[str, int] = {}
    for kind, count in taps:
        expected[kind] = expected.get(kind, 0) + count
    assert expected == sum_counts(drained)
    assert not tally


def test_merge_ignores_garbage() -> None:
    """Counts from another node merge; unknown kinds and non-positive counts are dropped."""
    tally = ReactionTally()
    tally.merge({"heart": 2, "bogus": 5, "fire": -1})
    assert tally.drain() == {"heart": 2}
