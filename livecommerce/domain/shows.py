"""Show lifecycle rules: ``scheduled → live ⇄ paused → ended``, and the show's own clock.

A seller's connection is not the show: a reload, a Wi-Fi drop or a WHIP ``DELETE`` only pauses
it, and only an explicit end (or a pause that outlasts the reconnect grace) ends it. The show
keeps the time it has been on air (``live_ms`` plus the current live stretch), which is the
position of the replay's playhead: pauses are not recorded, so the shoppable timeline stamps
moments in on-air time, never in wall time since the start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from livecommerce.errors import InvalidInput, InvalidTransition


class ShowStatus(StrEnum):
    SCHEDULED = "scheduled"  # announced, not broadcasting yet
    LIVE = "live"  # a publisher (or the demo source) is on air
    PAUSED = "paused"  # the publisher is gone for now; chat and offers go on
    ENDED = "ended"  # over for good; its recording becomes the replay


TRANSITIONS: dict[ShowStatus, frozenset[ShowStatus]] = {
    ShowStatus.SCHEDULED: frozenset({ShowStatus.LIVE, ShowStatus.ENDED}),
    # live → live is a new publisher replacing a dead session of the same show
    ShowStatus.LIVE: frozenset({ShowStatus.LIVE, ShowStatus.PAUSED, ShowStatus.ENDED}),
    ShowStatus.PAUSED: frozenset({ShowStatus.LIVE, ShowStatus.PAUSED, ShowStatus.ENDED}),
    ShowStatus.ENDED: frozenset(),
}

#: Statuses in which the show is on (viewers may be waiting, offers may sell).
OPEN = frozenset({ShowStatus.LIVE, ShowStatus.PAUSED})


@dataclass(frozen=True, slots=True)
class ShowTimes:
    """The lifecycle part of a show, in epoch milliseconds."""

    status: ShowStatus
    started_at: int | None = None  # first went live
    ended_at: int | None = None
    paused_at: int | None = None  # the current pause began (None unless paused)
    live_ms: int = 0  # on-air time before the current live stretch
    live_since: int | None = None  # the current live stretch began (None unless live)


def next_status(current: ShowStatus, wanted: ShowStatus) -> ShowStatus:
    """Check a lifecycle step against the table; ended shows never come back."""
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(f"a {current} show cannot become {wanted}")
    return wanted


def _on_air_until(times: ShowTimes, now_ms: int) -> int:
    """``live_ms`` with the current live stretch (if any) counted up to ``now_ms``."""
    if times.live_since is None:
        return times.live_ms
    return times.live_ms + max(0, now_ms - times.live_since)


def transition(times: ShowTimes, wanted: ShowStatus, now_ms: int) -> ShowTimes:
    """The show after one lifecycle step at ``now_ms`` (InvalidTransition if not allowed).

    Repeating the current state is a no-op, except live → live, which keeps the clock running
    (a publisher replaced mid-stretch loses no on-air time).
    """
    next_status(times.status, wanted)
    if wanted is times.status:
        return times
    on_air = _on_air_until(times, now_ms)
    if wanted is ShowStatus.LIVE:
        return replace(
            times,
            status=wanted,
            started_at=times.started_at if times.started_at is not None else now_ms,
            paused_at=None,
            live_ms=on_air,
            live_since=now_ms,
        )
    if wanted is ShowStatus.PAUSED:
        return replace(times, status=wanted, paused_at=now_ms, live_ms=on_air, live_since=None)
    # ENDED
    return replace(
        times, status=wanted, ended_at=now_ms, paused_at=None, live_ms=on_air, live_since=None
    )


def media_position_ms(times: ShowTimes, now_ms: int) -> int | None:
    """Where the show's recording is at ``now_ms``: its on-air time (None before it started)."""
    if times.started_at is None:
        return None
    return _on_air_until(times, now_ms)


#: The longest a show's media clock can run (seconds): a client's ``media_ts`` beyond it is
#: refused before any arithmetic (1e20 overflowed on the way to milliseconds).
MAX_MEDIA_TS = 7 * 24 * 3600.0


def moment_media_ts(times: ShowTimes, now_ms: int, given: float | None) -> float | None:
    """The media timestamp (seconds) of a moment in the show: the studio player's position when
    the client sends one, else the on-air time, which is where the replay's playhead will be."""
    if given is not None:
        if not 0 <= given <= MAX_MEDIA_TS:  # also refuses NaN
            raise InvalidInput(f"media_ts must be between 0 and {MAX_MEDIA_TS:.0f} seconds")
        return given
    position = media_position_ms(times, now_ms)
    return None if position is None else position / 1000


def pause_outlasted(times: ShowTimes, now_ms: int, grace_ms: int) -> bool:
    """Whether a paused show has waited longer than the reconnect grace and must end."""
    return (
        times.status is ShowStatus.PAUSED
        and times.paused_at is not None
        and now_ms - times.paused_at >= grace_ms
    )
