-- Buyers: guests who buy, saved shipping addresses, products that ship, and what an order keeps
-- about where it went and how it was handed over.

-- A guest's e-mail is a contact address, not a login: it is not unique (two guests, or a guest
-- and a full account, may give the same one) and becomes users.email (unique, the login) only
-- when the guest upgrades to a full account.
ALTER TABLE users ADD COLUMN guest_email TEXT;

-- One saved address per user (the buy sheet's default); orders keep their own copy.
CREATE TABLE shipping_addresses (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    name TEXT NOT NULL,
    line1 TEXT NOT NULL,
    line2 TEXT,
    city TEXT NOT NULL,
    region TEXT,
    postal_code TEXT NOT NULL,
    country TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Products that are shipped need an address at checkout (digital goods and pick-ups do not).
ALTER TABLE products ADD COLUMN requires_shipping INTEGER NOT NULL DEFAULT 1;

-- The address the order was bought with (JSON, a snapshot: later edits of the buyer's saved
-- address never change it) and the fulfilment the seller recorded.
ALTER TABLE orders ADD COLUMN shipping_address TEXT;
ALTER TABLE orders ADD COLUMN carrier TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN tracking_number TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN fulfilled_at BIGINT;
-- A refund asked for the units to go back into stock (set once, with the refund's journal entry).
ALTER TABLE orders ADD COLUMN restocked INTEGER NOT NULL DEFAULT 0;
-- Orders fulfilled before this have no time of their own: their last change is the best guess.
UPDATE orders SET fulfilled_at = updated_at WHERE status = 'fulfilled';
