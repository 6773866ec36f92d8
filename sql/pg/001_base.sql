-- PostgreSQL version of sql/001_base.sql: same tables and columns, PostgreSQL types.
-- 001_base.sql: bookkeeping shared by every module.
CREATE TABLE IF NOT EXISTS meta (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
