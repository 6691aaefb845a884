-- Outgoing webhooks (issue 16 part 5): sellers' endpoints and their event types, the events
-- (each once: event_key is unique, so every node enqueueing it is one event), one delivery per
-- (endpoint, event) with its retry state and lease, and every attempt in the log.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    seller_id TEXT NOT NULL REFERENCES users(id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX webhook_endpoints_seller ON webhook_endpoints (seller_id);
CREATE TABLE webhook_subscriptions (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    type TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, type)
);
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    seller_id TEXT NOT NULL,
    type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    event_key TEXT NOT NULL UNIQUE
);
-- lease/lease_until: the node attempting it now; a claim is a compare-and-set on an expired
-- lease, so two nodes never make the same attempt, and a node that died mid-send leaves a
-- lease that runs out and the delivery is attempted again.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_id TEXT NOT NULL REFERENCES webhook_events(id),
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    give_up_at BIGINT NOT NULL,
    lease TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempt INTEGER NOT NULL,
    at BIGINT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL,
    response_excerpt TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
