-- RFC 8628 device authorization: a device code (hashed) the device polls
-- with, a short user code (hashed) the user types on the device page, and
-- once approved the user, session, auth_time and amr the tokens carry.
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
    auth_time        TIMESTAMPTZ,
    amr              JSONB NOT NULL DEFAULT '[]',
    poll_interval    BIGINT NOT NULL,
    last_polled_at   TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX device_codes_expires_idx ON device_codes (expires_at);
