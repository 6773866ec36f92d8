-- PostgreSQL version of sql/005_console.sql: same tables and columns, PostgreSQL types.
-- 005_console.sql: the admin console under /ui/ - sign-in sessions, login
-- throttling, per-day masking counters and the usage anomalies seen.
--
-- A session is looked up by the hex SHA-256 of its cookie value, so a copied
-- database cannot be used to sign in. key_hash names the credential that
-- signed in (master or admin virtual key); every request re-checks that it
-- is still valid, so blocking or rotating it ends its sessions too.
CREATE TABLE IF NOT EXISTS console_session (
	hash TEXT PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('master', 'virtual')),
	key_hash TEXT NOT NULL,
	actor TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS console_session_expires ON console_session(expires_at);

-- Failed sign-ins per client address in fixed windows (window = start time).
CREATE TABLE IF NOT EXISTS console_login (
	addr TEXT NOT NULL,
	"window" BIGINT NOT NULL,
	failures BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (addr, "window")
);

-- Masking counts per UTC day, tenant and placeholder type: counts only,
-- never a value.
CREATE TABLE IF NOT EXISTS mask_daily (
	day BIGINT NOT NULL,		-- Unix seconds of 00:00 UTC
	tenant TEXT NOT NULL,
	type TEXT NOT NULL,
	masked BIGINT NOT NULL DEFAULT 0,
	minted BIGINT NOT NULL DEFAULT 0,
	restored BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (day, tenant, type)
);

-- One row per key, hour and kind flagged as a usage anomaly, so that each
-- is counted and audited once however often it is looked at.
CREATE TABLE IF NOT EXISTS usage_anomaly (
	key_hash TEXT NOT NULL,
	hour BIGINT NOT NULL,		-- Unix seconds / 3600 of the window's end
	kind TEXT NOT NULL,		-- 'requests' or 'spend'
	observed DOUBLE PRECISION NOT NULL,
	baseline DOUBLE PRECISION NOT NULL,
	at BIGINT NOT NULL,
	PRIMARY KEY (key_hash, hour, kind)
);
