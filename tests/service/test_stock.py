"""One stock with real adapters (in-process + SQLite, and Redis + PostgreSQL started by the
tests): a variant's stock after a flash sale is its start stock minus the units sold, a refund
with restock puts the units back, two offers (in two shows) of one variant never oversell it,
adjustments are movements that never take held units, and every change is a movement whose sum
is the variant's stock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from livecommerce.domain.inventory import MovementReason
from livecommerce.domain.money import Money
from livecommerce.domain.offers import Offer, OfferKind
from livecommerce.domain.shows import ShowStatus
from livecommerce.errors import PermissionDenied, SoldOut, StockHeld
from livecommerce.services.catalog import VariantSpec
from livecommerce.services.ports import Product
from tests.conftest import SettingsFactory
from tests.support.shop import ShopEnv, shop_env

PAYS = "4242424242424242"


@pytest.fixture(params=["memory", pytest.param("redis+postgres", marks=pytest.mark.postgres)])
async def env(
    request: pytest.FixtureRequest, settings_factory: SettingsFactory
) -> AsyncIterator[ShopEnv]:
    sections: dict[str, Any] = {
        "shop": {
            "sweep_interval_seconds": 3600,
            "stock_update_interval_seconds": 0,
            "checkout_rates": [{"limit": 10_000, "per_seconds": 1}],
        }
    }
    if request.param != "memory":
        sections["store"] = {"url": request.getfixturevalue("postgres_url"), "pool_size": 20}
        sections["redis"] = {"url": request.getfixturevalue("redis_url")}
    async with shop_env(settings_factory(**sections)) as running:
        yield running


async def sweater(env: ShopEnv, **sizes: int) -> Product:
    return await env.shop.catalog.create_product(
        env.seller,
        name="Sweater",
        price=Money(5000, "USD"),
        variants=[VariantSpec(label, units) for label, units in sizes.items()],
    )


async def offer_of(
    env: ShopEnv, product: Product, show_id: str | None = None, **options: Any
) -> Offer:
    show_id = show_id or env.show_id
    options.setdefault("kind", OfferKind.FIXED)
    offer = await env.shop.offers.create(env.seller, show_id, product_id=product.id, **options)
    return await env.shop.offers.start(env.seller, show_id, offer.id)


async def stock(env: ShopEnv, product: Product) -> dict[str, int]:
    """Each variant's `stock` as the REST product shows it (available to buyers), by label."""
    fresh = await env.shop.catalog.get(product.id)
    return {v.label: v.stock for v in fresh.variants}


async def summed(env: ShopEnv, product: Product) -> dict[str, int]:
    """Each variant's movements added up, straight from SQL, by label."""
    labels = {v.id: v.label for v in product.variants}
    rows = await env.adapters.db.fetchall(
        "SELECT variant_id, SUM(delta) AS units FROM inventory_movements WHERE product_id = ? "
        "GROUP BY variant_id",
        product.id,
    )
    return {labels[r["variant_id"]]: int(r["units"]) for r in rows}


async def buy(env: ShopEnv, offer: Offer, variant: str, qty: int, key: str) -> str:
    """A new buyer checks out and pays; the order id."""
    buyer = await env.buyer(key)
    order, _ = await env.shop.checkout.start(buyer, offer.show_id, offer.id, variant, qty, key)
    await env.shop.payments.confirm_demo(buyer, order.id, PAYS)
    return order.id


async def test_flash_sale_leaves_variant_stock_and_a_restocking_refund_puts_it_back(
    env: ShopEnv,
) -> None:
    """After a flash sale each variant's stock is its start stock minus the units sold (the cap
    stops the sale, then the variant itself stops another offer); a refund with restock puts
    the order's units back, once per order."""
    product = await sweater(env, S=5, M=3)
    s, m = (v.id for v in product.variants)
    flash = await offer_of(env, product, kind=OfferKind.FLASH, cap=6, duration_ms=600_000)
    first = await buy(env, flash, s, 2, "flash-a-key")
    second = await buy(env, flash, s, 2, "flash-b-key")
    await buy(env, flash, m, 2, "flash-c-key")
    with pytest.raises(SoldOut):
        await buy(env, flash, s, 1, "flash-d-key")
    assert {"S": 1, "M": 1} == await stock(env, product)
    view: dict[str, Any] = await env.shop.offers.view(flash)
    assert (6, 0) == (view["cap"], view["stock_left"])
    assert [0, 0] == [v["stock_left"] for v in view["variants"]]

    fixed = await offer_of(env, product)
    await buy(env, fixed, s, 1, "fixed-a-key")
    with pytest.raises(SoldOut):
        await buy(env, fixed, s, 1, "fixed-b-key")
    assert {"S": 0, "M": 1} == await stock(env, product)

    await env.shop.payments.refund(env.seller, first, None, None, restock=True)
    await env.shop.payments.refund(env.seller, second, 1000, None, restock=True)
    await env.shop.payments.refund(env.seller, second, None, None, restock=True)
    assert {"S": 4, "M": 1} == await stock(env, product)
    assert await stock(env, product) == await summed(env, product)
    movements = await env.shop.catalog_admin.movements(env.seller, product.id, s)
    assert [
        (MovementReason.REFUND_RESTOCK, 2, second),
        (MovementReason.REFUND_RESTOCK, 2, first),
        (MovementReason.SALE, -1, None),
        (MovementReason.SALE, -2, second),
        (MovementReason.SALE, -2, first),
        (MovementReason.INITIAL, 5, None),
    ] == [
        (mv.reason, mv.delta, mv.order_id if mv.order_id in (first, second) else None)
        for mv in movements
    ]
    assert {env.seller.user_id} == {
        mv.actor_id for mv in movements if mv.reason is not MovementReason.SALE
    }
    await buy(env, fixed, s, 4, "fixed-c-key")  # the restocked units sell again
    assert {"S": 0, "M": 1} == await stock(env, product)


async def test_a_refund_without_restock_keeps_the_units_out(env: ShopEnv) -> None:
    """Refunding without restock (goods not returned) leaves the variant's stock alone."""
    product = await sweater(env, S=2)
    offer = await offer_of(env, product)
    order = await buy(env, offer, product.variants[0].id, 2, "keep-out-1")
    await env.shop.payments.refund(env.seller, order, None, None)
    assert {"S": 0} == await stock(env, product)


async def test_two_offers_in_two_shows_never_oversell_one_variant(env: ShopEnv) -> None:
    """120 buyers released together through two offers (one capped at 15) of a 20-unit variant,
    in two live shows: exactly 20 are paid, the capped offer sells at most 15, and the variant
    ends at 0 with one sale movement per order."""
    product = await sweater(env, One=20)
    variant = product.variants[0].id
    other, _key = await env.shop.shows.create(env.seller, "Second show")
    await env.shop.shows.move(other.id, ShowStatus.LIVE)
    capped = await offer_of(env, product, cap=15)
    open_ = await offer_of(env, product, other.id)
    buyers = [await env.buyer(f"b{i}") for i in range(120)]
    gate = asyncio.Event()

    async def attempt(i: int) -> str:
        offer = capped if i % 2 else open_
        await gate.wait()
        try:
            order, _ = await env.shop.checkout.start(
                buyers[i], offer.show_id, offer.id, variant, 1, f"two-offers-{i:03d}"
            )
        except SoldOut:
            return "sold_out"
        await env.shop.payments.confirm_demo(buyers[i], order.id, PAYS)
        return offer.id

    tasks = [asyncio.create_task(attempt(i)) for i in range(120)]
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), 60)
    assert 100 == results.count("sold_out")
    assert results.count(capped.id) <= 15
    assert {"One": 0} == await stock(env, product) == await summed(env, product)
    levels = await env.shop.stock.levels(product.id)
    assert (0, 0) == (levels.variants[variant].on_hand, levels.variants[variant].reserved)
    sales = await env.shop.catalog_admin.movements(env.seller, product.id, variant)
    assert 20 == sum(1 for mv in sales if mv.reason is MovementReason.SALE)


async def test_adjustments_are_movements_that_never_take_held_units(env: ShopEnv) -> None:
    """Manual adjustments and a PATCH that sets the stock are movements against what buyers can
    get; units held by an unpaid checkout cannot be removed; the live offer is told."""
    product = await sweater(env, S=10)
    variant = product.variants[0].id
    offer = await offer_of(env, product)
    updates = await env.bus_events("offer.updated")
    holder = await env.buyer("holder")
    await env.shop.checkout.start(holder, env.show_id, offer.id, variant, 3, "held-key-1")
    assert {"S": 7} == await stock(env, product)

    with pytest.raises(StockHeld):
        await env.shop.catalog_admin.adjust_stock(env.seller, product.id, variant, -8)
    movement, after = await env.shop.catalog_admin.adjust_stock(
        env.seller, product.id, variant, -7, "water damage"
    )
    assert (-7, "water damage", 0) == (movement.delta, movement.note, after.variants[0].stock)
    assert 3 == after.variants[0].held
    patched = await env.shop.catalog_admin.update_variant(env.seller, product.id, variant, stock=5)
    assert (5, 3) == (patched.variants[0].stock, patched.variants[0].held)
    moves = await env.shop.catalog_admin.movements(env.seller, product.id, variant)
    assert [(5, "stock set to 5"), (-7, "water damage"), (10, "")] == [
        (m.delta, m.note) for m in moves
    ]
    assert {"S": 8} == await summed(env, product)  # on hand: 5 available + 3 held
    assert [5] == [u["offer"]["stock_left"] for u in updates if u["offer"]["id"] == offer.id][-1:]

    stranger, _user = await env.user("Other seller", env.seller_user.role)
    with pytest.raises(PermissionDenied):
        await env.shop.catalog_admin.adjust_stock(stranger, product.id, variant, 1)
    with pytest.raises(PermissionDenied):
        await env.shop.catalog_admin.movements(stranger, product.id, variant)


async def test_a_restock_happens_once_whichever_refund_asks(env: ShopEnv) -> None:
    """Replays of a refund that was recorded without restock may still ask for it: racing
    replays put the units back once, and a later restocking refund adds nothing."""
    product = await sweater(env, S=3)
    offer = await offer_of(env, product)
    order_id = await buy(env, offer, product.variants[0].id, 3, "race-restock")
    await env.shop.payments.refund(env.seller, order_id, 1000, "refund-key-a")
    assert {"S": 0} == await stock(env, product)
    replays = await asyncio.gather(
        *[
            env.shop.payments.refund(env.seller, order_id, 1000, "refund-key-a", restock=True)
            for _ in range(5)
        ]
    )
    assert {(True, 1000)} == {(o.restocked, o.refunded_minor) for o in replays}
    later = await env.shop.payments.refund(env.seller, order_id, 1000, "refund-key-b", restock=True)
    assert (True, 2000) == (later.restocked, later.refunded_minor)
    assert {"S": 3} == await stock(env, product) == await summed(env, product)
    moves = await env.shop.catalog_admin.movements(env.seller, product.id, product.variants[0].id)
    assert 1 == sum(1 for m in moves if m.reason is MovementReason.REFUND_RESTOCK)
