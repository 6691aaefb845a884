-- One stock: a variant's stock is the inventory. Every change of it is a movement row (who, why,
-- when); product_variants.stock is their sum, kept in the same transaction as each movement.
CREATE TABLE inventory_movements (
    id TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products(id),
    variant_id TEXT NOT NULL REFERENCES product_variants(id),
    delta BIGINT NOT NULL,
    -- initial | adjustment | sale | refund_restock | import
    reason TEXT NOT NULL,
    -- unique, so a replayed sale or restock is written once (sale:<order>, refund_restock:<order>)
    idempotency_key TEXT NOT NULL UNIQUE,
    order_id TEXT,
    actor_id TEXT,
    note TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL,
    -- 1, 2, 3… per variant in the order they were written (the variant's row lock orders them)
    seq BIGINT NOT NULL,
    UNIQUE (variant_id, seq)
);
CREATE INDEX inventory_movements_order ON inventory_movements (order_id);

-- The stock variants had before movements existed is their opening balance.
INSERT INTO inventory_movements (id, product_id, variant_id, delta, reason, idempotency_key,
                                 order_id, actor_id, note, at, seq)
SELECT 'mov_open_' || v.id, v.product_id, v.id, v.stock, 'initial', 'initial:' || v.id,
       NULL, p.seller_id, 'opening balance', p.created_at, 1
FROM product_variants v JOIN products p ON p.id = v.product_id
WHERE v.stock <> 0;

-- An offer no longer has stock of its own: what it had becomes its cap (optional from now on).
ALTER TABLE offers ADD COLUMN cap BIGINT;
UPDATE offers SET cap = stock;
ALTER TABLE offers DROP COLUMN stock;
-- Every offer of a product sells from its variants: their pool is rebuilt per product.
CREATE INDEX offers_product ON offers (product_id);
