-- Offers on the show's clock: a flash sale is prepared with a duration and its window is set
-- when it starts; a pin can be taken back (unpinned_at), and a new pin replaces the previous one.
ALTER TABLE offers ADD COLUMN duration_ms BIGINT;
ALTER TABLE offers ADD COLUMN unpinned_at BIGINT;
-- Before this, every offer ever pinned kept its pin; only the latest one per show was on screen.
UPDATE offers SET unpinned_at = pinned_at
WHERE pinned_at IS NOT NULL
  AND pinned_at < (SELECT MAX(o.pinned_at) FROM offers o WHERE o.show_id = offers.show_id);
