"""The per-show outbox: the adaptive coalescing window and the join barrier, with a recording
emitter (and a fake clock where the window is judged)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from livecommerce.hub.outbox import ShowOutbox

Sent = list[tuple[str, str, Any, list[str]]]


def line(seq: int) -> dict[str, Any]:
    return {"id": f"m{seq}", "seq": seq, "text": str(seq)}


def make(
    sent: Sent,
    coalesce_above: float = 100,
    interval: float = 0.05,
    audience: int = 1,
    clock: Callable[[], float] = time.monotonic,
) -> ShowOutbox:
    def room(event: str, data: dict[str, Any], _lines: list[Any], skip: list[str]) -> None:
        sent.append(("room", event, data, skip))

    async def one(event: str, data: dict[str, Any], sid: str) -> None:
        sent.append(("sid", event, data, [sid]))

    return ShowOutbox(
        "s",
        room,
        one,
        coalesce_above=coalesce_above,
        interval=interval,
        deliveries_above=1000,
        full_deliveries=4000,
        audience=lambda: audience,
        clock=clock,
    )


async def test_quiet_show_sends_one_message_per_line() -> None:
    """Below the threshold every line is its own chat.message; duplicates are dropped."""
    sent: Sent = []
    box = make(sent)
    await box.deliver(line(1))
    await box.deliver(line(1))
    await box.deliver(line(2))
    assert [(e, d["seq"]) for _, e, d, _ in sent] == [("chat.message", 1), ("chat.message", 2)]


async def test_busy_show_batches_in_order() -> None:
    """Above the threshold lines are queued and flushed together as chat.batch."""
    sent: Sent = []
    box = make(sent, coalesce_above=2, audience=1000)
    for seq in range(1, 7):
        await box.deliver(line(seq))
    await asyncio.sleep(0.1)
    delivered = [
        m["seq"] for _, e, d, _ in sent for m in (d["messages"] if e == "chat.batch" else [d])
    ]
    assert delivered == [1, 2, 3, 4, 5, 6]
    assert sent[-1][1] == "chat.batch"
    await box.close()


async def test_join_barrier_no_gap_no_duplicate() -> None:
    """Lines emitted while a client joins go into its ack once and are not sent live again."""
    sent: Sent = []
    box = make(sent)
    box.begin_join("j")
    await box.deliver(line(5))  # arrives while the joiner reads history
    assert sent[-1][3] == ["j"]  # the room emit skipped the joiner
    ack = box.finish_join("j", [line(4), line(5)], None)
    assert [m["seq"] for m in ack] == [4, 5]
    await box.deliver(line(6))
    assert sent[-1][3] == []  # caught up: the joiner gets new lines with everyone
    late = {"id": "m3b", "seq": 3, "text": "late from another node"}
    await box.deliver(late)
    assert sent[-1][3] == ["j"]  # older than what the ack carried: not sent to the joiner


async def test_join_barrier_adds_lines_missing_from_history() -> None:
    """A line the history read missed but the room saw is appended to the ack."""
    sent: Sent = []
    box = make(sent)
    box.begin_join("j")
    await box.deliver(line(8))
    ack = box.finish_join("j", [line(7)], 6)
    assert [m["seq"] for m in ack] == [7, 8]


async def test_gap_floor_is_below_the_first_line_not_delivered() -> None:
    """A gap fill reads after the first seq this node never delivered (another node's line lost
    while the fan-out was down), not after the highest seq it delivered."""
    box = make([])
    assert 0 == box.gap_floor(500)
    for seq in (7, 8, 10, 11):  # the node started watching at 7; 9 came from another node
        await box.deliver(line(seq))
    assert (8, 11) == (box.gap_floor(500), box.max_seq)
    await box.deliver(line(9))
    assert 11 == box.gap_floor(500)
    await box.deliver(line(40))
    assert 11 == box.gap_floor(500)
    assert 35 == box.gap_floor(5)  # only the last `span` seqs are looked back over


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_is_zero_when_quiet_and_grows_with_deliveries() -> None:
    """0 at or below both thresholds, then in proportion to lines x viewers per second, capped
    at the longest interval."""
    box = make([], coalesce_above=10, interval=0.1)
    assert (0.0, 0.0) == (box.window_for(10, 100), box.window_for(1, 1000))
    assert abs(0.1 * 1100 / 4000 - box.window_for(11, 100)) < 1e-12  # busy by line rate
    assert abs(0.1 * 2002 / 4000 - box.window_for(2, 1001)) < 1e-12  # busy by audience
    assert 0.1 == box.window_for(20, 5000)  # 100,000/s: the longest window


async def test_quiet_show_lines_leave_at_once_busy_show_batches_after_the_window() -> None:
    """A quiet show's lines go out the moment they arrive; once lines x viewers pass the
    threshold the next lines wait out the window and leave together as one chat.batch."""
    clock = FakeClock()
    sent: Sent = []
    box = make(sent, coalesce_above=2, interval=0.05, audience=500, clock=clock)
    for seq in (1, 2):  # 2 lines/s x 500 viewers: quiet
        await box.deliver(line(seq))
        clock.now += 0.4
    assert [("chat.message", 1), ("chat.message", 2)] == [(e, d["seq"]) for _, e, d, _ in sent]
    assert 0.0 == box.window
    clock.now += 2.0
    sent.clear()
    for seq in (3, 4, 5, 6):  # 4 lines/s x 500 viewers: half the longest window
        await box.deliver(line(seq))
        clock.now += 0.001
    assert 0.025 == box.window
    # 3 and 4 came while the show was still quiet (≤ 2 lines in the last second)
    assert [("chat.message", 3), ("chat.message", 4)] == [(e, d["seq"]) for _, e, d, _ in sent]
    await asyncio.sleep(0.1)  # the window, counted from the last packet, has passed
    assert ["chat.message", "chat.message", "chat.batch"] == [e for _, e, _, _ in sent]
    assert [5, 6] == [m["seq"] for m in sent[2][2]["messages"]]
    await box.close()
