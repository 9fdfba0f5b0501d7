-- MCP agents sign in to the token endpoint with their own secret (hashed)
-- and get tokens no longer-lived than their cap.
ALTER TABLE mcp_agents ADD COLUMN secret_hash TEXT;
ALTER TABLE mcp_agents ADD COLUMN max_token_lifetime BIGINT NOT NULL DEFAULT 3600;
