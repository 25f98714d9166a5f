-- Stock keys are known by the keyed hash of their canonical form
-- (domain.CanonicalKeyText): two spellings of one key are one key. Rows
-- stored before hold the hash of the key as typed (hash_version 1); the
-- stock rehash (application.RehashStock, at start-up and `keyward stock
-- rehash`) opens each available one, stores its canonical hash
-- (hash_version 2) and withdraws the later copies of a key it finds
-- twice, pointing them at the copy kept (duplicate_of), and the keys whose
-- text is refused. Those are held: off sale with their ciphertext kept,
-- since the rehash decides on its own and a key the shop paid for is
-- never destroyed by it; an operator's withdrawal drops it. A key sold or
-- withdrawn before has no ciphertext left to rehash: it keeps its old
-- hash, which imports still look up.
--
-- A claimed key keeps its ciphertext until its unit of work commits, so
-- that a claim resumed in the same unit of work still opens its keys; a
-- deferred trigger drops it at commit, as the claim used to at once.

-- +goose Up
ALTER TABLE stock_keys
    ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2)),
    ADD COLUMN duplicate_of text COLLATE "C" REFERENCES stock_keys (id),
    ADD COLUMN held boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT stock_keys_duplicate_withdrawn CHECK (duplicate_of IS NULL OR (status = 'withdrawn' AND held)),
    ADD CONSTRAINT stock_keys_held_withdrawn CHECK (NOT held OR status = 'withdrawn');
-- Every insert says which form its hash is in.
ALTER TABLE stock_keys ALTER COLUMN hash_version DROP DEFAULT;

-- A withdrawn duplicate keeps the canonical hash of the key it repeats.
ALTER TABLE stock_keys DROP CONSTRAINT stock_keys_key_hash_key;
CREATE UNIQUE INDEX stock_keys_key_hash_key ON stock_keys (key_hash) WHERE duplicate_of IS NULL;
-- The rehash walks the available keys of the old form, oldest first.
CREATE INDEX stock_keys_rehash_idx ON stock_keys (created_at, id) WHERE hash_version = 1 AND status = 'available';

-- An available key can be opened; one that left the stock cannot once
-- its unit of work has committed (stock_keys_drop_sealed), unless held.
ALTER TABLE stock_keys DROP CONSTRAINT stock_keys_check;
ALTER TABLE stock_keys ADD CONSTRAINT stock_keys_available_sealed CHECK (status <> 'available' OR sealed IS NOT NULL);

-- +goose StatementBegin
CREATE FUNCTION stock_keys_drop_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stock_keys SET sealed = NULL WHERE id = NEW.id AND status <> 'available' AND NOT held;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER stock_keys_drop_sealed
    AFTER INSERT OR UPDATE ON stock_keys
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.status <> 'available' AND NEW.sealed IS NOT NULL AND NOT NEW.held)
    EXECUTE FUNCTION stock_keys_drop_sealed();

-- +goose Down
-- Version 13 knows each hash once; a withdrawn duplicate shares its hash
-- with the key it repeats, and rows are never deleted.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM stock_keys WHERE duplicate_of IS NOT NULL OR held) THEN
        RAISE EXCEPTION 'stock_keys holds keys the rehash withdrew and held (duplicates sharing a hash with the key they repeat, refused texts, each with its ciphertext): this migration cannot be rolled back without destroying them';
    END IF;
END
$$;
-- +goose StatementEnd
DROP TRIGGER stock_keys_drop_sealed ON stock_keys;
DROP FUNCTION stock_keys_drop_sealed();
UPDATE stock_keys SET sealed = NULL WHERE status <> 'available';
ALTER TABLE stock_keys DROP CONSTRAINT stock_keys_available_sealed;
ALTER TABLE stock_keys ADD CONSTRAINT stock_keys_check CHECK ((status = 'available') = (sealed IS NOT NULL));
DROP INDEX stock_keys_rehash_idx;
DROP INDEX stock_keys_key_hash_key;
ALTER TABLE stock_keys ADD CONSTRAINT stock_keys_key_hash_key UNIQUE (key_hash);
ALTER TABLE stock_keys DROP COLUMN held, DROP COLUMN duplicate_of, DROP COLUMN hash_version;
