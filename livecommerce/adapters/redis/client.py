"""The one Redis connection pool of a process, shared by the bus, the hub's fan-out and
presence, rate limits and inventory (the fan-out takes one connection in subscribed mode).

Against a Redis Cluster (`redis.cluster: true`) the client is a `RedisCluster`, which keeps one
pool per node and routes each command by its keys' hash slot; every adapter keeps the keys one
script touches under one hash tag, so each script runs on one node.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

#: What every Redis adapter talks to: one server (or a primary) or a cluster.
RedisClient = aioredis.Redis | RedisCluster

#: What "Redis is away" looks like on one server or a cluster: a lost connection or a timeout,
#: or a cluster missing a master (CLUSTERDOWN, a slot no node serves, no node reachable).
UNAVAILABLE: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ClusterDownError,
    redis_errors.SlotNotCoveredError,
    redis_errors.RedisClusterUnreachableError,
)
#: Every failure of a Redis call, the cluster client's own (not `RedisError`s) included.
FAILURES: tuple[type[Exception], ...] = (
    redis_errors.RedisError,
    redis_errors.RedisClusterException,
    OSError,
)


class BoundedRedisCluster(RedisCluster):
    """A cluster client whose commands wait for a free slot instead of failing: redis-py's
    cluster pool raises `MaxConnectionsError` past `max_connections` per node (it has no
    blocking pool), which a flash-sale burst would hit. At most `limit` commands are in
    flight; each node's pool is sized above that, so none ever runs out."""

    def __init__(self, *args: Any, limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = asyncio.Semaphore(limit)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self._slots:
            return await super().execute_command(*args, **kwargs)


def connect(url: str, pool_size: int, *, cluster: bool = False) -> RedisClient:
    """A client whose pool blocks (instead of raising) when all connections are busy, answers
    ``str`` (every adapter reads text), and retries a command on a dropped connection: after a
    Redis restart every pooled connection is dead, and each of our writes is idempotent or a
    rate-limit count, so one retry is safe. With `cluster`, `url` names any one node."""
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.02), 3)
    errors: list[type[Exception]] = [redis_errors.ConnectionError, redis_errors.TimeoutError]
    if cluster:
        # why: pipelines and the pub/sub connections are not counted by the semaphore
        return BoundedRedisCluster.from_url(
            url,
            limit=pool_size,
            max_connections=pool_size * 2 + 4,
            socket_timeout=5,
            socket_connect_timeout=2,
            decode_responses=True,
            retry=retry,
            retry_on_error=errors,
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=10,
        socket_timeout=5,
        socket_connect_timeout=2,
        decode_responses=True,
        retry=retry,
        retry_on_error=errors,
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes both


def is_cluster(client: RedisClient) -> bool:
    return isinstance(client, RedisCluster)
