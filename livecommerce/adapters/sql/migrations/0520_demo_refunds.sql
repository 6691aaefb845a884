-- The demo provider's refunds, one row per idempotency key, as Stripe keeps them: the same key
-- again is the same refund (nothing refunded twice); with another amount it is refused.
CREATE TABLE demo_refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    amount BIGINT NOT NULL
);
