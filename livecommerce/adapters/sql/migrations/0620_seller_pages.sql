-- Seller pages: the catalog page's product fields and the host tools' audit names.
-- An archived product stays readable (its orders and replays point at it) but cannot be offered.
ALTER TABLE products ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
-- The option the variants differ in ("Size"); each variant's label is its value ("M").
ALTER TABLE products ADD COLUMN option_name TEXT NOT NULL DEFAULT '';
-- The stored sizes of the product photo: JSON [{"width", "height", "url"}], smallest first.
ALTER TABLE products ADD COLUMN images TEXT NOT NULL DEFAULT '[]';
-- The seller's stock-keeping unit; a CSV import updates the variant with the same SKU.
ALTER TABLE product_variants ADD COLUMN sku TEXT;
CREATE INDEX product_variants_sku ON product_variants (sku);
CREATE UNIQUE INDEX product_variants_product_sku ON product_variants (product_id, sku);
-- The target's name when the action was taken, so the audit log reads "Ana banned Bob".
ALTER TABLE moderation_audit ADD COLUMN target_name TEXT NOT NULL DEFAULT '';
