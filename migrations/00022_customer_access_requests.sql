-- A request for a sign-in link is stored alike for every address, with its
-- event in the same transaction; a worker answers it later, emailing a link
-- only to an address that has orders. No token is kept here.

-- +goose Up
CREATE TABLE customer_access_requests (
    id           text COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    email        text        NOT NULL CHECK (email <> ''),
    requested_at timestamptz NOT NULL
);
-- Old requests are purged by age.
CREATE INDEX customer_access_requests_requested_idx ON customer_access_requests (requested_at);

-- +goose Down
DROP TABLE customer_access_requests;
