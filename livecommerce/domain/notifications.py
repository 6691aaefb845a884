"""Notification rules: which kinds and channels exist, what an outbox event says, who a
preference lets through, how long a failed delivery waits before the next try, and the words
each kind shows (quiet hours need time zones: ``services/preferences.py``).

An outbox event is what a state change leaves behind in the same SQL transaction (``show.live``
with the show's status update, ``order.paid`` with the payment's journal entries): a topic, a
dedupe key unique across the outbox (so writing it twice is a no-op) and a JSON payload. The
notification worker turns each into per-user notifications and per-channel deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from livecommerce.errors import InvalidInput


class Kind(StrEnum):
    SHOW_LIVE = "show.live"  # a seller you follow, or a show you asked to be reminded of, is on
    SHOW_REMINDER = "show.reminder"  # a show you RSVP'd starts in 15 minutes
    ORDER_PAID = "order.paid"  # your payment went through
    ORDER_SHIPPED = "order.shipped"  # the seller handed your order over (order fulfilled)
    AUCTION_WON = "auction.won"  # you won an auction (auction.closed named you)
    GIVEAWAY_WON = "giveaway.won"  # you won a giveaway (giveaway.drawn named you)
    BUYER_QUESTION = "buyer_question"  # a shopper asks you about something you bought


class Channel(StrEnum):
    IN_APP = "in_app"  # the bell and `notification.new` on the user's socket
    EMAIL = "email"  # SMTP, a text and an HTML part, one-click unsubscribe per kind
    PUSH = "push"  # Web Push to every subscribed browser of the user


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its time (a retry, the end of quiet hours) or a worker
    SENT = "sent"  # delivered (the receiving server or the hub took it)
    SKIPPED = "skipped"  # not to be sent: switched off, no address or subscription, channel off
    FAILED = "failed"  # every attempt failed; nothing more is tried


#: Outbox topics (what the state change wrote) and the notification kind each one becomes.
TOPIC_KINDS: dict[str, Kind] = {
    "show.live": Kind.SHOW_LIVE,
    "show.reminder": Kind.SHOW_REMINDER,
    "order.paid": Kind.ORDER_PAID,
    "order.fulfilled": Kind.ORDER_SHIPPED,
    "auction.closed": Kind.AUCTION_WON,
    "giveaway.drawn": Kind.GIVEAWAY_WON,
    "buyer_question.asked": Kind.BUYER_QUESTION,
}

#: How long before a scheduled start its RSVPs are reminded.
REMINDER_LEAD_MS = 15 * 60 * 1000
#: Attempts per delivery before it is given up as failed.
MAX_ATTEMPTS = 8
TITLE_MAX = 200


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """What a state change leaves for the notifier (and any other outbox reader)."""

    topic: str
    #: Unique across the outbox: the same change written twice (a retried transaction, a
    #: sweeper) leaves one event.
    key: str
    payload: dict[str, Any]
    #: When the change happened (epoch ms).
    at_ms: int


def show_live_event(show_id: str, seller_id: str, title: str, at_ms: int) -> OutboxEvent:
    """A show's first go-live (a resume after a pause is not news)."""
    payload = {"show_id": show_id, "seller_id": seller_id, "title": title}
    return OutboxEvent("show.live", f"show.live:{show_id}", payload, at_ms)


def show_reminder_event(show_id: str, title: str, scheduled_at: int, at_ms: int) -> OutboxEvent:
    payload = {"show_id": show_id, "title": title, "scheduled_at": scheduled_at}
    return OutboxEvent("show.reminder", f"show.reminder:{show_id}", payload, at_ms)


def order_event(topic: str, order_id: str, buyer_id: str, total: str, at_ms: int) -> OutboxEvent:
    """``order.paid`` / ``order.fulfilled`` for the buyer (``total``: formatted, for the text)."""
    payload = {"order_id": order_id, "buyer_id": buyer_id, "total": total}
    return OutboxEvent(topic, f"{topic}:{order_id}", payload, at_ms)


def auction_won_event(
    offer_id: str, show_id: str, winner_id: str, order_id: str, at_ms: int
) -> OutboxEvent:
    payload = {"offer_id": offer_id, "show_id": show_id, "winner_id": winner_id}
    payload["order_id"] = order_id
    return OutboxEvent("auction.closed", f"auction.closed:{offer_id}", payload, at_ms)


def giveaway_won_event(
    giveaway_id: str, show_id: str, winner_ids: list[str], at_ms: int
) -> OutboxEvent:
    payload = {"giveaway_id": giveaway_id, "show_id": show_id, "winner_ids": winner_ids}
    return OutboxEvent("giveaway.drawn", f"giveaway.drawn:{giveaway_id}", payload, at_ms)


def buyer_question_event(
    question_id: str, product_id: str, product_name: str, text: str, buyer_ids: list[str],
    at_ms: int,
) -> OutboxEvent:  # fmt: skip
    """A shopper's question routed to these buyers (written with the routing)."""
    payload = {
        "question_id": question_id,
        "product_id": product_id,
        "product_name": product_name,
        "text": text,
        "buyer_ids": buyer_ids,
    }
    return OutboxEvent(
        "buyer_question.asked", f"buyer_question.asked:{question_id}", payload, at_ms
    )


@dataclass(frozen=True, slots=True)
class Content:
    """What a notification says, the same on every channel."""

    title: str
    body: str
    url: str


def content(kind: Kind, payload: dict[str, Any]) -> Content:
    """The words for a kind; ``payload`` is the outbox event's (titles are the seller's text,
    escaped wherever they are rendered)."""
    title = str(payload.get("title", ""))[:TITLE_MAX]
    show_url = f"/shows/{payload.get('show_id', '')}"
    match kind:
        case Kind.SHOW_LIVE:
            return Content(f"Live now: {title}", "The show has started. Join in!", show_url)
        case Kind.SHOW_REMINDER:
            return Content(f"Starting soon: {title}", "The show starts in 15 minutes.", show_url)
        case Kind.ORDER_PAID:
            total = payload.get("total", "")
            return Content("Payment received", f"Your order ({total}) is paid.", "/orders")
        case Kind.ORDER_SHIPPED:
            return Content("Your order is on its way", "The seller has shipped it.", "/orders")
        case Kind.AUCTION_WON:
            return Content("You won the auction", "Pay for your win to get it.", show_url)
        case Kind.GIVEAWAY_WON:
            return Content("You won a giveaway", "The prize is yours.", show_url)
        case Kind.BUYER_QUESTION:
            name = str(payload.get("product_name", ""))[:TITLE_MAX]
            question = str(payload.get("text", ""))[:TITLE_MAX]
            return Content(
                f"A shopper asks about {name}",
                f"You bought it: {question}",
                f"/orders#bq-{payload.get('question_id', '')}",
            )


def recipients_of(topic: str, payload: dict[str, Any]) -> list[str]:
    """The named recipients of an event; ``show.live`` / ``show.reminder`` name none (their
    followers and RSVPs are read page by page by the worker)."""
    match topic:
        case "order.paid" | "order.fulfilled":
            return [str(payload["buyer_id"])]
        case "auction.closed":
            return [str(payload["winner_id"])] if payload.get("winner_id") else []
        case "giveaway.drawn":
            return [str(u) for u in payload.get("winner_ids", [])]
        case "buyer_question.asked":
            return [str(u) for u in payload.get("buyer_ids", [])]
    return []


def backoff_ms(attempts: int, base_ms: int, cap_ms: int) -> int:
    """Wait before the next try after ``attempts`` failed ones: doubling from ``base_ms``."""
    return int(min(cap_ms, base_ms * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True, slots=True)
class Preferences:
    """One user's choices; everything is on by default, ``answer_buyer_questions`` off."""

    #: "kind:channel" pairs switched off.
    off: frozenset[str] = field(default_factory=frozenset)
    quiet_start: str | None = None
    quiet_end: str | None = None
    timezone: str | None = None
    answer_buyer_questions: bool = False

    def allows(self, kind: Kind, channel: Channel) -> bool:
        return f"{kind}:{channel}" not in self.off

    def switched(self, kind: Kind, channel: Channel, on: bool) -> Preferences:
        pair = f"{kind}:{channel}"
        return replace(self, off=self.off - {pair} if on else self.off | {pair})


def switches(prefs: Preferences) -> dict[str, dict[str, bool]]:
    """Every kind's switch per channel, as the API shows them."""
    return {kind.value: {ch.value: prefs.allows(kind, ch) for ch in Channel} for kind in Kind}


def apply_switches(prefs: Preferences, wanted: dict[str, dict[str, bool]]) -> Preferences:
    """Set the switches named in ``wanted`` (others keep their value); unknown names refused."""
    for kind_name, channels in wanted.items():
        try:
            kind = Kind(kind_name)
        except ValueError:
            raise InvalidInput(f"kinds: unknown kind {kind_name!r}") from None
        for channel_name, on in channels.items():
            try:
                channel = Channel(channel_name)
            except ValueError:
                raise InvalidInput(f"kinds.{kind_name}: unknown channel {channel_name!r}") from None
            prefs = prefs.switched(kind, channel, on)
    return prefs
