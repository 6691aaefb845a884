-- Any node's drop sweeper ends the drops whose time is up that nobody ended (their node died).
CREATE INDEX drops_due ON drops (ended_at, ends_at);
