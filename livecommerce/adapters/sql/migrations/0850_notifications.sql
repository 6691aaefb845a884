-- Notifications (issue 16 part 3): the outbox, per-user notifications, their per-channel
-- deliveries, preferences and Web Push subscriptions.
-- The outbox: what a state change leaves in its own transaction (show.live with the status
-- update, order.paid with the journal). dedupe_key makes writing the same change twice a no-op;
-- a worker claims a row with a lease (claimed_until, claim) and records how far its fan-out got
-- (progress: the last recipient written), so a killed worker's successor resumes, not repeats.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    claim TEXT,
    progress TEXT NOT NULL DEFAULT '',
    done_at BIGINT
);
CREATE INDEX outbox_open ON outbox (created_at) WHERE done_at IS NULL;
-- One notification per (event, user): its id is derived from the pair, so a fan-out page
-- written twice adds nothing. shown_at: the in-app delivery happened (the bell lists only those).
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    url TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    shown_at BIGINT,
    read_at BIGINT
);
CREATE INDEX notifications_user ON notifications (user_id, created_at);
-- One delivery per (notification, channel): id = notification id + ':' + channel.
CREATE TABLE notification_deliveries (
    id TEXT PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications(id),
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    claim TEXT,
    last_error TEXT,
    sent_at BIGINT
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_at) WHERE status = 'pending';
CREATE TABLE notification_preferences (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    switched_off TEXT NOT NULL DEFAULT '[]',
    quiet_start TEXT,
    quiet_end TEXT,
    timezone TEXT,
    answer_buyer_questions INTEGER NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
CREATE TABLE push_subscriptions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    endpoint TEXT NOT NULL UNIQUE,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
