-- 001_base.sql: bookkeeping shared by every module.
CREATE TABLE IF NOT EXISTS meta (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
