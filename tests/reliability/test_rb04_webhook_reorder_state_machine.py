"""RB-04 webhook_reorder_state_machine: a Hypothesis `RuleBasedStateMachine` against the real app
(services, SQLite store, memory inventory, the real `stripe` library talking to the fake Stripe
server, webhooks signed and posted to `POST /webhooks/stripe`). Per example one order is checked
out; the rules act at "Stripe" (the buyer pays or is declined on the Checkout page, the session
expires, the seller refunds part or all in the dashboard), deliver any event emitted so far
(so duplicates, reordering and late events are all in reach: `checkout.session.completed`,
`payment_intent.succeeded`, `charge.refunded`, `checkout.session.expired` and the rest), or run
our own expiry sweeper past the order's deadline.

Pass criterion, after every step: no illegal transition (every status change the order published
is allowed by `TRANSITIONS` in domain/orders.py); once every event was delivered, the order's
state == the fake-Stripe object's state; ledger sum == captured - refunded. The N tier runs
≥ 10,000 examples.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from livecommerce.domain.access import Principal
from livecommerce.domain.ledger import EntryKind
from livecommerce.domain.money import Money
from livecommerce.domain.offers import OfferKind
from livecommerce.domain.orders import RELEASED, SOLD, Order, OrderStatus, can_transition
from livecommerce.services.catalog import VariantSpec
from tests.conftest import SettingsFactory
from tests.reliability.conftest import RecordFigure
from tests.support.fake_stripe import FakeStripe, StripeError
from tests.support.shop import ShopEnv, shop_env

T = TypeVar("T")
WHSEC = "whsec_rb04"
PRICE = 4900
DECLINED = "4000000000000002"
#: The order's status once every event is in, for each state of its PaymentIntent.
EXPECTED = {
    "requires_payment_method": {OrderStatus.PENDING_PAYMENT},
    "canceled": RELEASED,
}


@dataclass
class World:
    """What every example shares: one event loop, the fake Stripe, the app, one buyer, one offer
    (uncapped, of a variant with more units than any run sells), and the order statuses the app
    published, in commit order."""

    runner: asyncio.Runner
    fake: FakeStripe
    env: ShopEnv
    buyer: Principal
    offer_id: str
    published: list[tuple[str, OrderStatus]]
    examples: int = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)


@contextlib.contextmanager
def world(settings_factory: SettingsFactory) -> Iterator[World]:
    with asyncio.Runner() as runner:
        stack = contextlib.AsyncExitStack()
        fake = runner.run(stack.enter_async_context(FakeStripe(auto_deliver=False)))
        config = settings_factory(
            payments={
                "provider": "stripe",
                "stripe_secret_key": fake.api_key,
                "stripe_publishable_key": "pk_test_local",
                "stripe_webhook_secret": WHSEC,
                "stripe_api_base": fake.url,
            },
            shop={
                "sweep_interval_seconds": 3600,
                "checkout_rates": [{"limit": 1_000_000, "per_seconds": 1}],
            },
        )
        try:
            env = runner.run(stack.enter_async_context(shop_env(config)))
            fake.add_endpoint(f"{env.base_url}/webhooks/stripe", WHSEC)
            yield runner.run(_setup(runner, fake, env))
        finally:
            runner.run(stack.aclose())


async def _setup(runner: asyncio.Runner, fake: FakeStripe, env: ShopEnv) -> World:
    product = await env.shop.catalog.create_product(
        env.seller, name="Lamp", price=Money(PRICE, "USD"), variants=[VariantSpec("one", 1_000_000)]
    )
    offer = await env.shop.offers.create(
        env.seller, env.show_id, product_id=product.id, kind=OfferKind.FIXED
    )
    await env.shop.offers.start(env.seller, env.show_id, offer.id)
    published: list[tuple[str, OrderStatus]] = []

    async def record(payload: dict[str, Any]) -> None:
        published.append((payload["order"]["id"], OrderStatus(payload["order"]["status"])))

    env.shop.bus.subscribe("order.updated", record)
    return World(runner, fake, env, await env.buyer(), offer.id, published)


class WebhookMachine(RuleBasedStateMachine):
    """One order, its PaymentIntent at the fake Stripe, and the events between them."""

    def __init__(self, w: World) -> None:
        super().__init__()
        self.w = w
        w.examples += 1
        self.first = len(w.fake.events)
        order, pay = w.run(
            w.env.shop.checkout.start(
                w.buyer, w.env.show_id, w.offer_id, None, 1, f"rb04-{w.examples:08d}"
            )
        )
        self.order_id = order.id
        self.pi_id = pay.ref
        self.seen = OrderStatus.PENDING_PAYMENT
        self.base = len(w.published)  # what the checkout itself published is behind us
        self.delivered: set[str] = set()

    # -- the world -------------------------------------------------------------------------------
    @property
    def pi(self) -> dict[str, Any]:
        return self.w.fake.payment_intents[self.pi_id]

    def session_open(self) -> bool:
        session = self.w.fake.checkout_sessions.get(self.pi_id)
        return session is None or session["status"] == "open"

    def events(self) -> list[dict[str, Any]]:
        """Every event Stripe emitted about this order's PaymentIntent, oldest first."""
        return [
            e
            for e in self.w.fake.events[self.first :]
            if self.pi_id in (e["data"]["object"]["id"], e["data"]["object"].get("payment_intent"))
        ]

    def order(self) -> Order:
        order = self.w.run(self.w.env.adapters.orders.get_order(self.order_id))
        assert order is not None
        return order

    def payable(self) -> bool:
        return self.pi["status"] == "requires_payment_method" and self.session_open()

    # -- at Stripe -------------------------------------------------------------------------------
    @precondition(payable)
    @rule()
    def buyer_pays_on_checkout_page(self) -> None:
        self.w.fake.complete_session(self.pi_id)

    @precondition(payable)
    @rule()
    def card_declined(self) -> None:
        with contextlib.suppress(StripeError):
            self.w.fake.pay_out_of_band(self.pi_id, DECLINED)

    @precondition(payable)
    @rule()
    def session_expires(self) -> None:
        self.w.fake.expire_session(self.pi_id)

    @precondition(lambda self: self.pi["amount_received"] > self.pi["amount_refunded"])
    @rule(data=st.data())
    def dashboard_refund(self, data: st.DataObject) -> None:
        left = self.pi["amount_received"] - self.pi["amount_refunded"]
        amount = data.draw(st.sampled_from(sorted({1, left // 3 or 1, left})), label="refund")
        self.w.fake.refund_out_of_band(self.pi_id, amount)

    # -- at our end ------------------------------------------------------------------------------
    @precondition(lambda self: bool(self.events()))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        """Any event so far: a new one, a duplicate, or one overtaken by later ones."""
        event = data.draw(st.sampled_from(self.events()), label="event")
        assert 200 == self.w.run(self.w.fake.deliver(event)), event["type"]
        self.delivered.add(event["id"])

    @rule()
    def deadline_passes_and_sweeper_runs(self) -> None:
        """Our own expiry: it cancels at Stripe first, so a payment there wins."""
        self.w.env.clock.advance(self.order().expires_at_ms / 1000 - self.w.env.clock.now() + 1)
        self.w.run(self.w.env.shop.payments.sweep())

    # -- the criterion ---------------------------------------------------------------------------
    @invariant()
    def criterion(self) -> None:
        """No illegal transition; ledger sum == captured - refunded; and once every event has
        arrived, the order's state is the PaymentIntent's."""
        order = self.order()
        fresh, self.base = self.w.published[self.base :], len(self.w.published)
        for order_id, status in fresh:
            if order_id == self.order_id:
                assert can_transition(self.seen, status), f"{self.seen} -> {status}"
                self.seen = status
        assert self.seen is order.status

        journal = self.w.run(self.w.env.adapters.orders.journal(self.order_id))
        payments = [t.amount for t in journal if t.kind is EntryKind.PAYMENT]
        refunds = [t.amount for t in journal if t.kind is EntryKind.REFUND]
        captured = PRICE if order.status in SOLD else 0
        assert ([PRICE] if order.status in SOLD else []) == payments
        assert order.refunded_minor == sum(refunds)
        assert captured - order.refunded_minor == sum(payments) - sum(refunds)

        if not self.delivered >= {e["id"] for e in self.events()}:
            return
        pi = self.pi
        assert pi["amount_received"] - pi["amount_refunded"] == sum(payments) - sum(refunds)
        if pi["status"] != "succeeded":
            assert order.status in EXPECTED[pi["status"]], (order.status, pi["status"])
        elif pi["amount_refunded"] == 0:
            assert OrderStatus.PAID is order.status
        elif pi["amount_refunded"] == pi["amount"]:
            assert OrderStatus.REFUNDED is order.status
        else:
            assert OrderStatus.PARTIALLY_REFUNDED is order.status

    def teardown(self) -> None:
        """The late rest: every event not yet delivered arrives, and the order must end in the
        PaymentIntent's state."""
        for event in self.events():
            if event["id"] not in self.delivered:
                assert 200 == self.w.run(self.w.fake.deliver(event)), event["type"]
                self.delivered.add(event["id"])
        self.criterion()


def run_machine(settings_factory: SettingsFactory, examples: int) -> int:
    """Run `examples` examples; returns how many ran (a failure raises, shrunk)."""
    with world(settings_factory) as w:

        class Bound(WebhookMachine):
            def __init__(self) -> None:
                super().__init__(w)

        run_state_machine_as_test(
            Bound,
            settings=settings(
                max_examples=examples,
                stateful_step_count=12,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
        return w.examples


def test_webhooks_in_any_order_keep_the_order_with_stripe(
    settings_factory: SettingsFactory,
) -> None:
    """PR tier: 200 examples of up to 12 steps each keep every invariant."""
    assert 200 <= run_machine(settings_factory, 200)


@pytest.mark.soak
@pytest.mark.timeout(7200)
def test_webhooks_in_any_order_soak(
    settings_factory: SettingsFactory, figures: RecordFigure
) -> None:
    """N tier: at least 10,000 examples keep every invariant, with no failure."""
    ran = run_machine(settings_factory, 10_000)
    assert 10_000 <= ran
    figures(rb="RB-04", name="examples run", value=ran, limit="≥ 10,000")
    figures(rb="RB-04", name="failures", value=0, limit="0")
