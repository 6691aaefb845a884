"""Per-user notification preferences: one switch per kind and channel, a quiet-hours window in
the user's own time zone, and ``answer_buyer_questions`` (whether other shoppers may ask this
user about things they bought; stored here for that feature to read through ``get``).

Users who never saved anything have the defaults: every switch on, no quiet hours,
``answer_buyer_questions`` off. The notifier reads them in bulk (``many``) once per batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from livecommerce.domain.access import Action, Principal, authorize
from livecommerce.domain.notifications import (
    Channel,
    Kind,
    Preferences,
    apply_switches,
)
from livecommerce.errors import InvalidInput
from livecommerce.services.ports import Clock, NotificationStore

#: IANA names are at most this long (the longest today is 32).
TIMEZONE_MAX = 64


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window in the user's own time zone in which e-mail and push wait (in-app not).
    ``start > end`` spans midnight (22:00-07:00)."""

    start: time
    end: time
    timezone: tzinfo


def quiet_until(quiet: QuietHours | None, now: datetime) -> datetime | None:
    """When the window containing ``now`` (aware) ends, or None when ``now`` is outside it."""
    if quiet is None or quiet.start == quiet.end:
        return None
    local = now.astimezone(quiet.timezone)
    t = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside = quiet.start <= t < quiet.end
        end_day = local.date()
    else:
        inside = t >= quiet.start or t < quiet.end
        end_day = local.date() + timedelta(days=1) if t >= quiet.start else local.date()
    if not inside:
        return None
    end = datetime.combine(end_day, quiet.end, tzinfo=quiet.timezone)
    return end.astimezone(UTC)


def parse_clock(value: str, name: str) -> time:
    """``HH:MM`` (24 h) as a time; InvalidInput otherwise."""
    try:
        hours, minutes = value.split(":")
        if len(hours) != 2 or len(minutes) != 2:
            raise ValueError(value)
        return time(int(hours), int(minutes))
    except ValueError:
        raise InvalidInput(f"{name}: a time as HH:MM (00:00 to 23:59)") from None


def timezone_of(name: str) -> tzinfo:
    """The IANA time zone; InvalidInput for a name the system's tz database lacks."""
    if not name or len(name) > TIMEZONE_MAX or name.startswith(("/", ".")) or ".." in name:
        raise InvalidInput("quiet_hours.timezone: an IANA time zone such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"quiet_hours.timezone: unknown time zone {name!r}") from None


def quiet_hours(prefs: Preferences) -> QuietHours | None:
    if not (prefs.quiet_start and prefs.quiet_end and prefs.timezone):
        return None
    return QuietHours(
        parse_clock(prefs.quiet_start, "start"),
        parse_clock(prefs.quiet_end, "end"),
        timezone_of(prefs.timezone),
    )


class PreferenceService:
    def __init__(self, store: NotificationStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def get(self, user_id: str) -> Preferences:
        """A user's preferences (the defaults when they never saved any)."""
        return (await self._store.preferences([user_id])).get(user_id, Preferences())

    async def many(self, user_ids: list[str]) -> dict[str, Preferences]:
        found = await self._store.preferences(sorted(set(user_ids)))
        return {user_id: found.get(user_id, Preferences()) for user_id in user_ids}

    async def mine(self, principal: Principal | None) -> Preferences:
        caller = authorize(principal, Action.FOLLOW)
        return await self.get(caller.user_id)

    async def update(
        self,
        principal: Principal | None,
        *,
        kinds: dict[str, dict[str, bool]] | None = None,
        quiet: tuple[str, str, str] | None = None,
        clear_quiet: bool = False,
        answer_buyer_questions: bool | None = None,
    ) -> Preferences:
        """Change what is given, keep the rest. ``quiet`` is (start, end, timezone) as
        ``HH:MM``, ``HH:MM`` and an IANA name; ``clear_quiet`` removes the window."""
        caller = authorize(principal, Action.FOLLOW)
        prefs = await self.get(caller.user_id)
        if kinds:
            prefs = apply_switches(prefs, kinds)
        if clear_quiet:
            prefs = replace(prefs, quiet_start=None, quiet_end=None, timezone=None)
        elif quiet is not None:
            start, end, zone = quiet
            parse_clock(start, "quiet_hours.start")
            parse_clock(end, "quiet_hours.end")
            timezone_of(zone)
            prefs = replace(prefs, quiet_start=start, quiet_end=end, timezone=zone)
        if answer_buyer_questions is not None:
            prefs = replace(prefs, answer_buyer_questions=answer_buyer_questions)
        await self._store.save_preferences(caller.user_id, prefs, self._clock.now_ms())
        return prefs

    async def unsubscribe(self, user_id: str, kind: Kind) -> Preferences:
        """Turn e-mail off for one kind (the one-click link of that kind's e-mails)."""
        prefs = (await self.get(user_id)).switched(kind, Channel.EMAIL, False)
        await self._store.save_preferences(user_id, prefs, self._clock.now_ms())
        return prefs
