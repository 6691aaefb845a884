"""The one coalescing helper behind stock, auction, group, drop and giveaway announcements."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from livecommerce.errors import StoreUnavailable
from livecommerce.services.throttle import Throttle

INTERVAL = 0.05


class Sends:
    def __init__(self, slow: float = 0.0) -> None:
        self.got: list[tuple[str, int, float]] = []
        self.slow = slow

    async def __call__(self, key: str, value: int) -> None:
        self.got.append((key, value, time.monotonic()))
        await asyncio.sleep(self.slow)


async def test_a_quiet_key_sends_at_once_and_a_burst_collapses_into_one_later_send() -> None:
    sends = Sends()
    throttle = Throttle(INTERVAL, sends, keep=min)
    start = time.monotonic()
    await throttle.changed("a", 10)
    assert [("a", 10)] == [(k, v) for k, v, _ in sends.got]
    for left in (9, 7, 8):  # out of order: `keep` picks the lowest
        await throttle.changed("a", left)
    await throttle.changed("b", 3)  # another key is not held back by "a"
    assert [("a", 10), ("b", 3)] == [(k, v) for k, v, _ in sends.got]
    await asyncio.sleep(INTERVAL * 3)
    assert [("a", 10), ("b", 3), ("a", 7)] == [(k, v) for k, v, _ in sends.got]
    assert sends.got[2][2] - start >= INTERVAL * 0.9
    await throttle.aclose()


async def test_a_change_during_a_send_goes_out_after_it() -> None:
    sends = Sends(slow=INTERVAL * 2)
    throttle = Throttle(INTERVAL, sends)
    await throttle.changed("a", 1)
    await throttle.changed("a", 2)  # waits for the interval
    await asyncio.sleep(INTERVAL * 1.5)  # "a"=2 is being sent (slowly) now
    await throttle.changed("a", 3)
    await asyncio.sleep(INTERVAL * 6)
    assert [1, 2, 3] == [v for _, v, _ in sends.got]
    await throttle.aclose()


async def test_flush_sends_the_pending_change_now_and_nothing_twice() -> None:
    sends = Sends()
    throttle = Throttle(INTERVAL, sends)
    await throttle.changed("a", 1)
    await throttle.changed("a", 2)
    await throttle.flush("a")
    await throttle.flush("a")  # nothing pending: no send
    await asyncio.sleep(INTERVAL * 3)
    assert [1, 2] == [v for _, v, _ in sends.got]
    await throttle.aclose()


@pytest.mark.expected_traceback  # the failing send's, asserted below
async def test_changed_later_never_sends_inline_and_logs_a_failed_send(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    async def failing(key: str, value: int) -> None:
        calls.append(value)
        raise RuntimeError("the bus is down")

    throttle = Throttle(INTERVAL, failing, what="test.updated")
    with caplog.at_level(logging.ERROR, logger="livecommerce.services.throttle"):
        throttle.changed_later("a", 1)
        assert [] == calls
        await asyncio.sleep(INTERVAL)
    assert [1] == calls
    assert ["test.updated failed"] == [r.getMessage() for r in caplog.records]
    await throttle.aclose()


async def test_aclose_drops_what_is_waiting() -> None:
    sends = Sends()
    throttle = Throttle(INTERVAL, sends)
    await throttle.changed("a", 1)
    await throttle.changed("a", 2)
    await throttle.aclose()
    await asyncio.sleep(INTERVAL * 2)
    assert [1] == [v for _, v, _ in sends.got]


async def test_a_store_away_is_a_warning_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def away(key: str, value: int) -> None:
        raise StoreUnavailable("inventory store unavailable")

    throttle = Throttle(INTERVAL, away, what="test.updated")
    with caplog.at_level(logging.WARNING, logger="livecommerce.services.throttle"):
        throttle.changed_later("a", 1)
        await asyncio.sleep(INTERVAL)
    assert [("WARNING", None)] == [(r.levelname, r.exc_info) for r in caplog.records]
    assert "inventory store unavailable" in caplog.records[0].getMessage()
    await throttle.aclose()
