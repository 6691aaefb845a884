"""Moderation policy decisions: standing, slow mode, audience, filters, audit helpers."""

from __future__ import annotations

from typing import Any

import pytest

from livecommerce.domain.moderation import (
    AuditEntry,
    ChatPolicy,
    ModAction,
    Standing,
    Verdict,
    audit_summary,
    check_audience,
    check_slow_mode,
    check_standing,
    check_timeout_seconds,
    contains_banned_word,
    contains_link,
    csv_cell,
    make_policy,
    normalize_reason,
    refusal_text,
    screen_text,
    slow_mode_wait_ms,
)
from livecommerce.errors import Banned, ChatRestricted, InvalidInput, Muted, SlowMode


def test_banned_user_refused() -> None:
    """A banned user gets banned, whatever the time, and is told why (no end: until null)."""
    with pytest.raises(Banned) as info:
        check_standing(Standing(banned=True, action_id="aud_1", reason="spam"), 0)
    assert info.value.details == {"reason": "spam", "action_id": "aud_1", "until": None}


def test_timeout_expires() -> None:
    """A timed-out user is muted until the deadline, then free; the refusal says until when."""
    with pytest.raises(Muted) as info:
        check_standing(Standing(muted_until_ms=10_500), 1_000)
    assert info.value.details == {
        "retry_after": 10, "reason": "", "action_id": None, "until": 10_500
    }  # fmt: skip
    check_standing(Standing(muted_until_ms=10_500), 10_500)


def test_slow_mode_cooldown() -> None:
    """Slow mode makes a user wait the configured seconds after their last line."""
    policy = ChatPolicy(slow_mode_seconds=5)
    assert slow_mode_wait_ms(policy, 0, 1_000) == 0
    assert slow_mode_wait_ms(policy, 1_000, 3_000) == 3_000
    with pytest.raises(SlowMode) as info:
        check_slow_mode(policy, 1_000, 3_000)
    assert info.value.code == "slow_mode"
    check_slow_mode(policy, 1_000, 6_000)
    check_slow_mode(ChatPolicy(), 1_000, 1_001)


def test_audience_flags() -> None:
    """Followers-only and buyers-only admit either qualification when both are on."""
    check_audience(ChatPolicy(), is_follower=False, is_buyer=False)
    with pytest.raises(ChatRestricted):
        check_audience(ChatPolicy(followers_only=True), is_follower=False, is_buyer=True)
    check_audience(ChatPolicy(buyers_only=True), is_follower=False, is_buyer=True)
    check_audience(
        ChatPolicy(followers_only=True, buyers_only=True), is_follower=True, is_buyer=False
    )


@pytest.mark.parametrize(
    "text",
    [
        "see https://evil.example",
        "www.spam.net",
        "go to cheap-deals.shop now",
        "ｅｖｉｌ．ｃｏｍ",
        "x dot com",
    ],
)
def test_links_detected(text: str) -> None:
    """URLs, www, bare domains and fullwidth dots count as links."""
    assert contains_link(text)


@pytest.mark.parametrize("text", ["price is 3.50", "wow...nice", "e.g. the red one"])
def test_non_links(text: str) -> None:
    """Prices and punctuation are not links."""
    assert not contains_link(text)


@pytest.mark.parametrize(
    "text", ["buy SPAM now", "ｓｐａｍ", "sp@m!", "ѕраm", "s p a m", "so much spam."]
)
def test_banned_words_match_lookalikes(text: str) -> None:
    """Banned words match whole words through case, width, leet and Cyrillic lookalikes."""
    assert contains_banned_word(text, ("spam",))


def test_banned_word_needs_whole_word() -> None:
    """A banned word inside a longer word does not match (no Scunthorpe problem)."""
    assert not contains_banned_word("spammer? no, spamalot", ("spam",))
    assert contains_banned_word("this is a free gift", ("free gift",))


def test_screen_hold_or_reject() -> None:
    """Filtered lines are refused; when the show reviews lines, every line is held, filtered
    or not, and the reason says which filter a line tripped."""
    policy = ChatPolicy(banned_words=("spam",), block_links=True)
    assert screen_text("hello", policy).verdict == Verdict.PUBLISH
    assert tuple(vars_of(screen_text("spam", policy))) == (Verdict.REJECT, "banned_word")
    review = ChatPolicy(block_links=True, hold_for_review=True)
    assert [Verdict.HOLD, "link"] == vars_of(screen_text("www.x.com", review))
    assert [Verdict.HOLD, "review"] == vars_of(screen_text("hello", review))


def test_refusals_in_plain_words() -> None:
    """Viewers read a sentence for every refusal reason, never a code."""
    assert "Your message contains a word this show does not allow." == refusal_text("banned_word")
    assert "Links are not allowed in this show's chat." == refusal_text("link")
    assert "_" not in refusal_text("something_new")


def test_audit_summary_names_actor_and_target() -> None:
    """Audit entries read as sentences with the actor's and the target's names."""

    def entry(action: ModAction, **kw: Any) -> AuditEntry:
        return AuditEntry("a", "s", "u1", "Ana", action, 0, target_user_id="u2", **kw)

    assert "Ana banned Bob: spam" == audit_summary(
        entry(ModAction.BAN, target_name="Bob", reason="spam")
    )
    assert "Ana timed out Bob for 5 minutes" == audit_summary(
        entry(ModAction.TIMEOUT, target_name="Bob", detail={"seconds": 300})
    )
    assert "Ana lifted a viewer’s timeout" == audit_summary(entry(ModAction.LIFT))
    assert "Ana deleted Bob’s message “hi”" == audit_summary(
        entry(ModAction.DELETE, target_name="Bob", detail={"text": "hi"})
    )


def vars_of(s: object) -> list[object]:
    return [getattr(s, "verdict"), getattr(s, "reason")]  # noqa: B009


def test_make_policy_validates() -> None:
    """Policy changes are range-checked and banned words deduplicated."""
    policy = make_policy(banned_words=["Spam", "spam ", "scam"], slow_mode_seconds=10)
    assert policy.banned_words == ("Spam", "scam")
    with pytest.raises(InvalidInput):
        make_policy(slow_mode_seconds=-1)
    with pytest.raises(InvalidInput):
        make_policy(banned_words=["!!!"])
    with pytest.raises(InvalidInput):
        check_timeout_seconds(0)


def test_csv_cell_defuses_formulas() -> None:
    """Cells that a spreadsheet would run as formulas are prefixed with a quote."""
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("plain") == "plain"


def test_reason_cleaned() -> None:
    """Reasons lose control characters and are capped."""
    assert normalize_reason(" sp\x00am ") == "spam"
    assert len(normalize_reason("x" * 500)) == 200
