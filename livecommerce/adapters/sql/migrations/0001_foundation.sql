-- Accounts, tokens, shows and the catalog. Timestamps are epoch milliseconds (BIGINT);
-- ids are TEXT from livecommerce.ids.new_id; booleans are INTEGER 0/1.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    password_hash TEXT,
    role TEXT NOT NULL,
    is_guest INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Bearer API tokens, page sessions and guest tokens; only the SHA-256 of a token is kept.
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE shows (
    id TEXT PRIMARY KEY,
    seller_id TEXT NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    scheduled_at BIGINT,
    started_at BIGINT,
    ended_at BIGINT,
    stream_key_hash TEXT NOT NULL,
    stream_key_rotated_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX shows_seller ON shows (seller_id);
CREATE INDEX shows_status ON shows (status);

CREATE TABLE show_hosts (
    show_id TEXT NOT NULL REFERENCES shows(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (show_id, user_id)
);

CREATE TABLE products (
    id TEXT PRIMARY KEY,
    seller_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    price_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    image_url TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX products_seller ON products (seller_id);

-- Stock lives per variant; a product without options has one variant labelled 'default'.
CREATE TABLE product_variants (
    id TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products(id),
    label TEXT NOT NULL,
    stock BIGINT NOT NULL,
    price_minor BIGINT,
    position INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX product_variants_product ON product_variants (product_id);
