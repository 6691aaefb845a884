-- Group buys (issue 15): the tiers of a group offer and its close. `closed_at` is set once, by
-- the first closer, with the members counted then and the final unit price (NULL: the first tier
-- was not reached and every hold is voided), so a closer restarted after a crash settles the
-- rest by the same decision. `settled_at` is set when no member is left to capture or void.
CREATE TABLE group_buys (
    offer_id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    variant_id TEXT,
    tiers TEXT NOT NULL,
    currency TEXT NOT NULL,
    buyers INTEGER,
    final_price BIGINT,
    closed_at BIGINT,
    settled_at BIGINT
);
CREATE INDEX group_buys_unsettled ON group_buys (settled_at);

-- The demo provider's authorise-then-capture (Stripe's `capture_method=manual`): a held payment
-- is `requires_capture` until captured (`amount_captured`) or cancelled; `capture_declines`
-- marks the test card that authorises but is declined at capture.
ALTER TABLE demo_payments ADD COLUMN capture_method TEXT NOT NULL DEFAULT 'automatic';
ALTER TABLE demo_payments ADD COLUMN amount_captured BIGINT;
ALTER TABLE demo_payments ADD COLUMN capture_declines INTEGER NOT NULL DEFAULT 0;
