-- Ask someone who bought it (docs/TRUST.md): shoppers' questions about a product, the buyers
-- each was routed to (the per-buyer ask log the weekly cap counts), one answer per buyer per
-- question, and one lock row per buyer that routing takes so two questions at once cannot both
-- use a buyer's last ask of the week.
CREATE TABLE buyer_questions (
    id TEXT PRIMARY KEY,
    product_id TEXT NOT NULL,
    seller_id TEXT NOT NULL,
    asker_id TEXT NOT NULL,
    text TEXT NOT NULL,
    routed_to INTEGER NOT NULL,
    asked_at BIGINT NOT NULL
);
CREATE INDEX buyer_questions_product ON buyer_questions (product_id, asked_at);
CREATE TABLE buyer_question_routes (
    question_id TEXT NOT NULL REFERENCES buyer_questions(id),
    buyer_id TEXT NOT NULL,
    routed_at BIGINT NOT NULL,
    PRIMARY KEY (question_id, buyer_id)
);
CREATE INDEX buyer_question_routes_buyer ON buyer_question_routes (buyer_id, routed_at);
CREATE TABLE buyer_ask_locks (
    buyer_id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE buyer_answers (
    id TEXT PRIMARY KEY,
    question_id TEXT NOT NULL REFERENCES buyer_questions(id),
    product_id TEXT NOT NULL,
    buyer_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    variant_label TEXT NOT NULL,
    bought_at BIGINT NOT NULL,
    text TEXT NOT NULL,
    at BIGINT NOT NULL,
    UNIQUE (question_id, buyer_id)
);
CREATE INDEX buyer_answers_question ON buyer_answers (question_id, at);
