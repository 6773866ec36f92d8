-- PostgreSQL version of sql/002_mask.sql: same tables and columns, PostgreSQL types.
-- 002_mask.sql: the mask mapping, shared by every worker of every host.
--
-- mask_counter holds the next placeholder number per tenant and type. It is
-- never decremented and rows are never deleted, so a number is never handed
-- to a second value, not even after its mapping expired and was purged.
CREATE TABLE IF NOT EXISTS mask_counter (
	tenant TEXT NOT NULL,
	type TEXT NOT NULL,
	next BIGINT NOT NULL CHECK (next >= 1),
	PRIMARY KEY (tenant, type)
);

-- One row per (tenant, type, value). The value itself is only stored sealed
-- with AES-256-GCM (nonce || ciphertext || tag, aad = tenant, type, number);
-- value_hash is HMAC-SHA256 over tenant, type and value with a key derived
-- from MASKGATE_DATA_KEY, so the file alone reveals nothing and cannot be
-- searched for a guessed value. Times are Unix seconds; a mapping is live
-- while last_seen + MASKGATE_MAP_TTL is in the future.
CREATE TABLE IF NOT EXISTS mask_map (
	tenant TEXT NOT NULL,
	type TEXT NOT NULL,
	num BIGINT NOT NULL CHECK (num >= 1),
	value_hash BYTEA NOT NULL,
	value_sealed BYTEA NOT NULL,
	first_seen BIGINT NOT NULL,
	last_seen BIGINT NOT NULL,
	PRIMARY KEY (tenant, type, num),
	UNIQUE (tenant, type, value_hash)
);

CREATE INDEX IF NOT EXISTS mask_map_last_seen ON mask_map(last_seen);
