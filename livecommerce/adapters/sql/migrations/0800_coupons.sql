-- Coupons and voucher drops (issue 15, docs/SOCIAL.md). Codes are stored upper-case, so the
-- unique (seller_id, code) makes them unique per seller regardless of case. An order keeps the
-- discount its coupon gave (its total is after it). `coupon_redemptions` is the durable record
-- of who used which coupon for which order: `returned_at` is set once, when the order gave the
-- redemption back (cancelled, expired, failed or refunded). The live counts that decide a
-- stampede sit in the redemption store (in-process or Redis).
ALTER TABLE orders ADD COLUMN discount_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN coupon_id TEXT;
ALTER TABLE orders ADD COLUMN coupon_code TEXT;

CREATE TABLE coupons (
    id TEXT PRIMARY KEY,
    seller_id TEXT NOT NULL,
    code TEXT NOT NULL,
    kind TEXT NOT NULL,
    value BIGINT NOT NULL,
    currency TEXT,
    max_redemptions INTEGER,
    per_buyer INTEGER,
    min_order BIGINT,
    starts_at BIGINT,
    ends_at BIGINT,
    scope_show_id TEXT,
    scope_product_id TEXT,
    followers_only INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    drop_id TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (seller_id, code)
);
CREATE INDEX coupons_seller ON coupons (seller_id, created_at);

CREATE TABLE coupon_redemptions (
    order_id TEXT PRIMARY KEY,
    coupon_id TEXT NOT NULL,
    buyer_id TEXT NOT NULL,
    discount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    returned_at BIGINT
);
CREATE INDEX coupon_redemptions_coupon ON coupon_redemptions (coupon_id);

-- A voucher drop: the coupon template every claimer's coupon copies (JSON), how many claims
-- and until when. One row per claim; the claimer's coupon id is derived from (drop, user).
CREATE TABLE drops (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    seller_id TEXT NOT NULL,
    template TEXT NOT NULL,
    claims INTEGER NOT NULL,
    ends_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX drops_show ON drops (show_id);
CREATE TABLE drop_claims (
    drop_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    coupon_id TEXT NOT NULL,
    code TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (drop_id, user_id)
);
