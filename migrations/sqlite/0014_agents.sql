-- SQLite dialect of ../postgres/0014_agents.sql.
ALTER TABLE mcp_agents ADD COLUMN secret_hash TEXT;
ALTER TABLE mcp_agents ADD COLUMN max_token_lifetime INTEGER NOT NULL DEFAULT 3600;
