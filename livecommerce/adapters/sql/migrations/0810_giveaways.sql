-- Giveaways (issue 15): one row per giveaway with its secret seed (published only once drawn),
-- the secret salt of its entrant pseudonyms, its commitment, and how it closed and was drawn;
-- and its entries, one per person (the unique key makes a repeated entry the same entry).
-- `winners` is the JSON list of winning entry ids in pick order; `settled` says the winners'
-- prize orders are placed.
CREATE TABLE giveaways (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    seller_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    winners_count INTEGER NOT NULL,
    entry_mode TEXT NOT NULL,
    keyword TEXT,
    requires_follow INTEGER NOT NULL,
    seed TEXT NOT NULL,
    salt TEXT NOT NULL,
    commitment TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    closes_at BIGINT NOT NULL,
    closed_at BIGINT,
    entries_hash TEXT,
    drawn_at BIGINT,
    winners TEXT,
    settled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX giveaways_show ON giveaways (show_id, created_at);
CREATE INDEX giveaways_due ON giveaways (status, closes_at);
CREATE TABLE giveaway_entries (
    id TEXT PRIMARY KEY,
    giveaway_id TEXT NOT NULL REFERENCES giveaways(id),
    user_id TEXT NOT NULL,
    entrant TEXT NOT NULL,
    at BIGINT NOT NULL,
    UNIQUE (giveaway_id, user_id)
);
