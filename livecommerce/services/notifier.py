"""The notification worker: turns outbox events into notifications and delivers them on each
channel, with retries, preferences and quiet hours.

Two steps, each on rows claimed with a lease (see ``NotificationStore``), so any number of
workers on any number of nodes share the work and a killed one's rows are taken over when its
lease runs out:

1. Fan-out. A claimed event's recipients are read in pages (``show.live``: the seller's
   followers, then the show's RSVPs; a reminder: the RSVPs; the others name their recipients)
   and each page is written in one transaction with the event's progress, so a successor resumes
   after the last page written. A follower who also RSVP'd gets one notification: its id is
   derived from (event, user). This runs here, never in the request that made the show live.
2. Delivery. Claimed (notification, channel) rows are sent and each outcome is recorded at once
   (only while the claim holds). In-app deliveries of a batch are recorded together first and
   then announced (``notification.new`` on the bus, relayed to the ``user:{id}`` room); e-mail
   and push are sent one after the other, each recorded right after its send, so a worker
   killed mid-batch leaves recorded ones alone and its successor sends only the rest. The one
   window left is between a send and its record: the e-mail's Message-ID and the push Topic are
   the delivery's own, so a repeat there is recognisable downstream.

Preferences are read per batch; a switched-off delivery is ``skipped``; e-mail and push inside
the user's quiet hours wait (``next_at`` = the window's end, no attempt counted). A failure
waits ``backoff_ms(attempts)`` and is given up (``failed``) after ``max_attempts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from livecommerce.domain.notifications import (
    REMINDER_LEAD_MS,
    TOPIC_KINDS,
    Channel,
    Content,
    DeliveryStatus,
    Kind,
    backoff_ms,
    content,
    recipients_of,
    show_reminder_event,
)
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import InvalidInput, StoreUnavailable
from livecommerce.faults import fault_point
from livecommerce.services.follows import FollowService
from livecommerce.services.notifications import NotificationService
from livecommerce.services.ports import (
    Bus,
    ClaimedDelivery,
    ClaimedEvent,
    Clock,
    DeliveryOutcome,
    Mailer,
    NotificationStore,
    PushSender,
)
from livecommerce.services.preferences import PreferenceService, quiet_hours, quiet_until
from livecommerce.services.rsvps import RsvpService
from livecommerce.services.shows import ShowService

log = logging.getLogger(__name__)

#: Announcements between two yields to the event loop during a big fan-out.
YIELD_EVERY = 50


@dataclass(frozen=True, slots=True)
class NotifierOptions:
    base_url: str
    #: Recipients written per fan-out transaction, and deliveries claimed per batch.
    batch: int = 500
    lease_ms: int = 60_000
    retry_base_ms: int = 5_000
    retry_max_ms: int = 3_600_000
    max_attempts: int = 8


def wire(notification_id: str, kind: Kind, words: Content, created_at: int) -> dict[str, Any]:
    """``notification.new`` and the push payload: one shape for every channel."""
    return {
        "id": notification_id,
        "kind": str(kind),
        "title": words.title,
        "body": words.body,
        "url": words.url,
        "created_at": datetime.fromtimestamp(created_at / 1000, UTC).isoformat(),
    }


class Notifier:
    def __init__(
        self,
        store: NotificationStore,
        preferences: PreferenceService,
        notifications: NotificationService,
        follows: FollowService,
        rsvps: RsvpService,
        shows: ShowService,
        bus: Bus,
        mailer: Mailer,
        push: PushSender,
        clock: Clock,
        options: NotifierOptions,
    ) -> None:
        self._store = store
        self._preferences = preferences
        self._notifications = notifications
        self._follows = follows
        self._rsvps = rsvps
        self._shows = shows
        self._bus = bus
        self._mailer = mailer
        self._push = push
        self._clock = clock
        self._options = options
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was written to the outbox here: do not wait for the next poll."""
        self._wake.set()

    async def run(self, poll_seconds: float) -> None:
        """Work until cancelled: as long as there is work, back to back; then every poll."""
        while True:
            try:
                busy = await self.run_once()
            except StoreUnavailable as exc:  # an outage: the next poll retries, no traceback
                log.warning("notification worker skipped a pass: %s", exc)
                busy = False
            except Exception:
                log.exception("notification worker pass failed")
                busy = False
            if not busy:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll_seconds)

    async def run_once(self) -> bool:
        """One fan-out pass and one delivery batch; True when either found work."""
        expanded = await self.expand()
        delivered = await self.deliver()
        return expanded > 0 or delivered > 0

    # -- reminders -------------------------------------------------------------------------------
    async def remind(self) -> int:
        """Write the reminder of every scheduled show starting within the lead time (once per
        show: the outbox key is the show's). Shows already past their start are left alone."""
        now = self._clock.now_ms()
        due = [
            show
            for show in await self._shows.list([ShowStatus.SCHEDULED])
            if show.scheduled_at is not None and now <= show.scheduled_at <= now + REMINDER_LEAD_MS
        ]
        if due:
            await self._store.add_events(
                [show_reminder_event(s.id, s.title, s.scheduled_at or 0, now) for s in due]
            )
            self.wake()
        return len(due)

    # -- fan-out ---------------------------------------------------------------------------------
    async def expand(self) -> int:
        """Fan out the claimed events completely; the number of notifications written."""
        opts = self._options
        written = 0
        for event in await self._store.claim_events(self._clock.now_ms(), opts.lease_ms, 10):
            kind = TOPIC_KINDS.get(event.topic)
            if kind is None:
                await self._store.finish_event(event, self._clock.now_ms())
                continue
            words = content(kind, event.payload)
            async for progress, users in self._recipients(event):
                rows = [(user_id, words, kind) for user_id in users]
                if not await self._store.expand(
                    event, rows, progress, self._clock.now_ms(), opts.lease_ms
                ):
                    break  # the lease was lost: whoever holds it now carries on
                written += len(rows)
            else:
                await self._store.finish_event(event, self._clock.now_ms())
        return written

    async def _recipients(self, event: ClaimedEvent) -> AsyncIterator[tuple[str, list[str]]]:
        """(progress after the page, the page's user ids), resuming after ``event.progress``."""
        stage, _, after = event.progress.partition(":")
        payload = event.payload
        if event.topic not in ("show.live", "show.reminder"):
            if not stage:
                yield "done:", recipients_of(event.topic, payload)
            return
        show_id = str(payload["show_id"])
        if event.topic == "show.live" and stage in ("", "followers"):
            async for page in self._follows.followers(
                str(payload["seller_id"]), self._options.batch, after or None
            ):
                yield f"followers:{page[-1]}", page
            stage, after = "rsvps", ""
        if stage in ("", "rsvps"):
            last = after or None
            while True:
                page = await self._rsvps.users_page(show_id, last, self._options.batch)
                if not page:
                    return
                yield f"rsvps:{page[-1]}", page
                if len(page) < self._options.batch:
                    return
                last = page[-1]

    # -- delivery --------------------------------------------------------------------------------
    async def deliver(self) -> int:
        """Claim one batch of due deliveries and settle every one; how many were claimed."""
        opts = self._options
        now_ms = self._clock.now_ms()
        batch = await self._store.claim_deliveries(now_ms, opts.lease_ms, opts.batch)
        if not batch:
            return 0
        prefs = await self._preferences.many([d.notification.user_id for d in batch])
        now = datetime.fromtimestamp(now_ms / 1000, UTC)
        settled: list[DeliveryOutcome] = []  # decided without sending: in-app, off, held
        outside: list[ClaimedDelivery] = []
        for d in batch:
            mine = prefs[d.notification.user_id]
            if not mine.allows(d.notification.kind, d.channel):
                settled.append(self._settled(d, DeliveryStatus.SKIPPED))
            elif d.channel is Channel.IN_APP:
                settled.append(self._settled(d, DeliveryStatus.SENT))
            else:
                try:
                    until = quiet_until(quiet_hours(mine), now)
                except InvalidInput:
                    until = None  # a zone the system lost since it was saved: no window
                if until is not None:
                    settled.append(self._held(d, int(until.timestamp() * 1000)))
                else:
                    outside.append(d)
        written = set(await self._store.record(settled, now_ms))
        shown = {o.id for o in settled if o.status is DeliveryStatus.SENT} & written
        announced = 0
        for d in batch:
            if d.id in shown:  # in-app, recorded under our claim: announce it once
                n = d.notification
                payload = wire(n.id, n.kind, Content(n.title, n.body, n.url), n.created_at)
                await self._bus.publish(
                    "notification.new", {"user_id": n.user_id, "notification": payload}
                )
                announced += 1
                if announced % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # a live show's chat shares this loop
        for index, d in enumerate(outside):
            await self._store.record([await self._send(d)], self._clock.now_ms())
            if index == 0 and len(outside) > 1:
                fault_point("notify.mid_batch")
        return len(batch)

    def _settled(self, d: ClaimedDelivery, status: DeliveryStatus) -> DeliveryOutcome:
        return DeliveryOutcome(d.id, d.claim, status, d.attempts, self._clock.now_ms())

    def _held(self, d: ClaimedDelivery, until_ms: int) -> DeliveryOutcome:
        return DeliveryOutcome(d.id, d.claim, DeliveryStatus.PENDING, d.attempts, until_ms)

    async def _send(self, d: ClaimedDelivery) -> DeliveryOutcome:
        n = d.notification
        words = Content(n.title, n.body, n.url)
        try:
            if d.channel is Channel.EMAIL:
                if not self._mailer.enabled or not d.email:
                    return self._settled(d, DeliveryStatus.SKIPPED)
                await self._mailer.send(
                    to=d.email,
                    name=d.name,
                    kind=n.kind,
                    content=words,
                    base_url=self._options.base_url,
                    unsubscribe_url=self._notifications.unsubscribe_url(n.user_id, n.kind),
                    message_id=f"{n.id}.email",
                )
                return self._settled(d, DeliveryStatus.SENT)
            subs = await self._store.subscriptions(n.user_id)
            if not subs:
                return self._settled(d, DeliveryStatus.SKIPPED)
            data = wire(n.id, n.kind, words, n.created_at)
            for sub in subs:
                if not await self._push.send(sub, data, topic=n.id.removeprefix("ntf_")):
                    await self._store.drop_endpoint(sub.endpoint)
            return self._settled(d, DeliveryStatus.SENT)
        except Exception as exc:  # any failure of a send is retried, then given up
            attempts = d.attempts + 1
            opts = self._options
            log.warning(
                "notification delivery failed (attempt %d): %s",
                attempts,
                type(exc).__name__,
                extra={"delivery": d.id},
            )
            status = (
                DeliveryStatus.FAILED if attempts >= opts.max_attempts else DeliveryStatus.PENDING
            )
            wait = backoff_ms(attempts, opts.retry_base_ms, opts.retry_max_ms)
            return DeliveryOutcome(
                d.id,
                d.claim,
                status,
                attempts,
                self._clock.now_ms() + wait,
                type(exc).__name__,
            )
