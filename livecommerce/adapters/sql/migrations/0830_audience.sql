-- Audience (issue 16): seller handles, follows and show reminders (RSVPs).
-- A handle is stored lower-case, so the unique index makes handles unique case-insensitively;
-- sellers that exist already get theirs at start-up (SqlAccountStore.fill_handles: made from
-- the name, which SQL cannot portably do).
ALTER TABLE users ADD COLUMN handle TEXT;
CREATE UNIQUE INDEX users_handle ON users (handle);
-- One row per (follower, seller): following twice is a no-op; counts are COUNT(*) by seller.
CREATE TABLE follows (
    follower_id TEXT NOT NULL REFERENCES users(id),
    seller_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (follower_id, seller_id)
);
CREATE INDEX follows_seller ON follows (seller_id, follower_id);
CREATE INDEX follows_follower_recent ON follows (follower_id, created_at);
-- One row per (show, user): who asked to be reminded and when (what the notifier will read).
CREATE TABLE rsvps (
    show_id TEXT NOT NULL REFERENCES shows(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (show_id, user_id)
);
CREATE INDEX rsvps_user ON rsvps (user_id, created_at);
