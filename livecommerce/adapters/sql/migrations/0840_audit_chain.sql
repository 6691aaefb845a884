-- The moderation audit log is a hash chain per show (docs/TRUST.md): seq 1, 2, 3... per show,
-- each row's prev_hash and hash. An append locks the show's row in moderation_audit_heads
-- (UPDATE ... RETURNING: a row lock on PostgreSQL, BEGIN IMMEDIATE on SQLite), so two nodes
-- appending at once take turns and the chain never forks; the unique (show_id, seq) is the
-- backstop. Rows written before this migration are chained at the show's next append or read.
ALTER TABLE moderation_audit ADD COLUMN seq BIGINT;
ALTER TABLE moderation_audit ADD COLUMN prev_hash TEXT;
ALTER TABLE moderation_audit ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX moderation_audit_seq ON moderation_audit (show_id, seq);

CREATE TABLE moderation_audit_heads (
    show_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
