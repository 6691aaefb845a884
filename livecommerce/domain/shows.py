"""Show lifecycle rules: a show is scheduled, goes live with its broadcast, and ends once."""

from __future__ import annotations

from enum import StrEnum

from livecommerce.errors import InvalidTransition


class ShowStatus(StrEnum):
    SCHEDULED = "scheduled"  # announced, not broadcasting yet
    LIVE = "live"  # a publisher (or the demo source) is on air
    ENDED = "ended"  # over for good; its recording becomes the replay


TRANSITIONS: dict[ShowStatus, frozenset[ShowStatus]] = {
    ShowStatus.SCHEDULED: frozenset({ShowStatus.LIVE, ShowStatus.ENDED}),
    # live → live is a publisher reconnecting within the grace period
    ShowStatus.LIVE: frozenset({ShowStatus.LIVE, ShowStatus.ENDED}),
    ShowStatus.ENDED: frozenset(),
}


def next_status(current: ShowStatus, wanted: ShowStatus) -> ShowStatus:
    """Check a lifecycle step against the table; ended shows never come back."""
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(f"a {current} show cannot become {wanted}")
    return wanted
