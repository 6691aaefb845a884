-- Appeals against a ban or timeout (docs/TRUST.md): one per action, enforced by the unique
-- action_id (the audit entry of the ban or timeout appealed).
CREATE TABLE moderation_appeals (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    action_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    until_at BIGINT,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    at BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    decided_by TEXT,
    decided_by_name TEXT NOT NULL DEFAULT '',
    decided_at BIGINT
);
CREATE INDEX moderation_appeals_show ON moderation_appeals (show_id, status, at);
