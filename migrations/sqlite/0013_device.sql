-- SQLite dialect of ../postgres/0013_device.sql.
CREATE TABLE device_codes (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id       TEXT,
    app_id           TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    device_code_hash TEXT NOT NULL CONSTRAINT device_codes_device_code_hash_key UNIQUE,
    user_code_hash   TEXT NOT NULL CONSTRAINT device_codes_user_code_hash_key UNIQUE,
    scope            TEXT NOT NULL,
    status           TEXT NOT NULL,
    user_id          TEXT,
    session_id       TEXT,
    auth_time        INTEGER,
    amr              TEXT NOT NULL DEFAULT '[]',
    poll_interval    INTEGER NOT NULL,
    last_polled_at   INTEGER,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX device_codes_expires_idx ON device_codes (expires_at);
