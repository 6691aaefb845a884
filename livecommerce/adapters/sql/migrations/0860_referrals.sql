-- Share links and referrals (issue 16 part 4).
-- A show's referral program: the share of what a referred buyer paid (basis points; no row: 0).
CREATE TABLE referral_programs (
    show_id TEXT PRIMARY KEY REFERENCES shows(id),
    referral_bps INTEGER NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One share code per (show, user): asking again answers the same code.
CREATE TABLE referral_codes (
    code TEXT PRIMARY KEY,
    show_id TEXT NOT NULL REFERENCES shows(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    UNIQUE (show_id, user_id)
);
-- The last share link each visitor came to a show by (last touch). visitor is 'u:<user id>'
-- for an account, 'v:<visitor cookie>' for a browser not signed in (claimed on sign-in).
CREATE TABLE referral_touches (
    visitor TEXT NOT NULL,
    show_id TEXT NOT NULL REFERENCES shows(id),
    code TEXT NOT NULL REFERENCES referral_codes(code),
    touched_at BIGINT NOT NULL,
    PRIMARY KEY (visitor, show_id)
);
-- Visits by a link, once per visitor and UTC day (the primary key is the deduplication).
CREATE TABLE referral_visits (
    code TEXT NOT NULL REFERENCES referral_codes(code),
    visitor TEXT NOT NULL,
    day INTEGER NOT NULL,
    PRIMARY KEY (code, visitor, day)
);
