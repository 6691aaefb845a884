-- `auction.closed` is announced after the settlement commits. A node that dies (or shuts down)
-- between the two leaves `announced = 0`, and any node's sweeper announces the close after a
-- grace period; settlements made before this migration were announced.
ALTER TABLE auctions ADD COLUMN announced INTEGER NOT NULL DEFAULT 0;
UPDATE auctions SET announced = 1 WHERE settled = 1;
CREATE INDEX auctions_unannounced ON auctions (settled, announced, closed_at);
