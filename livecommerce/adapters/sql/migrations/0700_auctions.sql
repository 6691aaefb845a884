-- Auctions (issue 14): one row per auction offer with its settings (the canonical JSON that
-- seeds the bid log's hash chain), the secret salt of its bidder pseudonyms and how it settled;
-- and the bid log, one row per accepted bid or proxy bid (the account id is never published).
-- `refused` is the JSON of refused bids per error code, counted at the close.
CREATE TABLE auctions (
    offer_id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    variant_id TEXT,
    settings TEXT NOT NULL,
    salt TEXT NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0,
    winner_id TEXT,
    amount BIGINT,
    order_id TEXT,
    second_order_id TEXT,
    head TEXT,
    closed_at BIGINT,
    refused TEXT
);
CREATE INDEX auctions_unsettled ON auctions (settled);
CREATE TABLE auction_bids (
    offer_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    bidder TEXT NOT NULL,
    user_id TEXT NOT NULL,
    amount BIGINT NOT NULL,
    max_applied INTEGER NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (offer_id, seq)
);
