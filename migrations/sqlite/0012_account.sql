-- SQLite dialect of ../postgres/0012_account.sql. SQLite cannot drop a NOT
-- NULL constraint, so login_requests (short-lived rows) is rebuilt.
ALTER TABLE user_factors ADD COLUMN credential_id TEXT;
ALTER TABLE user_factors ADD COLUMN passkey TEXT;
CREATE UNIQUE INDEX user_factors_credential_idx ON user_factors (tenant_id, credential_id);

CREATE TABLE login_requests_new (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id   TEXT,
    app_id       TEXT REFERENCES applications(id) ON DELETE CASCADE,
    params       TEXT NOT NULL,
    step         TEXT NOT NULL,
    user_id      TEXT,
    csrf_hash    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    state        TEXT NOT NULL DEFAULT '{"step": "identifier"}',
    version      INTEGER NOT NULL DEFAULT 0,
    upstream_ref TEXT,
    purpose      TEXT NOT NULL DEFAULT '{"kind": "authorize"}'
) STRICT;
INSERT INTO login_requests_new (id, tenant_id, partner_id, app_id, params, step, user_id, csrf_hash,
                                created_at, expires_at, state, version, upstream_ref)
    SELECT id, tenant_id, partner_id, app_id, params, step, user_id, csrf_hash,
           created_at, expires_at, state, version, upstream_ref FROM login_requests;
DROP TABLE login_requests;
ALTER TABLE login_requests_new RENAME TO login_requests;
CREATE INDEX login_requests_upstream_ref_idx ON login_requests (upstream_ref);

-- An app's logo for the account page's app launcher (OIDC Registration §2).
ALTER TABLE applications ADD COLUMN logo_uri TEXT;

CREATE TABLE ceremonies (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id TEXT NOT NULL,
    owner      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX ceremonies_owner_idx ON ceremonies (owner, kind);
