-- Show lifecycle: a show can be paused (publisher gone, show not over) and keeps its on-air
-- time, the position of its replay's playhead (pauses are not recorded).
ALTER TABLE shows ADD COLUMN paused_at BIGINT;
ALTER TABLE shows ADD COLUMN live_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE shows ADD COLUMN live_since BIGINT;
