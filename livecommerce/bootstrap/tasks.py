"""The process's periodic background work, started and stopped by the composition root: the
reservation expiry sweeper, the reconcile of payment events the provider could not deliver, the
reload of inventory pools after the inventory store restarted, the end of shows paused past the
reconnect grace, the close of auctions, giveaways, group buys and voucher drops a dead node left
due, the presence beat, the dashboard's viewer sampler and the sender of sellers' webhooks (the
hub's own loops start with the hub, the packagers with the broadcast plane)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from livecommerce.errors import PaymentGatewayError, StoreUnavailable
from livecommerce.services.container import Services
from livecommerce.settings import Settings

log = logging.getLogger(__name__)

#: How often the viewer count of each live show is sampled for the dashboard.
SAMPLE_SECONDS = 15.0
#: How often paused shows are checked against the reconnect grace (ends at most this late), and
#: voucher drops past their end that no node ended.
PAUSE_SWEEP_SECONDS = 1.0


async def _every(name: str, seconds: float, work: Callable[[], Awaitable[object]]) -> None:
    """Run ``work`` forever at this interval; one failing pass is logged, never fatal. A store
    or provider outage is an operational state the next pass retries, not a bug: one warning
    line, no traceback (which would bury real errors under one per pass for the outage)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except (StoreUnavailable, PaymentGatewayError) as exc:
            log.warning("background task skipped a pass: %s", exc, extra={"task": name})
        except Exception:
            log.exception("background task failed", extra={"task": name})


@contextlib.asynccontextmanager
async def background_tasks(settings: Settings, services: Services) -> AsyncIterator[None]:
    jobs: dict[str, tuple[float, Callable[[], Awaitable[object]]]] = {
        "expiry-sweeper": (settings.shop.sweep_interval_seconds, services.payments.sweep),
        # payments whose webhook never arrived (RB-06); a no-op without a signed-webhook provider
        "payment-reconcile": (
            settings.shop.reconcile_interval_seconds,
            services.payments.reconcile,
        ),
        # pools reloaded from SQL after the inventory store restarted (RB-07)
        "stock-resync": (settings.shop.sweep_interval_seconds, services.stock.resync),
        "viewer-sampler": (SAMPLE_SECONDS, services.analytics.sample_viewers),
        # who this node sees watching, to the shared presence store (docs/METRICS.md)
        "presence": (settings.hub.presence_heartbeat_seconds, services.presence.beat),
        "pause-sweeper": (PAUSE_SWEEP_SECONDS, services.lifecycle.end_outlasted_pauses),
        # auctions whose node died before its timer closed them (issue 14)
        "auction-closer": (settings.shop.auction_sweep_seconds, services.auctions.sweep),
        # giveaways due to close, or drawn without their prize orders (issue 15)
        "giveaway-closer": (settings.shop.giveaway_sweep_seconds, services.giveaways.sweep),
        # group buys whose node died before its timer closed them, or mid-capture (issue 15)
        "group-closer": (settings.shop.group_sweep_seconds, services.groups.sweep),
        # voucher drops whose node died before its timer ended them
        "drop-closer": (PAUSE_SWEEP_SECONDS, services.drops.sweep),
        # sellers' webhook deliveries that are due (leased: each attempt made by one node)
        "webhook-sender": (settings.webhooks.poll_interval_seconds, services.webhooks.deliver_due),
        # scheduled shows' 15-minutes-before reminders into the outbox (issue 16)
        "show-reminders": (settings.notify.reminder_sweep_seconds, services.notifier.remind),
    }
    tasks = [
        asyncio.create_task(_every(name, seconds, work), name=name)
        for name, (seconds, work) in jobs.items()
    ]
    if settings.notify.worker:  # the outbox's fan-out and deliveries (it polls and retries)
        worker = services.notifier.run(settings.notify.poll_seconds)
        tasks.append(asyncio.create_task(worker, name="notification-worker"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
