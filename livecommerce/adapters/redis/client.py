"""The one Redis connection pool of a process, shared by the bus, the hub's fan-out and
presence, rate limits and inventory (the fan-out takes one connection in subscribed mode)."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff


def connect(url: str, pool_size: int) -> aioredis.Redis:
    """A client whose pool blocks (instead of raising) when all connections are busy, answers
    ``str`` (every adapter reads text), and retries a command on a dropped connection: after a
    Redis restart every pooled connection is dead, and each of our writes is idempotent or a
    rate-limit count, so one retry is safe."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=10,
        socket_timeout=5,
        socket_connect_timeout=2,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), 3),
        retry_on_error=[redis_errors.ConnectionError, redis_errors.TimeoutError],
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes both
