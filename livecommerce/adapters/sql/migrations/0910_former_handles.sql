-- A seller's former storefront handles (issue 16): links shared with an old address keep
-- working (/s/{old} redirects to the seller's handle now). A handle someone holds now always
-- wins over a former one; a handle retired twice points at whoever retired it last.
CREATE TABLE former_handles (
    handle TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    retired_at BIGINT NOT NULL
);
