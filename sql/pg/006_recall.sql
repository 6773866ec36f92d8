-- PostgreSQL version of sql/006_recall.sql: same tables and columns, PostgreSQL types.
-- 006_recall.sql: cross-request recall of known values.
--
-- Every mapping row carries recall_tag, a 64-bit SipHash of the value alone
-- (not its type) under a per-tenant key derived from MASKGATE_DATA_KEY, and
-- seq, its place in the tenant's sequence of minted values. Workers keep the
-- tags of a tenant as an in-memory filter; at the start of a request one
-- read of mask_recall tells whether anything was minted since (seq) or
-- rows were purged (gen changes), and only the new tags are loaded. A token
-- whose tag is in the filter is confirmed by opening the sealed values with
-- that tag, so the filter never decides alone. Rows from before this
-- migration get their tag and seq when the store is next opened with the
-- data key (store_map_backfill).
ALTER TABLE mask_map ADD COLUMN IF NOT EXISTS recall_tag BIGINT;
ALTER TABLE mask_map ADD COLUMN IF NOT EXISTS seq BIGINT;
CREATE INDEX IF NOT EXISTS mask_map_recall ON mask_map(tenant, recall_tag);
CREATE INDEX IF NOT EXISTS mask_map_seq ON mask_map(tenant, seq);
CREATE INDEX IF NOT EXISTS mask_map_unseq ON mask_map(tenant) WHERE seq IS NULL;

CREATE TABLE IF NOT EXISTS mask_recall (
	tenant TEXT PRIMARY KEY,
	gen BIGINT NOT NULL,	-- random; changes when rows may have gone
	seq BIGINT NOT NULL	-- last seq handed out
);
