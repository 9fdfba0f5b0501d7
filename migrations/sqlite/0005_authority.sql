-- SQLite dialect of ../postgres/0005_authority.sql.
ALTER TABLE applications ADD COLUMN first_party INTEGER NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN accept_audience_from TEXT NOT NULL DEFAULT '[]';

CREATE TABLE consents (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    app_id      TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CONSTRAINT consents_user_id_app_id_key UNIQUE (user_id, app_id)
) STRICT;
CREATE INDEX consents_tenant_idx ON consents (tenant_id, id);

CREATE TABLE password_history (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id     TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX password_history_user_idx ON password_history (user_id, created_at);
