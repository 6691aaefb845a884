-- The show's offer timeline: when each offer was pinned, started or ended, in wall time and in
-- the show's media time, so a replay stays shoppable at the right moments.
CREATE TABLE offer_timeline (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    offer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    media_ts_ms BIGINT
);
CREATE INDEX offer_timeline_show ON offer_timeline (show_id, at);
