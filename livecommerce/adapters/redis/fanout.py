"""Redis adapters for the hub on many nodes: per-show pub/sub fan-out and presence counts.

Fan-out channels are ``lc:hub:show:{id}``; a node subscribes only to shows it has viewers of.
The listener owns its pub/sub connection in one task (subscription changes are queued to it)
and reconnects every half second while Redis is away, then resubscribes and asks the hub to
fill the gap from the store. Presence is one key per (show, node) with a TTL, so a crashed
node's viewers expire without anyone cleaning up, and no node's clock is trusted.

On a Redis Cluster the channels are sharded (`SSUBSCRIBE`/`SPUBLISH`, Redis >= 7): a show's
messages go only to the node that owns its channel's slot, instead of being forwarded over the
cluster bus to every node, so the cluster's pub/sub load spreads with the shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from redis import exceptions as redis_errors

from livecommerce.adapters.redis.client import FAILURES, RedisClient, is_cluster
from livecommerce.services.ports import FanoutHandler, ReconnectHandler

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "lc:hub:show:"
RETRY_SECONDS = 0.5
#: Longest a join waits for its show's subscription (Redis slow or away: do not hang).
WATCH_WAIT_SECONDS = 1.0
#: Events waiting to be published; beyond this (Redis away for long) new ones are dropped.
OUTGOING_MAX = 10_000
#: How often the listener pings Redis over its pub/sub connection, and how long it waits for
#: any answer before it holds the connection dead: a link that drops packets (a partition, a
#: dead switch) leaves the socket open and silent, and a subscriber only reads, so nothing
#: else would ever notice.
PING_SECONDS = 1.0
SILENT_SECONDS = 5.0
#: The ping's payload, to tell its answer from redis-py's own health checks.
PING_MESSAGE = "lc-fanout-alive"
#: Longest closing a dead connection may take.
CLOSE_SECONDS = 2.0


class RedisFanout:
    def __init__(self, client: RedisClient, node_id: str) -> None:
        self.node_id = node_id
        self._client = client
        self._watched: set[str] = set()
        self._changes: asyncio.Queue[tuple[bool, str]] = asyncio.Queue()
        self._on_message: FanoutHandler | None = None
        self._on_reconnect: ReconnectHandler | None = None
        self._task: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        # publishing goes through one queue and task: acks never wait on Redis, order is kept
        self._outgoing: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=OUTGOING_MAX)
        self.connected = asyncio.Event()
        self._gapfill: asyncio.Future[None] | None = None
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        self._sharded = is_cluster(client)

    def set_handlers(self, on_message: FanoutHandler, on_reconnect: ReconnectHandler) -> None:
        self._on_message = on_message
        self._on_reconnect = on_reconnect

    async def publish(self, show_id: str, envelope: dict[str, Any]) -> None:
        data = json.dumps({**envelope, "node": self.node_id}, separators=(",", ":"))
        try:
            self._outgoing.put_nowait((CHANNEL_PREFIX + show_id, data))
        except asyncio.QueueFull:
            log.warning("hub fan-out queue full; event delivered on this node only")

    async def _publish_loop(self) -> None:
        while True:
            batch = [await self._outgoing.get()]
            while not self._outgoing.empty() and len(batch) < 256:
                batch.append(self._outgoing.get_nowait())
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for channel, data in batch:
                        if self._sharded:
                            pipe.spublish(channel, data)
                        else:
                            pipe.publish(channel, data)
                    await pipe.execute()
            except FAILURES:
                log.warning(
                    "hub fan-out publish failed; %d events reached this node only", len(batch)
                )

    async def watch(self, show_id: str) -> None:
        if show_id in self._watched and show_id not in self._subscribing:
            return
        if show_id not in self._watched:
            self._watched.add(show_id)
            self._subscribing[show_id] = asyncio.get_running_loop().create_future()
            self._changes.put_nowait((True, show_id))
        waiter = self._subscribing.get(show_id)
        if waiter is not None and self.connected.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), WATCH_WAIT_SECONDS)

    def unwatch(self, show_id: str) -> None:
        if show_id in self._watched:
            self._watched.discard(show_id)
            self._confirm({show_id})
            self._changes.put_nowait((False, show_id))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self._task = asyncio.create_task(self._listen(), name="hub-fanout")
        self._publisher = asyncio.create_task(self._publish_loop(), name="hub-fanout-publish")
        try:
            yield
        finally:
            for task in (self._task, self._publisher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _listen(self) -> None:
        first = True
        while True:
            pubsub = self._client.pubsub()
            connection = None
            try:
                # a placeholder channel keeps the connection in subscribed mode with no shows
                await self._subscribe(
                    pubsub, CHANNEL_PREFIX + "_", *(CHANNEL_PREFIX + s for s in self._watched)
                )
                connection = self._watch_reconnects(pubsub)
                while not self._changes.empty():
                    self._changes.get_nowait()  # the full set was just subscribed
                self._confirm(set(self._watched))
                self.connected.set()
                if not first:
                    self._recover()
                first = False
                await self._pump(pubsub)
            except FAILURES:
                self.connected.clear()
                log.warning("hub fan-out lost redis; retrying in %.1fs", RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                if connection is not None:  # it goes back to the pool for other commands
                    connection.deregister_connect_callback(self._reconnected)
                with contextlib.suppress(*FAILURES, TimeoutError):
                    await asyncio.wait_for(pubsub.aclose(), CLOSE_SECONDS)

    def _watch_reconnects(self, pubsub: Any) -> Any:
        """Hear redis-py re-connect this pub/sub by itself: it retries a dropped connection and
        re-subscribes without raising (a Redis restarted within its retries, an idle connection
        killed by a proxy, `CLIENT KILL`), and what was published meanwhile never reached us.
        The connection (to let go of later), or None where the client has no single one (a
        cluster's sharded pub/sub: its drops raise)."""
        connection = getattr(pubsub, "connection", None)
        if connection is None or not hasattr(connection, "register_connect_callback"):
            return None
        connection.register_connect_callback(self._reconnected)
        return connection

    def _reconnected(self, _connection: Any) -> None:
        log.warning("hub fan-out re-connected to redis; filling the gap")
        self._recover()

    def _recover(self) -> None:
        """After any outage: deliver what was missed (the hub's handler: the chat gap from the
        store, the offers' state now)."""
        if self._on_reconnect is not None:
            self._gapfill = asyncio.ensure_future(self._on_reconnect())

    async def _pump(self, pubsub: Any) -> None:
        heard = pinged = time.monotonic()
        while True:
            now = time.monotonic()
            if not self._sharded and now - pinged >= PING_SECONDS:
                await pubsub.ping(PING_MESSAGE)
                pinged = now
            while not self._changes.empty():
                add, show_id = self._changes.get_nowait()
                if add:
                    await self._subscribe(pubsub, CHANNEL_PREFIX + show_id)
                    self._confirm({show_id})
                elif self._sharded:
                    await pubsub.sunsubscribe(CHANNEL_PREFIX + show_id)
                else:
                    await pubsub.unsubscribe(CHANNEL_PREFIX + show_id)
            if self._sharded:
                message = await pubsub.get_sharded_message(
                    ignore_subscribe_messages=True, timeout=0.05
                )
            else:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
            if message is None:
                # silent only after a read found nothing (a stalled loop's pong is buffered)
                if not self._sharded and time.monotonic() - heard > SILENT_SECONDS:
                    raise redis_errors.ConnectionError("redis did not answer the fan-out's ping")
                continue
            heard = time.monotonic()
            if message.get("type") not in ("message", "smessage"):
                continue
            await self._dispatch(message["channel"], message["data"])

    async def _subscribe(self, pubsub: Any, *channels: str) -> None:
        if self._sharded:
            await pubsub.ssubscribe(*channels)
        else:
            await pubsub.subscribe(*channels)

    def _confirm(self, show_ids: set[str]) -> None:
        """Wake joins waiting for these subscriptions (the SUBSCRIBE was written before any
        later PUBLISH from another node can be routed to us)."""
        for show_id in show_ids:
            waiter = self._subscribing.pop(show_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def _dispatch(self, channel: bytes | str, data: bytes | str) -> None:
        try:
            envelope = json.loads(data)
        except ValueError:
            return
        if not isinstance(envelope, dict) or envelope.get("node") == self.node_id:
            return
        name = channel.decode() if isinstance(channel, bytes) else channel
        show_id = name.removeprefix(CHANNEL_PREFIX)
        if show_id not in self._watched or self._on_message is None:
            return
        try:
            await self._on_message(show_id, envelope)
        except Exception:
            log.exception("hub fan-out handler failed")
