-- Snapshots kept durably in the shared store, so that any worker can run
-- a sync: the head of each sync's snapshot (the diff package's own
-- encoding, opaque here), its current base in chunks, and the delta groups
-- appended since, one row per acknowledged batch.

-- +goose Up
CREATE TABLE snapshot_heads (
	sync TEXT PRIMARY KEY,
	generation BIGINT NOT NULL,
	head BYTEA NOT NULL
);
CREATE TABLE snapshot_chunks (
	sync TEXT NOT NULL,
	generation BIGINT NOT NULL,
	seq INTEGER NOT NULL,
	data BYTEA NOT NULL,
	PRIMARY KEY (sync, generation, seq)
);
CREATE TABLE snapshot_deltas (
	sync TEXT NOT NULL,
	generation BIGINT NOT NULL,
	seq BIGINT GENERATED ALWAYS AS IDENTITY,
	data BYTEA NOT NULL,
	PRIMARY KEY (sync, generation, seq)
);

-- +goose Down
DROP TABLE snapshot_deltas;
DROP TABLE snapshot_chunks;
DROP TABLE snapshot_heads;
