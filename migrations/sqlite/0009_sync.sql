-- SQLite dialect of ../postgres/0009_sync.sql.
CREATE TABLE sync_runs (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id  TEXT NOT NULL,
    idp_id      TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    mode        TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    counts      TEXT NOT NULL,
    errors      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX sync_runs_idp_idx ON sync_runs (idp_id, created_at);
CREATE INDEX sync_runs_tenant_idx ON sync_runs (tenant_id, id);

CREATE TABLE sync_state (
    idp_id       TEXT PRIMARY KEY REFERENCES identity_providers(id) ON DELETE CASCADE,
    cursor       TEXT,
    last_full_at INTEGER,
    next_run_at  INTEGER
) STRICT;

CREATE TABLE group_links (
    group_id    TEXT PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    idp_id      TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    CONSTRAINT group_links_idp_id_external_id_key UNIQUE (idp_id, external_id)
) STRICT;

ALTER TABLE leases ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
