-- The epoch of each sync's lock: bumped by every process that takes the
-- sync's advisory lock, and checked by the holder in the transaction of
-- each snapshot write, so a process whose lock session ended unnoticed
-- (and whose sync another process took since) cannot write beside it.

-- +goose Up
CREATE TABLE sync_epochs (
	sync TEXT PRIMARY KEY,
	epoch BIGINT NOT NULL
);

-- +goose Down
DROP TABLE sync_epochs;
