-- A request for a sign-in link is stored alike for every address, with its
-- event in the same transaction; a worker answers it later, emailing a link
-- only to an address that has orders. No token is kept here.
--
-- A webhook message's claim carries a token of its own, new at every claim:
-- an attempt settles the message only under the claim it was made under,
-- never after its lease lapsed and another worker took the message.

-- +goose Up
CREATE TABLE customer_access_requests (
    id           text COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    email        text        NOT NULL CHECK (email <> ''),
    requested_at timestamptz NOT NULL
);
-- Old requests are purged by age.
CREATE INDEX customer_access_requests_requested_idx ON customer_access_requests (requested_at);

ALTER TABLE webhook_messages ADD COLUMN claim_token text;

-- +goose Down
ALTER TABLE webhook_messages DROP COLUMN claim_token;
DROP TABLE customer_access_requests;
