-- keyward_expect_rows checks, inside one statement, that a write changed
-- the rows it had to: the driver sends a transaction's writes as one
-- statement (adapters/postgres/batch.go), and a write marked with the
-- number of rows it must change (an order's row at the version it was
-- read at) fails the whole statement, and so its transaction, when it
-- changed another number. SQLSTATE KW409 (retry: a row changed since it
-- was read; the unit of work runs again) and KW410 (a final conflict)
-- read as conflicts.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION keyward_expect_rows(got bigint, want bigint, what text, retry boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF got <> want THEN
        RAISE EXCEPTION 'keyward: % changed % rows, expected %', what, got, want
            USING ERRCODE = CASE WHEN retry THEN 'KW409' ELSE 'KW410' END;
    END IF;
    RETURN got;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION keyward_expect_rows(bigint, bigint, text, boolean);
