-- PostgreSQL version of sql/007_spend_limits.sql: same tables and columns, PostgreSQL types.
-- 007_spend_limits.sql: per-developer spend caps by day, week or month at
-- organisation, team (rbac_group) and user level, shaped like Anthropic's
-- Admin API spend limits (POST/GET /v1/organizations/spend_limits).
--
-- A cap is a per-developer ceiling each member inherits, not a shared pool:
-- per period a developer's cap is their user cap, else their team's, else
-- the organisation's, else none. amount_cents NULL means unlimited.
CREATE TABLE IF NOT EXISTS spend_limit (
	id TEXT PRIMARY KEY,		-- spl_<hex>
	scope_type TEXT NOT NULL CHECK (scope_type IN ('organization', 'rbac_group', 'user')),
	scope_id TEXT NOT NULL DEFAULT '',	-- '' for the organisation
	period TEXT NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly')),
	amount_cents BIGINT,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	UNIQUE (scope_type, scope_id, period)
);

-- Period-to-date spend is summed from the spend log per developer.
CREATE INDEX IF NOT EXISTS spend_log_user ON spend_log(user_id, at_ms);
