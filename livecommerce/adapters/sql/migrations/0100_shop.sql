-- Shop: offers in shows, orders, the double-entry journal and provider event dedup.
-- Money is BIGINT minor units plus an ISO currency; timestamps are epoch milliseconds.
CREATE TABLE offers (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    seller_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    price_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    stock BIGINT NOT NULL,
    per_buyer_limit INTEGER,
    starts_at BIGINT,
    ends_at BIGINT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    pinned_at BIGINT
);
CREATE INDEX offers_show ON offers (show_id);

-- One row per checkout; (buyer_id, idempotency_key) makes a retried checkout the same order.
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    buyer_id TEXT NOT NULL,
    seller_id TEXT NOT NULL,
    show_id TEXT NOT NULL,
    offer_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    variant_id TEXT,
    quantity INTEGER NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    payment_provider TEXT NOT NULL DEFAULT '',
    payment_ref TEXT NOT NULL DEFAULT '',
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    UNIQUE (buyer_id, idempotency_key)
);
CREATE INDEX orders_seller ON orders (seller_id, created_at);
CREATE INDEX orders_buyer ON orders (buyer_id, created_at);
CREATE INDEX orders_offer ON orders (offer_id, status);
CREATE INDEX orders_due ON orders (status, expires_at);
CREATE INDEX orders_payment ON orders (payment_ref);

-- Append-only journal: a transaction per money movement, unique on (order_id, idempotency_key)
-- so a replayed provider event or refund can never post twice. Lines are signed (debit > 0).
CREATE TABLE journal_transactions (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    idempotency_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (order_id, idempotency_key)
);

CREATE TABLE journal_lines (
    transaction_id TEXT NOT NULL REFERENCES journal_transactions(id),
    line_no INTEGER NOT NULL,
    account TEXT NOT NULL,
    party TEXT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, line_no)
);
CREATE INDEX journal_lines_account ON journal_lines (account, party);

-- Provider webhook events already handled (dedup by the provider's event id).
CREATE TABLE payment_events (
    event_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    type TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

-- The demo provider's payments (no money moves; kept in the store so any node can confirm).
CREATE TABLE demo_payments (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    refunded BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
