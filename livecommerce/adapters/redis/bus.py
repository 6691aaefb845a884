"""Redis adapters for many nodes: pub/sub bus and a sliding-window rate limiter in one Lua
script.

The bus delivers to this node's subscribers directly and to other nodes through Redis, so a
Redis outage degrades a node to single-node behaviour instead of stopping it; the listener
reconnects by itself when Redis returns. The messages published in one event-loop tick go out
in one pipeline (a flash sale announces a hundred orders at once; one connection each made the
pool open dozens more, at ~2 ms of CPU apiece).

On a Redis Cluster the bus keeps classic pub/sub, which the cluster forwards to every node: it
listens on a pattern (sharded channels have none) and carries little (show state, key
rotations); the heavy per-show traffic is the hub's fan-out, which shards. redis-py refuses
PUBLISH in a cluster pipeline, so there a tick's messages go out one after another (in order:
a show's `paused` must not overtake its `live`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from livecommerce.adapters.memory.bus import deliver
from livecommerce.adapters.redis.client import FAILURES, RedisClient, is_cluster
from livecommerce.ids import new_id
from livecommerce.services.batching import DEFAULT_BATCH_MAX, TickBatcher
from livecommerce.services.ports import BusHandler

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "lc:bus:"


class RedisBus:
    def __init__(self, client: RedisClient, *, batch_max: int = DEFAULT_BATCH_MAX) -> None:
        self._client = client
        self._node = new_id("node")
        self._handlers: defaultdict[str, list[BusHandler]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None
        self._outbox: TickBatcher[tuple[str, str], None] = TickBatcher(self._send, batch_max)

    def subscribe(self, topic: str, handler: BusHandler) -> None:
        self._handlers[topic].append(handler)

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        await deliver(list(self._handlers.get(topic, ())), topic, payload)
        message = json.dumps({"node": self._node, "payload": payload})
        await self._outbox.submit((CHANNEL_PREFIX + topic, message))

    async def _send(self, messages: list[tuple[str, str]]) -> list[Exception | None]:
        try:
            if is_cluster(self._client):
                for channel, message in messages:
                    await self._client.publish(channel, message)
            else:
                async with self._client.pipeline(transaction=False) as pipe:
                    for channel, message in messages:
                        pipe.publish(channel, message)
                    await pipe.execute()
        except FAILURES:
            log.warning(
                "bus publish to redis failed; delivered on this node only",
                extra={"topics": sorted({c.removeprefix(CHANNEL_PREFIX) for c, _ in messages})},
            )
        return [None] * len(messages)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Listen for other nodes' events while the context is open."""
        self._task = asyncio.create_task(self._listen(), name="redis-bus")
        try:
            yield
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                backoff = 0.1
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    await self._dispatch(message["channel"], message["data"])
            except FAILURES:
                log.warning("bus listener lost redis; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                with contextlib.suppress(*FAILURES):
                    await pubsub.aclose()

    async def _dispatch(self, channel: str, data: str) -> None:
        try:
            envelope = json.loads(data)
        except ValueError:
            return
        if envelope.get("node") == self._node:
            return
        topic = channel.removeprefix(CHANNEL_PREFIX)
        await deliver(list(self._handlers.get(topic, ())), topic, envelope.get("payload", {}))
