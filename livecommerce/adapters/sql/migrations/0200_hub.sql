-- Live hub: chat history with a per-show seq, moderation state, reports, audit log, Q&A.
-- Timestamps are epoch milliseconds; booleans INTEGER 0/1; JSON kept as TEXT.

-- One row per show: the last seq handed out (UPDATE ... RETURNING serialises nodes).
CREATE TABLE chat_seq (
    show_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);

CREATE TABLE chat_messages (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    badges TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    at BIGINT NOT NULL,
    UNIQUE (show_id, seq)
);
CREATE INDEX chat_messages_user ON chat_messages (show_id, user_id, at);
CREATE INDEX chat_messages_status ON chat_messages (show_id, status, seq);

CREATE TABLE chat_policies (
    show_id TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE chat_bans (
    show_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    banned_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (show_id, user_id)
);

CREATE TABLE chat_timeouts (
    show_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    until BIGINT NOT NULL,
    PRIMARY KEY (show_id, user_id)
);

CREATE TABLE chat_reports (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    reporter_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    at BIGINT NOT NULL,
    UNIQUE (message_id, reporter_id)
);
CREATE INDEX chat_reports_show ON chat_reports (show_id, status, at);

-- Append-only: who did what to whom, when and why.
CREATE TABLE moderation_audit (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    target_user_id TEXT,
    target_message_id TEXT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX moderation_audit_show ON moderation_audit (show_id, at);

CREATE TABLE qa_questions (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    badges TEXT NOT NULL,
    text TEXT NOT NULL,
    votes BIGINT NOT NULL,
    at BIGINT NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0,
    answer TEXT NOT NULL DEFAULT '',
    answered_by TEXT,
    answered_at BIGINT,
    media_ts_ms BIGINT
);
CREATE INDEX qa_questions_show ON qa_questions (show_id, answered, votes);

-- One vote per user per question, enforced by the primary key.
CREATE TABLE qa_votes (
    question_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (question_id, user_id)
);
