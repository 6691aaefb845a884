-- Auctions (issue 14): the latest live state the accepting nodes wrote with the bid rows (JSON,
-- and its version so an older write never replaces a newer one), from which a live store that
-- lost its data (a Redis restarted empty) is rebuilt.
ALTER TABLE auctions ADD COLUMN state TEXT;
ALTER TABLE auctions ADD COLUMN state_version BIGINT;
