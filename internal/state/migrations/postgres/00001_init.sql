-- The shared store's schema: the embedded one's tables with PostgreSQL's
-- types. Times stay text (UTC, nine fraction digits) so that both backends
-- share every query and sort the same way.

-- +goose Up
CREATE TABLE runs (
	id TEXT PRIMARY KEY,
	sync TEXT NOT NULL,
	model TEXT NOT NULL,
	destination TEXT NOT NULL,
	status TEXT NOT NULL,
	full_resync BOOLEAN NOT NULL DEFAULT FALSE,
	started_at TEXT NOT NULL,
	finished_at TEXT,
	counts TEXT NOT NULL DEFAULT '{}',
	phases TEXT NOT NULL DEFAULT '[]',
	error TEXT NOT NULL DEFAULT '',
	row_errors BIGINT NOT NULL DEFAULT 0,
	requests BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_sync ON runs(sync, started_at);
CREATE INDEX runs_by_status ON runs(status);
CREATE TABLE row_errors (
	run_id TEXT NOT NULL,
	seq BIGINT NOT NULL,
	key TEXT NOT NULL,
	op TEXT NOT NULL,
	phase TEXT NOT NULL,
	error TEXT NOT NULL,
	PRIMARY KEY (run_id, seq)
);
CREATE TABLE requests (
	run_id TEXT NOT NULL,
	seq BIGINT NOT NULL,
	at TEXT NOT NULL,
	method TEXT NOT NULL,
	url TEXT NOT NULL,
	status INTEGER NOT NULL,
	latency_ms DOUBLE PRECISION NOT NULL,
	request_body TEXT NOT NULL,
	response_body TEXT NOT NULL,
	error TEXT NOT NULL,
	PRIMARY KEY (run_id, seq)
);
CREATE TABLE sync_state (
	sync TEXT PRIMARY KEY,
	mapping_hash TEXT NOT NULL,
	primary_key TEXT NOT NULL,
	last_rows BIGINT NOT NULL
);
CREATE TABLE api_tokens (
	name TEXT PRIMARY KEY,
	role TEXT NOT NULL,
	hash TEXT NOT NULL,
	created_at TEXT NOT NULL
);
CREATE TABLE audit (
	seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
