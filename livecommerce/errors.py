"""The error tree: every failure a client can see, with a stable snake_case ``code``.

Domain code raises these without knowing about HTTP or Socket.IO; only the HTTP error middleware
and the Socket.IO ack helper turn them into ``{"error": {"code", "message"}}`` with ``status``.

```
LiveCommerceError
├── DomainError (409): InvalidTransition, SoldOut, OfferNotActive (OfferClosed), ShowNotLive,
│                      LimitReached, Muted, Banned, RateLimited (429), Conflict, StockHeld,
│                      ProductArchived, BidTooLow, NotAnAuction, AuctionNotOpen,
│                      AuctionClosed, SellerCannotBid, PaymentMethodRequired, HandleTaken,
│                      CannotFollowSelf, ShowEnded
│                      AuctionClosed, SellerCannotBid, PaymentMethodRequired, GiveawayClosed,
│                      GiveawayNotClosed, GiveawayAlreadyDrawn, CannotEnter, FollowRequired
│                      AuctionClosed, SellerCannotBid, PaymentMethodRequired,
│                      CouponError (CouponInvalid, CouponNotStarted, CouponExpired,
│                      CouponExhausted, CouponAlreadyUsed, CouponNotApplicable, CouponMinOrder,
│                      CouponFollowersOnly), DropEnded, DropExhausted, SellerCannotClaim,
│                      AlreadyAnswered
├── NotFound (404) · PermissionDenied (403): GuestEmailRequired, NotAVerifiedBuyer
│   · Unauthenticated (401)
├── InvalidInput (422): PayloadTooLarge (413), UnsupportedMedia (406), ShippingAddressRequired,
│                       InvalidCsv, WeakPassword, HandleInvalid, QuestionRejected
├── IdempotencyConflict (409) · RequestInProgress (409, retryable)
└── AdapterError (503): PaymentGatewayError (502), StoreUnavailable (503), MediaError (502)
```
"""

from __future__ import annotations

from typing import Any, ClassVar


class LiveCommerceError(Exception):
    """Base of every error a client may see; ``message`` must never carry secrets or vendor text."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500

    def __init__(self, message: str = "", *, details: Any = None) -> None:
        super().__init__(message or self.code.replace("_", " "))
        self.message = message or self.code.replace("_", " ")
        self.details = details

    def to_wire(self) -> dict[str, Any]:
        """The one wire shape shared by HTTP bodies and Socket.IO acks."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class DomainError(LiveCommerceError):
    """A business rule refused the request; retrying the same request will not help."""

    code = "domain_error"
    status = 409


class InvalidTransition(DomainError):
    code = "invalid_transition"


class SoldOut(DomainError):
    code = "sold_out"


class StockHeld(DomainError):
    """A stock adjustment would take a variant below the units checkouts are holding."""

    code = "stock_held"


class OfferNotActive(DomainError):
    code = "offer_not_active"


class OfferClosed(OfferNotActive):
    """The offer will never sell again (ended, its window is over, or its show ended); a
    subclass so code that handles "not on sale" keeps working, with its own code for clients."""

    code = "offer_closed"


class ShowNotLive(DomainError):
    code = "show_not_live"


class LimitReached(DomainError):
    code = "limit_reached"


class Muted(DomainError):
    code = "muted"


class Banned(DomainError):
    code = "banned"


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429


class Conflict(DomainError):
    code = "conflict"


class BidTooLow(DomainError):
    """A bid under the auction's next minimum; ``details.min_bid`` says how much."""

    code = "bid_too_low"


class NotAnAuction(DomainError):
    """Bids on an offer that exists but sells at a fixed, flash or group price: a 404 would
    claim the offer is gone."""

    code = "not_an_auction"


class AuctionNotOpen(DomainError):
    code = "auction_not_open"


class AuctionClosed(DomainError):
    code = "auction_closed"


class SellerCannotBid(DomainError):
    """The show's seller and hosts never bid in its auctions (shill bids)."""

    code = "seller_cannot_bid"


class PaymentMethodRequired(DomainError):
    """The show asks bidders for what a win needs (a saved shipping address) before bidding."""

    code = "payment_method_required"


class GiveawayClosed(DomainError):
    """An entry after the giveaway's close: its entry list is frozen and hashed."""

    code = "giveaway_closed"


class GiveawayNotClosed(DomainError):
    """A draw before the close: the entries must be frozen before the seed is revealed."""

    code = "giveaway_not_closed"


class GiveawayAlreadyDrawn(DomainError):
    code = "giveaway_already_drawn"


class CannotEnter(DomainError):
    """Who may never enter a giveaway: guests (one person, one account) and the show's seller
    and hosts."""

    code = "cannot_enter"


class FollowRequired(DomainError):
    """A followers-only giveaway and an entrant who does not follow the seller."""

    code = "follow_required"


class NotFound(LiveCommerceError):
    code = "not_found"
    status = 404


class PermissionDenied(LiveCommerceError):
    code = "forbidden"
    status = 403


class Unauthenticated(LiveCommerceError):
    code = "unauthenticated"
    status = 401


class InvalidInput(LiveCommerceError):
    code = "invalid_input"
    status = 422


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"
    status = 413


class UnsupportedMedia(InvalidInput):
    code = "unsupported_media"
    status = 406


class IdempotencyConflict(LiveCommerceError):
    code = "idempotency_conflict"
    status = 409


class RequestInProgress(LiveCommerceError):
    """The same idempotency key is being processed right now; the client should retry shortly."""

    code = "request_in_progress"
    status = 409


class AdapterError(LiveCommerceError):
    code = "adapter_error"
    status = 503


class PaymentGatewayError(AdapterError):
    code = "payment_gateway_error"
    status = 502


class StoreUnavailable(AdapterError):
    code = "store_unavailable"
    status = 503


class MediaError(AdapterError):
    code = "media_error"
    status = 502


class PaymentDeclined(DomainError):
    """The provider refused the card; nothing was charged and the reservation was released."""

    code = "payment_declined"
    status = 402


class InvalidSignature(LiveCommerceError):
    """A webhook whose signature, age or body does not verify: answered 400, nothing changes."""

    code = "invalid_signature"
    status = 400


# --- live hub (issue 4): chat, names and moderation refusals a client can act on ---------------


class TextEmpty(InvalidInput):
    """Nothing left after trimming: the client should not send blank lines."""

    code = "text_empty"


class TextTooLong(InvalidInput):
    """Longer than the chat limit after NFC normalisation and trimming."""

    code = "text_too_long"


class TextInvalidCharacters(InvalidInput):
    """Control or bidi-override characters, which break layouts or spoof other text."""

    code = "text_invalid_characters"


class ReservedName(InvalidInput):
    """A display name that reads like staff (seller, host, admin, ...) or a lookalike of one."""

    code = "reserved_name"


class SlowMode(RateLimited):
    """The show's slow mode: this user must wait before the next line."""

    code = "slow_mode"


class ChatRestricted(PermissionDenied):
    """The show's chat is followers-only or buyers-only and the user is neither."""

    code = "chat_restricted"


class MessageRejected(DomainError):
    """A banned word or a link, refused by the show's filters (not held for review)."""

    code = "message_rejected"


class TooManyConnections(RateLimited):
    """Too many open Socket.IO connections from one address."""

    code = "too_many_connections"


# --- buying (issue 11): addresses and guest buyers ----------------------------------------------


class ShippingAddressRequired(InvalidInput):
    """The product is shipped and the buyer gave no address and has none saved; nothing was
    reserved. The client asks for one and checks out again."""

    code = "shipping_address_required"


class GuestEmailRequired(PermissionDenied):
    """A guest without an e-mail may watch and chat but not buy (nor become a full account)."""

    code = "guest_email_required"


# --- seller pages (issue 11): the catalog page's refusals ------------------------------------


class ProductArchived(DomainError):
    """The product is archived: it keeps its orders but cannot be offered until unarchived."""

    code = "product_archived"


class InvalidCsv(InvalidInput):
    """A catalog import with row errors (``details.errors``: line, column, message); nothing
    was written."""

    code = "invalid_csv"


class WeakPassword(InvalidInput):
    """A password the rule in ``domain/passwords.py`` refuses; the message says why."""

    code = "weak_password"


class HandleTaken(DomainError):
    """Another account has this handle (handles compare case-insensitively)."""

    code = "handle_taken"


class HandleInvalid(InvalidInput):
    """A handle outside ``[a-z0-9_]{3,30}`` (after lower-casing)."""

    code = "handle_invalid"


class CannotFollowSelf(DomainError):
    code = "cannot_follow_self"


class ShowEnded(DomainError):
    """The show is over for good: nothing can be scheduled on it (a reminder, say)."""

    code = "show_ended"


# --- trust (issue 17): reviews by verified buyers and appeals ---------------------------------


class NotYourOrder(NotFound):
    """Reviewing an order that is not the caller's: 404 like every other order endpoint, so an
    order id never confirms that someone else's order exists."""

    code = "not_your_order"


class OrderNotPaid(DomainError):
    """The order was never paid (reserved, awaiting payment, expired, failed or cancelled)."""

    code = "order_not_paid"


class ReviewNotYet(DomainError):
    """The order can be reviewed once fulfilled (or, for goods not shipped, 14 days after
    payment); ``details.opens_at`` is when (epoch ms), null while it waits for fulfilment."""

    code = "review_not_yet"


class AlreadyReviewed(DomainError):
    """This order already has its review (one per order)."""

    code = "already_reviewed"


class AlreadyReplied(DomainError):
    """The seller has already replied to this review (one public reply)."""

    code = "already_replied"


class ReviewRejected(InvalidInput):
    """A review's text has a link or a banned word (``details.reason``: ``link`` or
    ``banned_word``); the same filters as chat."""

    code = "review_rejected"


class QuestionRejected(InvalidInput):
    """A buyer question's or answer's text has a link or a banned word (``details.reason``);
    the review filters, which are chat's."""

    code = "question_rejected"


class NotAVerifiedBuyer(PermissionDenied):
    """Only a verified buyer of the product (a paid order of it, not refunded in full) answers
    a buyer question."""

    code = "not_a_verified_buyer"


class AlreadyAnswered(DomainError):
    """This buyer has answered this question already (one answer per buyer per question)."""

    code = "already_answered"


class NothingToAppeal(DomainError):
    """The caller is neither banned nor timed out in this show."""

    code = "nothing_to_appeal"


class AppealExists(DomainError):
    """This ban or timeout has been appealed already (one appeal per action)."""

    code = "appeal_exists"


class AppealDecided(DomainError):
    """The appeal has been decided already."""

    code = "appeal_decided"


# --- coupons and voucher drops (issue 15): docs/SOCIAL.md ---------------------------------------


class CouponError(DomainError):
    """A coupon code given at checkout cannot be used; nothing was reserved or redeemed."""

    code = "coupon_error"


class CouponInvalid(CouponError):
    """No such code at this seller, or the seller disabled it."""

    code = "coupon_invalid"


class CouponNotStarted(CouponError):
    code = "coupon_not_started"


class CouponExpired(CouponError):
    code = "coupon_expired"


class CouponExhausted(CouponError):
    """Every redemption the coupon allows is taken (by paid or still-open orders)."""

    code = "coupon_exhausted"


class CouponAlreadyUsed(CouponError):
    """The buyer has used the coupon as many times as it allows one buyer."""

    code = "coupon_already_used"


class CouponNotApplicable(CouponError):
    """The coupon is for another show, product or currency."""

    code = "coupon_not_applicable"


class CouponMinOrder(CouponError):
    """The order is below the coupon's minimum (``details.min_order``: {amount, currency})."""

    code = "coupon_min_order"


class CouponFollowersOnly(CouponError):
    """The coupon is for the seller's followers and the buyer does not follow them."""

    code = "coupon_followers_only"


class DropEnded(DomainError):
    """The voucher drop's time is over (or it was never started in this show)."""

    code = "drop_ended"


class DropExhausted(DomainError):
    """Every claim of the voucher drop is taken."""

    code = "drop_exhausted"


class SellerCannotClaim(DomainError):
    """The show's seller and hosts cannot claim their own drop."""

    code = "seller_cannot_claim"
