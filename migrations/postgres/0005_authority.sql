-- Authority: first-party GLOBAL apps skip consent; apps may accept being
-- named as audience by other tenants' apps; remembered consents for admin
-- and SCIM scopes; password history for the tenant policy's `history`.
ALTER TABLE applications ADD COLUMN first_party BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE applications ADD COLUMN accept_audience_from JSONB NOT NULL DEFAULT '[]';

CREATE TABLE consents (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    app_id      TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    scopes      JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT consents_user_id_app_id_key UNIQUE (user_id, app_id)
);
CREATE INDEX consents_tenant_idx ON consents (tenant_id, id);

CREATE TABLE password_history (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id     TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_hash  TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX password_history_user_idx ON password_history (user_id, created_at);
