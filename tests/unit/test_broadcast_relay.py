"""ShowFeed fan-out: shared packets, keyframe gate, rate-limited keyframe requests, drops."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import av
import pytest
from aiortc.mediastreams import MediaStreamError

from livecommerce.broadcast.ingest import is_keyframe
from livecommerce.broadcast.relay import VIDEO_QUEUE, ShowFeed

if TYPE_CHECKING:
    from livecommerce.broadcast.relay import EncodedPacket


def _packet(n: int, key: bool) -> EncodedPacket:
    packet = av.Packet(bytes([n % 256]) * 10)
    packet.pts = n * 3000
    packet.is_keyframe = key
    return packet


async def test_viewers_share_packets_from_first_keyframe() -> None:
    """Every video track gets the very same packet objects, starting at a keyframe."""
    feed = ShowFeed("s", keyframe_interval=1.0)
    requests: list[int] = []
    feed.attach_source(None, None, lambda: requests.append(1))
    a, b = feed.subscribe("video"), feed.subscribe("video")
    packets = [_packet(0, False), _packet(1, True), _packet(2, False)]
    for p in packets:
        feed.publish(p, "video")
    got_a = [await asyncio.wait_for(a.recv(), 1) for _ in range(2)]
    got_b = [await asyncio.wait_for(b.recv(), 1) for _ in range(2)]
    assert got_a == packets[1:]
    assert all(x is y for x, y in zip(got_a, got_b, strict=True))
    assert requests == [1]  # both viewers asked at first recv, rate-limited to one request
    a.stop()
    b.stop()
    assert feed.viewer_tracks == 0


async def test_keyframe_requests_are_deferred_not_lost() -> None:
    """A request inside the interval is sent once when the interval has passed."""
    feed = ShowFeed("s", keyframe_interval=0.1)
    requests: list[float] = []
    loop = asyncio.get_running_loop()
    feed.attach_source(None, None, lambda: requests.append(loop.time()))
    feed.request_keyframe()
    feed.request_keyframe()
    feed.request_keyframe()
    await asyncio.sleep(0.25)
    assert len(requests) == 2
    assert requests[1] - requests[0] >= 0.09
    feed.close()


async def test_slow_video_viewer_is_flushed_and_regated() -> None:
    """A viewer whose queue is full drops its backlog and waits for the next keyframe."""
    feed = ShowFeed("s", keyframe_interval=0.0)
    requests: list[int] = []
    feed.attach_source(None, None, lambda: requests.append(1))
    track = feed.subscribe("video")
    feed.publish(_packet(0, True), "video")
    for n in range(1, VIDEO_QUEUE + 5):
        feed.publish(_packet(n, False), "video")
    assert feed.stats.viewer_drops >= VIDEO_QUEUE - 1
    assert requests  # the source was asked for a keyframe
    feed.publish(_packet(999, True), "video")
    first = await asyncio.wait_for(track.recv(), 1)
    assert first.is_keyframe
    feed.close()


async def test_closing_the_feed_ends_tracks() -> None:
    """recv() on a track of a closed feed raises instead of hanging."""
    feed = ShowFeed("s")
    track = feed.subscribe("audio")
    feed.close()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(track.recv(), 1)


def test_keyframe_detection() -> None:
    """H.264 IDR/SPS and VP8 key frames are recognised; deltas are not."""
    assert is_keyframe("H264", b"\x00\x00\x00\x01\x67abc\x00\x00\x00\x01\x68x\x00\x00\x01\x65y")
    assert not is_keyframe("H264", b"\x00\x00\x00\x01\x41abc")
    assert is_keyframe("VP8", b"\x10\x02\x00")
    assert not is_keyframe("VP8", b"\x11\x02\x00")
    assert is_keyframe("opus", b"\x01")
