"""Buying with an address, as a guest, and the orders that come of it, through the services with
real adapters (in-process + SQLite, and Redis + PostgreSQL started by the tests): the address
rule runs before anything is held, orders keep the address they were bought with, guests with an
e-mail buy and upgrade keeping their orders, fulfilment carries tracking to the buyer, sellers
search and export their orders, and a refund's restock flag reaches the payments service."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest

from livecommerce.domain.access import Principal
from livecommerce.domain.money import Money
from livecommerce.domain.offers import Offer, OfferKind
from livecommerce.domain.orders import OrderStatus
from livecommerce.domain.shipping import ShippingAddress
from livecommerce.errors import (
    Conflict,
    GuestEmailRequired,
    IdempotencyConflict,
    InvalidInput,
    ShippingAddressRequired,
    SoldOut,
    Unauthenticated,
)
from livecommerce.services.catalog import VariantSpec
from livecommerce.services.ports import OrderFilter
from tests.conftest import SettingsFactory
from tests.support.shop import HOME, ShopEnv, shop_env

PAYS = "4242 4242 4242 4242"
BERLIN = {
    "name": "Grete Buyer",
    "line1": "Unter den Linden 1",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "de",
}


@pytest.fixture(params=["memory", pytest.param("redis+postgres", marks=pytest.mark.postgres)])
async def env(
    request: pytest.FixtureRequest, settings_factory: SettingsFactory
) -> AsyncIterator[ShopEnv]:
    sections: dict[str, Any] = {"shop": {"sweep_interval_seconds": 3600}}
    if request.param != "memory":
        sections["store"] = {"url": request.getfixturevalue("postgres_url")}
        sections["redis"] = {"url": request.getfixturevalue("redis_url")}
    async with shop_env(settings_factory(**sections)) as running:
        yield running


async def stock(env: ShopEnv, offer: Offer) -> tuple[object, list[int]]:
    """What buyers see of the stock: the offer's `stock_left` and its product's variant stock."""
    view = await env.shop.offers.view(offer)
    product = await env.shop.catalog.get(offer.product_id)
    return view["stock_left"], [v.stock for v in product.variants]


async def guest(env: ShopEnv, name: str, email: str | None) -> tuple[Principal, str]:
    issued = await env.shop.accounts.guest(name, email)
    return await env.shop.accounts.authenticate(issued.token), issued.token


async def test_shipped_product_without_address_holds_nothing(env: ShopEnv) -> None:
    """No address given or saved: `shipping_address_required`, stock, orders and the bus
    untouched; the same key then succeeds once the address is given."""
    offer = await env.offer(stock=3)
    buyer, _ = await env.user("Nomad", address=None)
    updates = await env.bus_events("order.updated")
    before = await stock(env, offer)
    with pytest.raises(ShippingAddressRequired) as caught:
        await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "no-addr-01")
    assert (422, "shipping_address_required") == (caught.value.status, caught.value.code)
    assert before == await stock(env, offer)
    assert (3, 0) == (before[0], (await env.cap(offer)).reserved)
    assert [] == await env.adapters.orders.offer_orders(offer.id, list(OrderStatus))
    assert [] == updates
    order, _ = await env.shop.checkout.start(
        buyer, env.show_id, offer.id, None, 1, "no-addr-01", shipping_address=BERLIN
    )
    assert "DE" == (order.shipping_address.country if order.shipping_address else None)


async def test_a_bad_given_address_is_refused_per_field_before_any_hold(env: ShopEnv) -> None:
    """A malformed address in the checkout names its field and holds nothing."""
    offer = await env.offer(stock=3)
    buyer = await env.buyer()
    with pytest.raises(InvalidInput) as caught:
        await env.shop.checkout.start(
            buyer, env.show_id, offer.id, None, 1, "bad-addr-01",
            shipping_address={**BERLIN, "country": "Germany"},
        )  # fmt: skip
    assert ["shipping_address.country"] == [d["field"] for d in caught.value.details]
    assert 3 == (await env.shop.offers.view(offer))["stock_left"]


async def test_goods_that_are_not_shipped_need_no_address(env: ShopEnv) -> None:
    """A product with `requires_shipping` false sells to a buyer without any address."""
    ebook = await env.shop.catalog.create_product(
        env.seller,
        name="E-book",
        price=Money(900, "USD"),
        variants=[VariantSpec("pdf", 100)],
        requires_shipping=False,
    )
    offer = await env.shop.offers.create(
        env.seller, env.show_id, product_id=ebook.id, kind=OfferKind.FIXED, cap=5
    )
    offer = await env.shop.offers.start(env.seller, env.show_id, offer.id)
    buyer, _ = await env.user("Reader", address=None)
    order, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "ebook-k-01")
    assert order.shipping_address is None
    assert None is await env.shop.accounts.shipping_address(buyer.user_id)


async def test_given_address_is_saved_only_when_there_is_none(env: ShopEnv) -> None:
    """A first given address becomes the buyer's saved one; a later given one is used for that
    order only; a reused key with another address is an idempotency conflict."""
    offer = await env.offer(stock=10)
    buyer, _ = await env.user("Grete", address=None)
    first, _ = await env.shop.checkout.start(
        buyer, env.show_id, offer.id, None, 1, "given-k-01", shipping_address=BERLIN
    )
    saved = await env.shop.accounts.shipping_address(buyer.user_id)
    assert saved is not None
    assert saved == first.shipping_address
    assert ("Berlin", "10117", None) == (saved.city, saved.postal_code, saved.line2)
    office = {**BERLIN, "line1": "Friedrichstr. 10", "line2": "3. OG"}
    second, _ = await env.shop.checkout.start(
        buyer, env.show_id, offer.id, None, 1, "given-k-02", shipping_address=office
    )
    assert "3. OG" == (second.shipping_address.line2 if second.shipping_address else None)
    assert saved == await env.shop.accounts.shipping_address(buyer.user_id)
    replay, _ = await env.shop.checkout.start(
        buyer, env.show_id, offer.id, None, 1, "given-k-02", shipping_address=office
    )
    assert second.id == replay.id
    with pytest.raises(IdempotencyConflict):
        await env.shop.checkout.start(
            buyer, env.show_id, offer.id, None, 1, "given-k-02", shipping_address=BERLIN
        )


async def test_a_sold_out_attempt_writes_no_address(env: ShopEnv) -> None:
    """A buyer who loses a sale keeps no address from it (losers cost no write)."""
    offer = await env.offer(stock=1)
    await env.shop.checkout.start(await env.buyer(), env.show_id, offer.id, None, 1, "last-k-01")
    late, _ = await env.user("Late", address=None)
    with pytest.raises(SoldOut):
        await env.shop.checkout.start(
            late, env.show_id, offer.id, None, 1, "last-k-02", shipping_address=BERLIN
        )
    assert None is await env.shop.accounts.shipping_address(late.user_id)


async def test_an_order_keeps_the_address_it_was_bought_with(env: ShopEnv) -> None:
    """Changing the saved address after buying changes neither the stored order nor its view;
    the next order ships to the new address."""
    offer = await env.offer(stock=10)
    buyer = await env.buyer("Mover")
    old, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "moving-k-1")
    await env.shop.payments.confirm_demo(buyer, old.id, PAYS)
    moved = await env.shop.accounts.save_shipping_address(buyer, BERLIN)
    stored = await env.shop.orders.get(buyer, old.id)
    assert HOME == stored.shipping_address
    view = await env.shop.orders.view(stored)
    assert HOME.to_wire() == view["shipping_address"]
    new, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 1, "moving-k-2")
    assert moved == new.shipping_address


async def test_guest_with_email_buys_then_upgrades_keeping_orders(env: ShopEnv) -> None:
    """A guest who gave an e-mail pays with 4242; upgrading keeps the id and the order, and the
    e-mail and password then log in to the same account."""
    offer = await env.offer(stock=3)
    shopper, token = await guest(env, "Gwen", "Gwen@Example.test")
    assert (True, True) == (shopper.is_guest, shopper.has_email)
    order, pay = await env.shop.checkout.start(
        shopper, env.show_id, offer.id, None, 1, "guest-buy-1", shipping_address=BERLIN
    )
    assert "demo" == pay.client["provider"]
    paid = await env.shop.payments.confirm_demo(shopper, order.id, PAYS)
    assert OrderStatus.PAID == paid.status
    user = await env.shop.accounts.upgrade(shopper, "a long passphrase")
    assert (shopper.user_id, False, "gwen@example.test") == (user.id, user.is_guest, user.email)
    again = await env.shop.accounts.authenticate(token)
    assert (False, True) == (again.is_guest, again.has_email)
    login = await env.shop.accounts.login("gwen@example.test", "a long passphrase")
    member = await env.shop.accounts.authenticate(login.token)
    mine = await env.shop.orders.list_orders(member, scope="buyer", flt=OrderFilter())
    assert [order.id] == [o.id for o in mine]
    with pytest.raises(Conflict):
        await env.shop.accounts.upgrade(member, "another passphrase")


async def test_guest_without_email_may_not_buy_or_upgrade(env: ShopEnv) -> None:
    """A guest with no e-mail is refused `guest_email_required` before anything is held."""
    offer = await env.offer(stock=3)
    shopper, _ = await guest(env, "Gus", None)
    with pytest.raises(GuestEmailRequired):
        await env.shop.checkout.start(
            shopper, env.show_id, offer.id, None, 1, "guest-no-1", shipping_address=BERLIN
        )
    assert 3 == (await env.shop.offers.view(offer))["stock_left"]
    with pytest.raises(GuestEmailRequired):
        await env.shop.accounts.upgrade(shopper, "a long passphrase")
    assert [] == await env.shop.orders.list_orders(shopper, scope="buyer", flt=OrderFilter())


async def test_a_guest_using_an_accounts_email_never_reaches_its_orders(env: ShopEnv) -> None:
    """A guest giving the e-mail of a full account gets an account of its own: it sees none of
    the owner's orders, cannot upgrade onto that e-mail, and the owner's login is unchanged."""
    offer = await env.offer(stock=5)
    owner = await env.shop.accounts.signup("Olive", "olive@example.test", "Tangerine-Orbit-8842")
    owner_p = await env.shop.accounts.authenticate(owner.token)
    await env.shop.accounts.save_shipping_address(owner_p, BERLIN)
    theirs, _ = await env.shop.checkout.start(owner_p, env.show_id, offer.id, None, 1, "own-k-01")
    impostor, _ = await guest(env, "Olive", "OLIVE@example.test")
    assert impostor.user_id != owner.user.id
    assert [] == await env.shop.orders.list_orders(impostor, scope="buyer", flt=OrderFilter())
    assert None is await env.shop.accounts.shipping_address(impostor.user_id)
    with pytest.raises(Conflict):
        await env.shop.accounts.upgrade(impostor, "violet-harbour-lantern")
    with pytest.raises(Unauthenticated):
        await env.shop.accounts.login("olive@example.test", "violet-harbour-lantern")
    still = await env.shop.accounts.login("olive@example.test", "Tangerine-Orbit-8842")
    assert owner.user.id == still.user.id
    mine = await env.shop.orders.list_orders(owner_p, scope="buyer", flt=OrderFilter())
    assert [theirs.id] == [o.id for o in mine]


async def test_fulfilment_with_tracking_reaches_the_buyer(env: ShopEnv) -> None:
    """The seller fulfils with carrier and tracking; the buyer's order and `order.updated`
    carry them, with the product, the variant and the address."""
    offer = await env.offer(stock=3)
    buyer = await env.buyer("Bea")
    order, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 2, "ship-k-01")
    await env.shop.payments.confirm_demo(buyer, order.id, PAYS)
    updates = await env.bus_events("order.updated")
    with pytest.raises(InvalidInput):
        await env.shop.orders.fulfil(env.seller, order.id, tracking_number="1Z\n99")
    env.clock.advance(5)
    done = await env.shop.orders.fulfil(
        env.seller, order.id, carrier="UPS", tracking_number="1Z999AA10123456784"
    )
    view = await env.shop.orders.view(await env.shop.orders.get(buyer, order.id))
    expected = {
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "fulfilled_at": env.clock.now_ms(),
    }
    assert ("fulfilled", expected) == (view["status"], view["fulfilment"])
    assert {"id": env.product.id, "name": "Sneaker", "image_url": ""} == view["product"]
    assert {"id": env.product.variants[0].id, "label": "42"} == view["variant"]
    assert (2, "Bea", HOME.to_wire()) == (
        view["quantity"],
        view["buyer_name"],
        view["shipping_address"],
    )
    assert [view] == [u["order"] for u in updates]
    assert done.fulfilment is not None


async def test_seller_search_and_csv_carry_buyer_item_and_address(env: ShopEnv) -> None:
    """`q` finds orders by buyer name, e-mail or order id (wildcards literal); the CSV has the
    buyer, product, variant, quantity, address, carrier and tracking, formulas defused."""
    offer = await env.offer(stock=10)
    ann, ann_user = await env.user("Ann =cmd", address=ShippingAddress(
        "=HYPERLINK(1)", "5 Rue de Rivoli", "Paris", "75001", "FR"))  # fmt: skip
    bob, bob_user = await env.user("Bob_Smith")
    a, _ = await env.shop.checkout.start(ann, env.show_id, offer.id, None, 2, "search-k-1")
    b, _ = await env.shop.checkout.start(bob, env.show_id, offer.id, None, 1, "search-k-2")
    for buyer, order in ((ann, a), (bob, b)):
        await env.shop.payments.confirm_demo(buyer, order.id, PAYS)
    await env.shop.orders.fulfil(env.seller, a.id, carrier="La Poste", tracking_number="LP-1")

    async def found(q: str) -> list[str]:
        orders = await env.shop.orders.list_orders(env.seller, scope="seller", flt=OrderFilter(q=q))
        return sorted(o.id for o in orders)

    assert [a.id] == await found("ANN")
    assert [b.id] == await found(str(bob_user.email).upper()[:8])
    assert [b.id] == await found(b.id[4:16])
    assert [b.id] == await found("b_s")
    assert [] == await found("%")
    assert sorted([a.id, b.id]) == await found("@example.test")
    exported = await env.shop.orders.export_csv(env.seller, OrderFilter())
    rows = list(csv.DictReader(io.StringIO(exported)))
    by_id = {r["order_id"]: r for r in rows}
    row = by_id[a.id]
    assert {
        "buyer_name": "Ann =cmd",
        "buyer_email": ann_user.email,
        "product_name": "Sneaker",
        "variant_label": "42",
        "quantity": "2",
        "ship_name": "'=HYPERLINK(1)",
        "ship_line1": "5 Rue de Rivoli",
        "ship_postal_code": "75001",
        "ship_country": "FR",
        "carrier": "La Poste",
        "tracking_number": "LP-1",
    }.items() <= row.items()
    assert ("", "") == (by_id[b.id]["carrier"], by_id[b.id]["fulfilled_at_ms"])


async def test_refund_restock_flag_reaches_the_payments_service(env: ShopEnv) -> None:
    """A partial refund without restock leaves the flag off; one with `restock` sets it on the
    order in the same write as the refund, and it stays set."""
    offer = await env.offer(stock=3)
    buyer = await env.buyer()
    order, _ = await env.shop.checkout.start(buyer, env.show_id, offer.id, None, 2, "restock-k1")
    await env.shop.payments.confirm_demo(buyer, order.id, PAYS)
    part = await env.shop.payments.refund(env.seller, order.id, 100, None)
    assert (OrderStatus.PARTIALLY_REFUNDED, False) == (part.status, part.restocked)
    rest = await env.shop.payments.refund(env.seller, order.id, None, None, restock=True)
    stored = await env.adapters.orders.get_order(order.id)
    assert stored is not None
    assert (OrderStatus.REFUNDED, True, True) == (rest.status, rest.restocked, stored.restocked)
