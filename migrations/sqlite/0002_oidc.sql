-- SQLite dialect of ../postgres/0002_oidc.sql.
-- OIDC provider state: SSO sessions, login requests in flight, single-use
-- authorization codes, rotating refresh-token families, revoked access
-- tokens, and per-user lockout counters. Secrets (session ids, codes,
-- refresh tokens) are stored only as SHA-256 hashes.

ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until INTEGER;

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL CONSTRAINT sessions_token_hash_key UNIQUE,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id   TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_time    INTEGER NOT NULL,
    amr          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER
) STRICT;
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- tenant_id is NULL on the platform issuer until the user names their tenant.
CREATE TABLE login_requests (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id   TEXT,
    app_id       TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    params       TEXT NOT NULL,
    step         TEXT NOT NULL,
    user_id      TEXT,
    csrf_hash    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE authorization_codes (
    id            TEXT PRIMARY KEY,
    code_hash     TEXT NOT NULL CONSTRAINT authorization_codes_code_hash_key UNIQUE,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id    TEXT NOT NULL,
    app_id        TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id    TEXT NOT NULL,
    params        TEXT NOT NULL,
    access_jti    TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
) STRICT;

CREATE TABLE refresh_tokens (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL CONSTRAINT refresh_tokens_token_hash_key UNIQUE,
    family_id    TEXT NOT NULL,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id   TEXT NOT NULL,
    app_id       TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id   TEXT NOT NULL,
    code_id      TEXT,
    access_jti   TEXT,
    scope        TEXT NOT NULL,
    auth_time    INTEGER NOT NULL,
    amr          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    rotated_at   INTEGER,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE revoked_tokens (
    jti         TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL
) STRICT;
