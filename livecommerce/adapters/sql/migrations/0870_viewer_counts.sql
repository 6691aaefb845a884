-- Honest viewer counts (docs/METRICS.md): each show's peak of people watching at once, and
-- the people who ever watched it, one row each, named only by a keyed hash (never an account
-- id, guest token or browser id in the clear). Both survive restarts and are written by every
-- node idempotently: the peak only ever rises, a viewer row is inserted once.
CREATE TABLE show_viewer_peaks (
    show_id TEXT PRIMARY KEY,
    peak INTEGER NOT NULL,
    at BIGINT NOT NULL
);

CREATE TABLE show_viewers (
    show_id TEXT NOT NULL,
    viewer TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (show_id, viewer)
);
