"""The one error tree (shim on branch `shop` until the foundation lands; main's version wins).

LiveCommerceError
├── DomainError (409): InvalidTransition, SoldOut, OfferNotActive, ShowNotLive, LimitReached, ...
├── NotFound (404) · PermissionDenied (403) · Unauthenticated (401) · InvalidInput (422)
├── IdempotencyConflict (409) · RequestInProgress (409, retryable)
└── AdapterError (502/503): PaymentGatewayError, StoreUnavailable, MediaError
"""

from __future__ import annotations


class LiveCommerceError(Exception):
    """Base of every error the project raises on purpose; `code` is stable on the wire."""

    code = "internal"
    status = 500

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.code)
        self.message = message or self.code


class DomainError(LiveCommerceError):
    code = "domain_error"
    status = 409


class InvalidTransition(DomainError):
    code = "invalid_transition"


class SoldOut(DomainError):
    code = "sold_out"


class OfferNotActive(DomainError):
    code = "offer_not_active"


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


class PayloadTooLarge(LiveCommerceError):
    code = "payload_too_large"
    status = 413


class UnsupportedMedia(LiveCommerceError):
    code = "unsupported_media"
    status = 406


class IdempotencyConflict(LiveCommerceError):
    code = "idempotency_conflict"
    status = 409


class RequestInProgress(LiveCommerceError):
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
    """The provider refused the card; nothing was charged and the reservation is released."""

    code = "payment_declined"
    status = 402


class InvalidSignature(LiveCommerceError):
    """A webhook whose signature, age or body does not verify; answered 400, nothing changes."""

    code = "invalid_signature"
    status = 400
