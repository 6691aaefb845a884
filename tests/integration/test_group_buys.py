"""Group buys end to end (docs/SOCIAL.md) on the real app: members join through checkout with
their payment held, `group.updated` follows the count, and the close captures every member at
the final price or voids every hold, with the demo provider and with Stripe (the real `stripe`
library against the local Stripe-compatible server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from livecommerce.domain.access import Principal
from livecommerce.domain.coupons import CouponKind
from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.money import Money
from livecommerce.domain.offers import Offer
from livecommerce.domain.orders import Order, OrderStatus
from livecommerce.errors import CouponNotApplicable, InvalidInput
from livecommerce.services.catalog import VariantSpec
from livecommerce.services.coupons import CouponSpec
from tests.conftest import SettingsFactory
from tests.support.fake_stripe import FakeStripe
from tests.support.media_app import until
from tests.support.shop import (
    UNHURRIED_SHOP,
    WHSEC,
    ShopEnv,
    post_json,
    production_sections,
    shop_env,
    stripe_payments,
)

PAYS = "4242424242424242"
DECLINED_AT_CAPTURE = "4000000000000341"


@dataclass
class Rig:
    """The app and, for Stripe, the local Stripe server; `confirm` is the buyer paying."""

    env: ShopEnv
    fake: FakeStripe | None

    async def join(
        self, buyer: Principal, offer: Offer, key: str, card: str = PAYS, quantity: int = 1
    ) -> Order:
        """Check out the group offer and confirm the card: the member's payment is held."""
        shop = self.env.shop
        order, pay = await shop.checkout.start(
            buyer, self.env.show_id, offer.id, None, quantity, key
        )
        assert OrderStatus.PENDING_PAYMENT is order.status
        if self.fake is None:
            return await shop.payments.confirm_demo(buyer, order.id, card)
        self.fake.pay_out_of_band(pay.ref, card)
        return await shop.payments.sync(order.id)

    async def order(self, order_id: str) -> Order:
        found = await self.env.adapters.orders.get_order(order_id)
        assert found is not None
        return found

    async def payment_rows(self, order_id: str) -> list[int]:
        journal = await self.env.adapters.orders.journal(order_id)
        return [t.amount for t in journal if t.kind is EntryKind.PAYMENT]

    def provider_state(self, order: Order) -> tuple[str, int]:
        """(status, amount captured) at the provider."""
        if self.fake is None:
            raise AssertionError("read through demo_rows")
        pi = self.fake.payment_intents[order.payment_ref]
        return pi["status"], pi["amount_received"]


@pytest.fixture(params=["demo", "stripe"])
async def rig(
    request: pytest.FixtureRequest, settings_factory: SettingsFactory
) -> AsyncIterator[Rig]:
    """The demo provider on SQLite and the in-process inventory, or Stripe on PostgreSQL and
    Redis."""
    if request.param == "demo":
        async with shop_env(settings_factory(shop=UNHURRIED_SHOP)) as env:
            yield Rig(env, None)
        return
    # Stripe runs on the production combination: PostgreSQL and Redis
    sections = production_sections(
        request.getfixturevalue("postgres_url"), request.getfixturevalue("redis_url")
    )
    async with FakeStripe() as fake:
        settings = settings_factory(
            payments=stripe_payments(fake.url, fake.api_key), shop=UNHURRIED_SHOP, **sections
        )
        async with shop_env(settings) as env:
            fake.add_endpoint(f"{env.base_url}/webhooks/stripe", WHSEC)
            yield Rig(env, fake)


async def _group(env: ShopEnv, tiers: list[dict[str, int]], **extra: Any) -> Offer:
    offer = await env.shop.groups.create(
        env.seller,
        env.show_id,
        product_id=env.product.id,
        tiers=tiers,
        duration_ms=600_000,
        **extra,
    )
    return await env.shop.offers.start(env.seller, env.show_id, offer.id)


async def _demo_payment(env: ShopEnv, order_id: str) -> tuple[str, int | None]:
    row = await env.adapters.db.fetchone(
        "SELECT status, amount_captured FROM demo_payments WHERE order_id = ?", order_id
    )
    assert row is not None
    return row["status"], row["amount_captured"]


TIERS = [{"min_buyers": 2, "price": 4000}, {"min_buyers": 3, "price": 3500}]


async def test_tier_reached_captures_every_member_at_the_final_price(rig: Rig) -> None:
    """Three people join (one with two units) at the first tier's price, held; at the deadline
    each is captured once at the third-person price, with one journal entry at that price."""
    env = rig.env
    updates = await env.bus_events("group.updated")
    offer = await _group(env, TIERS)
    members = [
        await rig.join(await env.buyer(f"m{n}"), offer, f"grp-join-{n}", quantity=2 if n else 1)
        for n in range(3)
    ]
    assert [OrderStatus.AUTHORIZED] * 3 == [m.status for m in members]
    assert [4000, 8000, 8000] == [m.total.minor for m in members]
    assert [[]] * 3 == [await rig.payment_rows(m.id) for m in members]
    await until(lambda: bool(updates) and updates[-1]["buyers"] == 3, 10)
    first = next(u for u in updates if u["buyers"] == 1)
    assert (4000, {"min_buyers": 2, "price": 4000}) == (first["price_now"], first["next_tier"])
    last = updates[-1]
    assert (3500, None, offer.ends_at_ms) == (last["price_now"], last["next_tier"], last["ends_at"])

    env.clock.advance(601)
    assert 1 == await env.shop.groups.sweep()
    assert 0 == await env.shop.groups.sweep()
    for member in members:
        paid = await rig.order(member.id)
        expected = 3500 * member.quantity
        assert (OrderStatus.PAID, expected) == (paid.status, paid.total.minor)
        assert [expected] == await rig.payment_rows(member.id)
        if rig.fake is None:
            assert ("succeeded", expected) == await _demo_payment(env, member.id)
        else:
            assert ("succeeded", expected) == rig.provider_state(paid)
            assert 1 == rig.fake.captures[paid.payment_ref]
    await until(lambda: updates[-1]["status"] == "captured", 10)
    assert 3500 == updates[-1]["final_price"]
    variant = await env.variant()
    assert (500 - 5, 0) == (variant.on_hand, variant.reserved)


async def test_tier_missed_voids_every_hold_and_charges_nothing(rig: Rig) -> None:
    """Two people join a group that needs three: at the deadline every hold is released, every
    order is void, nothing is captured and the journal has no entry."""
    env = rig.env
    offer = await _group(env, [{"min_buyers": 3, "price": 3900}])
    members = [await rig.join(await env.buyer(f"v{n}"), offer, f"grp-void-{n}") for n in range(2)]
    env.clock.advance(601)
    assert 1 == await env.shop.groups.sweep()
    for member in members:
        void = await rig.order(member.id)
        assert OrderStatus.VOID is void.status
        assert [] == await rig.payment_rows(member.id)
        if rig.fake is None:
            assert ("canceled", None) == await _demo_payment(env, member.id)
        else:
            assert ("canceled", 0) == rig.provider_state(void)
            assert rig.fake.captures.get(void.payment_ref) is None
    assert [] == await env.adapters.orders.journal()
    variant = await env.variant()
    assert (500, 0) == (variant.on_hand, variant.reserved)
    status, group = await _get(env, f"/api/v1/shows/{env.show_id}/offers/{offer.id}/group")
    assert (200, "void", 2, None) == (
        status,
        group["status"],
        group["buyers"],
        group["final_price"],
    )


async def _get(env: ShopEnv, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(env.base_url + path) as resp:
        return resp.status, await resp.json()


async def test_member_cancel_before_deadline_and_decline_at_capture(
    settings_factory: SettingsFactory,
) -> None:
    """A member who cancels (REST) has the hold released and stops counting; after the deadline
    a cancel is refused; a card declined at capture fails only its own order (stock back)."""
    async with shop_env(settings_factory(shop=UNHURRIED_SHOP)) as env:
        rig = Rig(env, None)
        offer = await _group(env, TIERS)
        _leaver, leaver_user = await env.user("leaver")
        leaver = await rig.join(_leaver, offer, "grp-leave-1")
        stayers = [
            await rig.join(await env.buyer(f"s{n}"), offer, f"grp-stay-{n}") for n in range(2)
        ]
        decliner = await rig.join(await env.buyer("d"), offer, "grp-decl-1", DECLINED_AT_CAPTURE)
        assert OrderStatus.AUTHORIZED is decliner.status
        assert 4 == await env.adapters.groups.buyers(offer.id)

        token = await env.token(leaver_user)
        async with aiohttp.ClientSession() as http:
            status, body = await post_json(
                http, f"{env.base_url}/api/v1/orders/{leaver.id}/cancel", {}, token
            )
        assert (200, "cancelled") == (status, body["status"])
        assert ("canceled", None) == await _demo_payment(env, leaver.id)
        assert 3 == await env.adapters.groups.buyers(offer.id)

        env.clock.advance(601)
        async with aiohttp.ClientSession() as http:
            late = stayers[0]
            _p, user = await env.user("late")
            status, _body = await post_json(
                http, f"{env.base_url}/api/v1/orders/{late.id}/cancel", {}, await env.token(user)
            )
            assert 404 == status  # not theirs
        with pytest.raises(Exception, match="closed"):
            await env.shop.payments.cancel(env.seller, late.id)

        assert 1 == await env.shop.groups.sweep()
        # three counted at the close (the decliner included): everyone is priced at 3,500
        for member in stayers:
            paid = await rig.order(member.id)
            assert (OrderStatus.PAID, 3500) == (paid.status, paid.total.minor)
            assert [3500] == await rig.payment_rows(member.id)
        failed = await rig.order(decliner.id)
        assert OrderStatus.FAILED is failed.status
        assert [] == await rig.payment_rows(decliner.id)
        assert OrderStatus.CANCELLED is (await rig.order(leaver.id)).status
        variant = await env.variant()
        assert (500 - 2, 0) == (variant.on_hand, variant.reserved)


async def test_group_offer_over_rest(settings_factory: SettingsFactory) -> None:
    """The seller creates a group offer with tiers over REST; bad tiers are a 422 with the
    rule's message, and the group's state is public."""
    async with shop_env(settings_factory(shop=UNHURRIED_SHOP)) as env:
        token = await env.token(env.seller_user)
        url = f"{env.base_url}/api/v1/shows/{env.show_id}/offers"
        body: dict[str, Any] = {
            "product_id": env.product.id,
            "kind": "group",
            "tiers": [{"min_buyers": 2, "price": 4500}, {"min_buyers": 4, "price": 4600}],
            "duration_seconds": 60,
        }
        async with aiohttp.ClientSession() as http:
            status, err = await post_json(http, url, body, token)
            assert (422, "invalid_input") == (status, err["error"]["code"])
            assert "strictly decrease" in err["error"]["message"]
            status, err = await post_json(http, url, {**body, "price": 100}, token)
            assert 422 == status
            body["tiers"][1]["price"] = 4200
            status, offer = await post_json(http, url, body, token)
            assert (201, "group", 4500) == (status, offer["kind"], offer["price"]["amount"])
            status, _ = await post_json(http, f"{url}/{offer['id']}/start", {}, token)
            assert 200 == status
        status, group = await _get(env, f"/api/v1/shows/{env.show_id}/offers/{offer['id']}/group")
        assert 200 == status
        assert ("open", 0, 4500, {"min_buyers": 2, "price": 4500}) == (
            group["status"],
            group["buyers"],
            group["price_now"],
            group["next_tier"],
        )


async def test_group_for_one_variant_sells_only_that_variant(
    settings_factory: SettingsFactory,
) -> None:
    """A group created for one variant places its members' orders on it; another is refused,
    and so is a coupon (the crowd's tier sets the price)."""
    async with shop_env(settings_factory(shop=UNHURRIED_SHOP)) as env:
        product = await env.shop.catalog.create_product(
            env.seller,
            name="Tee",
            price=Money(2000, "USD"),
            variants=[VariantSpec("S", 5), VariantSpec("M", 5)],
        )
        medium = product.variants[1].id
        offer = await env.shop.groups.create(
            env.seller,
            env.show_id,
            product_id=product.id,
            variant_id=medium,
            tiers=[{"min_buyers": 2, "price": 1500}],
            duration_ms=60_000,
        )
        await env.shop.offers.start(env.seller, env.show_id, offer.id)
        buyer = await env.buyer()
        checkout = env.shop.checkout
        order, _pay = await checkout.start(buyer, env.show_id, offer.id, None, 1, "grp-var-01")
        assert (medium, 1500) == (order.variant_id, order.total.minor)
        with pytest.raises(InvalidInput, match="one variant"):
            await checkout.start(
                buyer, env.show_id, offer.id, product.variants[0].id, 1, "grp-var-02"
            )
        await env.shop.coupons.create(
            env.seller, CouponSpec(kind=CouponKind.PERCENT, value=10, code="CROWD")
        )
        with pytest.raises(CouponNotApplicable):
            await checkout.start(
                await env.buyer("b2"), env.show_id, offer.id, None, 1, "grp-var-03", coupon="CROWD"
            )
