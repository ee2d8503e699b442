-- The embedded store's schema. IF NOT EXISTS because stores made before
-- migrations were versioned already hold these tables.

-- +goose Up
CREATE TABLE IF NOT EXISTS runs (
	id TEXT PRIMARY KEY,
	sync TEXT NOT NULL,
	model TEXT NOT NULL,
	destination TEXT NOT NULL,
	status TEXT NOT NULL,
	full_resync INTEGER NOT NULL DEFAULT 0,
	started_at TEXT NOT NULL,
	finished_at TEXT,
	counts TEXT NOT NULL DEFAULT '{}',
	phases TEXT NOT NULL DEFAULT '[]',
	error TEXT NOT NULL DEFAULT '',
	row_errors INTEGER NOT NULL DEFAULT 0,
	requests INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_sync ON runs(sync, started_at);
CREATE TABLE IF NOT EXISTS row_errors (
	run_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	key TEXT NOT NULL,
	op TEXT NOT NULL,
	phase TEXT NOT NULL,
	error TEXT NOT NULL,
	PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS requests (
	run_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	at TEXT NOT NULL,
	method TEXT NOT NULL,
	url TEXT NOT NULL,
	status INTEGER NOT NULL,
	latency_ms REAL NOT NULL,
	request_body TEXT NOT NULL,
	response_body TEXT NOT NULL,
	error TEXT NOT NULL,
	PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS sync_state (
	sync TEXT PRIMARY KEY,
	mapping_hash TEXT NOT NULL,
	primary_key TEXT NOT NULL,
	last_rows INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
	name TEXT PRIMARY KEY,
	role TEXT NOT NULL,
	hash TEXT NOT NULL,
	created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	at TEXT NOT NULL,
	token TEXT NOT NULL,
	role TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	outcome TEXT NOT NULL,
	status INTEGER NOT NULL
);

-- +goose Down
DROP TABLE audit;
DROP TABLE api_tokens;
DROP TABLE sync_state;
DROP TABLE requests;
DROP TABLE row_errors;
DROP TABLE runs;
