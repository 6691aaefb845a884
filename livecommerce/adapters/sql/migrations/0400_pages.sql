-- Pages: concurrent-viewer samples for the seller dashboard (one row per live show per interval).
CREATE TABLE viewer_samples (
    show_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    viewers INTEGER NOT NULL,
    PRIMARY KEY (show_id, at)
);
