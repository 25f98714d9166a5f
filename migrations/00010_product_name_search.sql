-- Product name search (GET /v1/products?q=) uses a pg_trgm GIN index on
-- name, queried with ILIKE '%q%'. Trigrams rather than full-text search:
-- shoppers type parts of titles ("witcher", "fc 25", "baldur's"), and game
-- names are full of punctuation, numbers and made-up words that text
-- search dictionaries stem or drop; a trigram index answers any substring,
-- case-insensitively, with the same results as the in-memory catalog.
--
-- CREATE EXTENSION needs a superuser (or, from PostgreSQL 13, a database
-- owner: pg_trgm is a trusted extension). When keyward's role is neither,
-- an operator runs, once per database, before migrating:
--     CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- and this migration then only creates the index.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX products_name_trgm ON products USING gin (name gin_trgm_ops);

-- +goose Down
-- The extension stays: other schemas may use it, and dropping it needs
-- the rights creating it did.
DROP INDEX products_name_trgm;
