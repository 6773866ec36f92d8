-- 004_limits.sql: sliding-window rate limits, a key's own tenant that
-- survives regeneration, and the hourly budget of new mappings per tenant.

-- The tenant anchor of a key with neither team nor user: the hash prefix
-- of the key as first generated (NULL on keys from before this migration:
-- their current hash prefix, pinned at their next update).
ALTER TABLE vkey ADD COLUMN key_tenant TEXT;

-- One row per admitted request (requests = 1) and per settled request
-- (tokens > 0) of a key with an rpm or tpm limit: a request counts for
-- the 60 seconds after it, whatever minute it fell in (a fixed window let
-- twice the limit through across a minute boundary). Rows older than the
-- window are deleted as the key is used.
CREATE TABLE IF NOT EXISTS vkey_use (
	id INTEGER PRIMARY KEY,
	hash TEXT NOT NULL,
	at INTEGER NOT NULL,
	requests INTEGER NOT NULL DEFAULT 0,
	tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS vkey_use_hash_at ON vkey_use(hash, at);
DROP TABLE IF EXISTS vkey_rate;

-- New mappings minted per tenant and hour (Unix seconds / 3600), for
-- MASKGATE_MAX_NEW_MAPPINGS_PER_HOUR.
CREATE TABLE IF NOT EXISTS mint_rate (
	tenant TEXT NOT NULL,
	hour INTEGER NOT NULL,
	minted INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant, hour)
) WITHOUT ROWID;
