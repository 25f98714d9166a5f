-- Customers find their orders again: a sign-in link, emailed to an address
-- that has orders, shows that address's orders once. Only the SHA-256 of
-- its token is kept; the address is the one the orders were placed with.

-- +goose Up
CREATE TABLE customer_links (
    id         text COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    email      text        NOT NULL CHECK (email <> ''),
    token_hash bytea       NOT NULL CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT customer_links_token_hash_key UNIQUE (token_hash),
    CHECK (expires_at > created_at)
);
-- Expired links are purged by age.
CREATE INDEX customer_links_expires_idx ON customer_links (expires_at);

-- +goose Down
DROP TABLE customer_links;
