"""The show lifecycle table and the on-air clock (the replay playhead) as pure rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecommerce.domain.shows import (
    ShowStatus,
    ShowTimes,
    media_position_ms,
    moment_media_ts,
    pause_outlasted,
    transition,
)
from livecommerce.errors import InvalidInput, InvalidTransition

S = ShowStatus


def test_live_pause_resume_end_keeps_on_air_time() -> None:
    times = ShowTimes(S.SCHEDULED)
    assert media_position_ms(times, 1_000) is None  # nothing recorded before the start
    times = transition(times, S.LIVE, 10_000)
    assert (times.started_at, times.live_since, times.live_ms) == (10_000, 10_000, 0)
    assert media_position_ms(times, 15_000) == 5_000
    times = transition(times, S.PAUSED, 20_000)
    assert (times.paused_at, times.live_since, times.live_ms) == (20_000, None, 10_000)
    # a pause is not recorded: the playhead stands still
    assert media_position_ms(times, 90_000) == 10_000
    times = transition(times, S.LIVE, 100_000)
    assert times.started_at == 10_000  # the first start stays the start
    assert times.paused_at is None
    assert media_position_ms(times, 103_000) == 13_000
    times = transition(times, S.ENDED, 110_000)
    assert (times.ended_at, times.live_ms, times.live_since) == (110_000, 20_000, None)
    assert media_position_ms(times, 500_000) == 20_000


def test_ended_is_final_and_scheduled_cannot_pause() -> None:
    ended = transition(ShowTimes(S.SCHEDULED), S.ENDED, 5)
    for wanted in S:
        with pytest.raises(InvalidTransition):
            transition(ended, wanted, 6)
    with pytest.raises(InvalidTransition):
        transition(ShowTimes(S.SCHEDULED), S.PAUSED, 5)


def test_repeating_a_state_changes_nothing() -> None:
    live = transition(ShowTimes(S.SCHEDULED), S.LIVE, 1_000)
    assert transition(live, S.LIVE, 9_000) == live  # a replaced publisher loses no time
    paused = transition(live, S.PAUSED, 2_000)
    assert transition(paused, S.PAUSED, 7_000) == paused  # the grace counts from the first


def test_pause_outlasts_the_grace_only_when_paused() -> None:
    live = transition(ShowTimes(S.SCHEDULED), S.LIVE, 0)
    assert not pause_outlasted(live, 10**9, 300_000)
    paused = transition(live, S.PAUSED, 1_000)
    assert not pause_outlasted(paused, 300_999, 300_000)
    assert pause_outlasted(paused, 301_000, 300_000)


steps = st.lists(
    st.tuples(st.sampled_from([S.LIVE, S.PAUSED, S.ENDED]), st.integers(0, 60_000)), max_size=30
)


@given(steps)
def test_on_air_time_is_the_sum_of_live_stretches(plan: list[tuple[S, int]]) -> None:
    """Whatever the order of steps, the playhead equals the time spent live, never runs
    backwards, and only ended refuses further steps."""
    times, now, expected, live_since = ShowTimes(S.SCHEDULED), 0, 0, None
    last_position = 0
    for wanted, gap in plan:
        now += gap
        if times.status is S.ENDED or (times.status is S.SCHEDULED and wanted is S.PAUSED):
            with pytest.raises(InvalidTransition):
                transition(times, wanted, now)
            continue
        if live_since is not None and wanted is not S.LIVE:
            expected += now - live_since
            live_since = None
        elif live_since is None and wanted is S.LIVE:
            live_since = now
        times = transition(times, wanted, now)
        position = media_position_ms(times, now)
        if position is not None:
            running = expected + (now - live_since if live_since is not None else 0)
            assert position == running
            assert position >= last_position
            last_position = position


@pytest.mark.parametrize("given", [1e20, float("inf"), float("nan"), -1.0, 7 * 24 * 3600 + 1])
def test_a_media_ts_out_of_range_is_refused_before_any_arithmetic(given: float) -> None:
    """Issue 12 finding 6: ``media_ts`` 1e20 overflowed into a 500 after the pin was saved."""
    live = transition(ShowTimes(S.SCHEDULED), S.LIVE, 0)
    with pytest.raises(InvalidInput):
        moment_media_ts(live, 1_000, given)


def test_a_moment_without_media_ts_is_stamped_in_on_air_time() -> None:
    live = transition(ShowTimes(S.SCHEDULED), S.LIVE, 0)
    assert moment_media_ts(live, 12_500, None) == 12.5
    assert moment_media_ts(live, 12_500, 3.0) == 3.0
    assert moment_media_ts(ShowTimes(S.SCHEDULED), 12_500, None) is None
