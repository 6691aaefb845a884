-- Reviews by verified buyers (docs/TRUST.md): one per order (the unique order_id), the
-- seller's one reply, and reports (one per reporter). Whether the order was refunded is read
-- from the order itself, so a refund after the review still marks it.
CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE REFERENCES orders(id),
    product_id TEXT NOT NULL,
    variant_id TEXT,
    variant_label TEXT NOT NULL,
    seller_id TEXT NOT NULL,
    buyer_id TEXT NOT NULL,
    rating INTEGER NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    reply TEXT,
    reply_at BIGINT,
    at BIGINT NOT NULL
);
CREATE INDEX reviews_product ON reviews (product_id, status, at);
CREATE INDEX reviews_seller ON reviews (seller_id, status, at);

CREATE TABLE review_reports (
    review_id TEXT NOT NULL REFERENCES reviews(id),
    reporter_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (review_id, reporter_id)
);
