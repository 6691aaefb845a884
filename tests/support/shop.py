"""A running app with a seller, a live show, a product and helpers to make buyers and offers,
for the shop's service and integration tests. The clock is a settable fake so expiry tests
never sleep; users are written straight to the store (no password hashing) so 200 buyers are
cheap."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, web

from livecommerce import keys
from livecommerce.adapters.sql.accounts import SqlAccountStore
from livecommerce.adapters.sql.addresses import SqlAddressStore
from livecommerce.app import create_app
from livecommerce.bootstrap.adapters import ADAPTERS, Adapters
from livecommerce.domain.access import Principal, Role
from livecommerce.domain.inventory import StockLevel, VariantStock
from livecommerce.domain.money import Money
from livecommerce.domain.offers import Offer, OfferKind
from livecommerce.domain.shipping import ShippingAddress
from livecommerce.domain.shows import ShowStatus
from livecommerce.ids import new_id
from livecommerce.services.accounts import principal_of
from livecommerce.services.catalog import VariantSpec
from livecommerce.services.container import Services
from livecommerce.services.ports import Product, User
from livecommerce.settings import Settings

#: The address helper-made buyers have saved (products are shipped unless a test says not).
HOME = ShippingAddress("Test Buyer", "1 Main St", "Springfield", "12345", "US")


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.t = time.time()

    def now(self) -> float:
        return self.t

    def now_ms(self) -> int:
        return int(self.t * 1000)

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class ShopEnv:
    app: web.Application
    base_url: str
    clock: FakeClock
    seller: Principal
    seller_user: User
    show_id: str
    product: Product

    @property
    def shop(self) -> Services:
        return self.app[keys.SERVICES]

    @property
    def adapters(self) -> Adapters:
        return self.app[ADAPTERS]

    async def user(
        self, name: str, role: Role = Role.VIEWER, *, address: ShippingAddress | None = HOME
    ) -> tuple[Principal, User]:
        """A full account written straight to the store, with `address` saved (None: none)."""
        user = User(new_id("usr"), name, f"{new_id('m')}@example.test", role, False, 0)
        await SqlAccountStore(self.app[ADAPTERS].db).add_user(user)
        if address is not None:
            await SqlAddressStore(self.app[ADAPTERS].db).save_address(user.id, address, 0)
        return principal_of(user), user

    async def buyer(self, name: str = "buyer") -> Principal:
        return (await self.user(name))[0]

    async def token(self, user: User) -> str:
        return await self.app[keys.SERVICES].accounts.issue_api_token(user)

    async def offer(
        self,
        *,
        stock: int = 10,
        kind: OfferKind = OfferKind.FIXED,
        price: int | None = None,
        per_buyer_limit: int | None = None,
        start: bool = True,
        **window: Any,
    ) -> Offer:
        """An offer of the env's product (500 units of its one variant) capped at `stock`
        units (the REST field's older name for `cap`)."""
        if kind is OfferKind.FLASH and window.get("ends_at_ms") is None:
            window["ends_at_ms"] = self.clock.now_ms() + 3_600_000
        offer = await self.shop.offers.create(
            self.seller,
            self.show_id,
            product_id=self.product.id,
            kind=kind,
            price_minor=price,
            cap=stock,
            per_buyer_limit=per_buyer_limit,
            **window,
        )
        if start:
            offer = await self.shop.offers.start(self.seller, self.show_id, offer.id)
        return offer

    async def cap(self, offer: Offer) -> StockLevel:
        """The offer's cap as the inventory store counts it (sold, held, available)."""
        return (await self.shop.stock.levels(offer.product_id)).caps[offer.id]

    async def variant(self, product: Product | None = None) -> VariantStock:
        """The first variant's counts (on hand, held) of a product (default: the env's)."""
        product = product or self.product
        return (await self.shop.stock.levels(product.id)).variants[product.variants[0].id]

    async def bus_events(self, topic: str) -> list[dict[str, Any]]:
        """Start recording a Bus topic; returns the (growing) list."""
        seen: list[dict[str, Any]] = []

        async def record(payload: dict[str, Any]) -> None:
            seen.append(payload)

        self.app[keys.SERVICES].bus.subscribe(topic, record)
        return seen


@contextlib.asynccontextmanager
async def shop_env(settings: Settings, clock: FakeClock | None = None) -> AsyncIterator[ShopEnv]:
    """The real app (every adapter per `settings`) on 127.0.0.1 with a seller's live show."""
    app = create_app(settings)
    fake = clock or FakeClock()
    app[keys.CLOCK] = fake
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.server.host, settings.server.port)
        await site.start()
        seller_user = User(new_id("usr"), "Seller", "seller@example.test", Role.SELLER, False, 0)
        await SqlAccountStore(app[ADAPTERS].db).add_user(seller_user)
        seller = principal_of(seller_user)
        show, _key = await app[keys.SERVICES].shows.create(seller, "Flash sale night")
        await app[keys.SERVICES].shows.move(show.id, ShowStatus.LIVE)
        product = await app[keys.SERVICES].catalog.create_product(
            seller,
            name="Sneaker",
            price=Money(4900, "USD"),
            variants=[VariantSpec("42", 500)],
        )
        yield ShopEnv(
            app=app,
            base_url=f"http://{settings.server.host}:{settings.server.port}",
            clock=fake,
            seller=seller,
            seller_user=seller_user,
            show_id=show.id,
            product=product,
        )
    finally:
        await runner.cleanup()


async def post_json(
    session: ClientSession, url: str, body: Any, token: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def buy(env: ShopEnv, http: ClientSession, offer_id: str, token: str, key: str,
              pay: bool = True) -> dict[str, Any]:  # fmt: skip
    """One unit of the offer over HTTP, paid with the test card (left unpaid with pay=False)."""
    status, out = await post_json(
        http,
        f"{env.base_url}/api/v1/shows/{env.show_id}/checkout",
        {"offer_id": offer_id, "quantity": 1, "idempotency_key": key},
        token,
    )
    assert status == 201, out
    if not pay:
        return dict(out["order"])
    status, paid = await post_json(
        http, out["payment"]["confirm_url"], {"card": "4242424242424242"}, token
    )
    assert (status, paid["status"]) == (200, "paid"), paid
    return dict(paid)


#: The webhook secret the shop tests give the app and the local Stripe server.
WHSEC = "whsec_local_test"
#: Shop settings for tests that drive many checkouts: no background sweep (tests sweep by hand
#: on the fake clock) and no per-buyer checkout rate in the way.
UNHURRIED_SHOP: dict[str, Any] = {
    "sweep_interval_seconds": 3600,
    "checkout_rates": [{"limit": 10_000, "per_seconds": 1}],
}


def production_sections(postgres_url: str, redis_url: str) -> dict[str, Any]:
    """The production combination: PostgreSQL for orders and the ledger, Redis for inventory."""
    return {"store": {"url": postgres_url, "pool_size": 20}, "redis": {"url": redis_url}}


def stripe_payments(stripe_url: str, api_key: str, webhook_secret: str = WHSEC) -> dict[str, Any]:
    """`payments` settings pointing the app's real `stripe` library at the local server."""
    return {
        "provider": "stripe",
        "stripe_secret_key": api_key,
        "stripe_publishable_key": "pk_test_local",
        "stripe_webhook_secret": webhook_secret,
        "stripe_api_base": stripe_url,
    }


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` 0.99 → p99) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * fraction)) - 1]
