-- 003_keys.sql: virtual keys, their limits and spend, master keys, audit,
-- spend log and shared metrics counters.
--
-- No raw key is ever stored: hash is the hex SHA-256 of the key and
-- key_name keeps only "sk-...<last 4>" for people to recognise a key.
-- Times are Unix seconds. NULL limits mean "no limit".
CREATE TABLE IF NOT EXISTS vkey (
	hash TEXT PRIMARY KEY,
	key_name TEXT NOT NULL,
	key_alias TEXT,
	user_id TEXT,
	team_id TEXT,
	models TEXT NOT NULL DEFAULT '[]',
	metadata TEXT NOT NULL DEFAULT '{}',
	max_budget REAL CHECK (max_budget IS NULL OR max_budget >= 0),
	budget_duration INTEGER,
	budget_reset_at INTEGER,
	spend REAL NOT NULL DEFAULT 0,
	rpm_limit INTEGER,
	tpm_limit INTEGER,
	max_parallel_requests INTEGER,
	expires INTEGER,
	blocked INTEGER NOT NULL DEFAULT 0,
	admin INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	created_by TEXT
);
CREATE INDEX IF NOT EXISTS vkey_user ON vkey(user_id);
CREATE INDEX IF NOT EXISTS vkey_team ON vkey(team_id);
CREATE INDEX IF NOT EXISTS vkey_alias ON vkey(key_alias);

-- The previous hash of a regenerated key stays valid until grace_until.
CREATE TABLE IF NOT EXISTS vkey_grace (
	old_hash TEXT PRIMARY KEY,
	hash TEXT NOT NULL REFERENCES vkey(hash) ON DELETE CASCADE ON UPDATE CASCADE,
	grace_until INTEGER NOT NULL
);

-- Fixed one-minute windows for rpm_limit and tpm_limit.
CREATE TABLE IF NOT EXISTS vkey_rate (
	hash TEXT NOT NULL,
	window INTEGER NOT NULL,
	requests INTEGER NOT NULL DEFAULT 0,
	tokens INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (hash, window)
) WITHOUT ROWID;

-- One row per request in flight, for max_parallel_requests. pid and
-- started let any worker reclaim the slot of a worker that died.
CREATE TABLE IF NOT EXISTS vkey_slot (
	id INTEGER PRIMARY KEY,
	hash TEXT NOT NULL,
	pid INTEGER NOT NULL,
	started INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS vkey_slot_hash ON vkey_slot(hash);

-- Master keys recorded by `maskgate master rotate`. The configured
-- MASKGATE_MASTER_KEY is valid unless a row retires it (expires_at set and
-- past); keys created by rotation are valid while expires_at is NULL or
-- in the future.
CREATE TABLE IF NOT EXISTS master_key (
	hash TEXT PRIMARY KEY,
	is_primary INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	expires_at INTEGER,
	created_by TEXT
);

CREATE TABLE IF NOT EXISTS audit_log (
	id INTEGER PRIMARY KEY,
	at INTEGER NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT,
	outcome TEXT NOT NULL,
	detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log(at);

-- Never prompt text: only who, what model, how much.
CREATE TABLE IF NOT EXISTS spend_log (
	id INTEGER PRIMARY KEY,
	request_id TEXT,
	at_ms INTEGER NOT NULL,
	key_hash TEXT NOT NULL,
	key_alias TEXT,
	user_id TEXT,
	team_id TEXT,
	tenant TEXT NOT NULL,
	model TEXT,
	input_tokens INTEGER NOT NULL,
	output_tokens INTEGER NOT NULL,
	cache_write_tokens INTEGER NOT NULL,
	cache_read_tokens INTEGER NOT NULL,
	cost REAL NOT NULL,
	status INTEGER NOT NULL,
	duration_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_log_key ON spend_log(key_hash, at_ms);
CREATE INDEX IF NOT EXISTS spend_log_at ON spend_log(at_ms);

-- Prometheus counters shared by every worker: one row per series.
CREATE TABLE IF NOT EXISTS metric (
	name TEXT NOT NULL,
	labels TEXT NOT NULL,
	value REAL NOT NULL DEFAULT 0,
	PRIMARY KEY (name, labels)
) WITHOUT ROWID;
