-- Sessions a user can list and end: every token gets a public id (never the token or its
-- digest) and the time it was last used (written at most once a minute).
-- Tokens are kept from now on as HMAC-SHA256 under the server's secret key, so rotating the key
-- ends every session; the SHA-256 digests of before would match nothing, so they go now
-- (everyone signs in once more after this upgrade; demo tokens are reissued at start-up).
DELETE FROM tokens;
ALTER TABLE tokens ADD COLUMN id TEXT;
ALTER TABLE tokens ADD COLUMN last_seen_at BIGINT;
CREATE UNIQUE INDEX tokens_id ON tokens (id);
