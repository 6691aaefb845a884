"""A Redis that loses its data (restart without persistence) never brings sold units back:
the next checkout finds the pool gone and rebuilds it from the store's orders."""

from __future__ import annotations

import pytest

from livecommerce.domain.orders import OrderStatus
from livecommerce.errors import SoldOut
from tests.conftest import SettingsFactory
from tests.support.servers import RedisServer
from tests.support.shop import shop_env


@pytest.mark.redis
async def test_redis_restart_rebuilds_stock_from_the_store(
    settings_factory: SettingsFactory,
) -> None:
    """After Redis restarts empty, sold and held units stay out of stock; expiry still works."""
    redis = RedisServer()
    redis.start()
    settings = settings_factory(redis={"url": redis.url}, shop={"sweep_interval_seconds": 3600})
    try:
        async with shop_env(settings) as env:
            offer = await env.offer(stock=3)
            a, b, c = await env.buyer("a"), await env.buyer("b"), await env.buyer("c")
            paid, _ = await env.shop.checkout.start(a, env.show_id, offer.id, None, 1, "rr-key-a")
            await env.shop.payments.confirm_demo(a, paid.id, "4242424242424242")
            held, _ = await env.shop.checkout.start(b, env.show_id, offer.id, None, 1, "rr-key-b")
            redis.kill()
            redis.start()  # same port, no data
            last, _ = await env.shop.checkout.start(c, env.show_id, offer.id, None, 1, "rr-key-c")
            level = await env.cap(offer)
            assert (level.sold, level.reserved, level.available) == (1, 2, 0)
            with pytest.raises(SoldOut):
                await env.shop.checkout.start(c, env.show_id, offer.id, None, 1, "rr-key-d")
            env.clock.advance(601)
            assert 2 == await env.shop.payments.sweep()
            level = await env.cap(offer)
            assert (level.sold, level.reserved, level.available) == (1, 0, 2)
            for order in (held, last):
                got = await env.adapters.orders.get_order(order.id)
                assert got is not None
                assert got.status is OrderStatus.EXPIRED
    finally:
        redis.kill()
