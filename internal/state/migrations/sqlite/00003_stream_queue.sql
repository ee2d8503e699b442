-- The streaming syncs' change queues: what a stream has read from its
-- source (and acknowledged there) but not yet delivered. One row per
-- sync and record key: a newer change of a key replaces the pending one,
-- so a queue holds at most one row per distinct key however long the
-- destination is away. seq orders delivery and guards removal: a row is
-- removed after delivery only if no newer change replaced it meanwhile.
-- stream_queue_seqs hands out each sync's seq numbers, never twice.

-- +goose Up
CREATE TABLE stream_queue (
	sync TEXT NOT NULL,
	key TEXT NOT NULL,
	seq INTEGER NOT NULL,
	op TEXT NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (sync, key)
);
CREATE UNIQUE INDEX stream_queue_by_seq ON stream_queue(sync, seq);
CREATE TABLE stream_queue_seqs (
	sync TEXT PRIMARY KEY,
	seq INTEGER NOT NULL
);

-- +goose Down
DROP TABLE stream_queue_seqs;
DROP TABLE stream_queue;
