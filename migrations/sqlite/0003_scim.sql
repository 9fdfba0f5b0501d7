-- SQLite dialect of ../postgres/0003_scim.sql.
-- SCIM: the provisioning client's own id (`externalId`) for users and groups,
-- and every e-mail address of a user (`emails`; `email` stays the primary).
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN emails TEXT NOT NULL DEFAULT '[]';
ALTER TABLE groups ADD COLUMN external_id TEXT;
CREATE INDEX users_external_id_idx ON users (tenant_id, external_id);
CREATE INDEX groups_external_id_idx ON groups (tenant_id, external_id);
CREATE INDEX users_tenant_name_idx ON users (tenant_id, user_name_lower, id);
