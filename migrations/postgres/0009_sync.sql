-- Directory sync: runs with counts and per-object errors, each IdP's cursor
-- (committed with the page that consumed it), the link between a synced
-- group and its upstream id, and fenced leases (an epoch that moves each
-- time a lease changes hands, so a holder whose lease lapsed cannot commit).
CREATE TABLE sync_runs (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id  TEXT NOT NULL,
    idp_id      TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    mode        TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    counts      JSONB NOT NULL,
    errors      JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sync_runs_idp_idx ON sync_runs (idp_id, created_at);
CREATE INDEX sync_runs_tenant_idx ON sync_runs (tenant_id, id);

CREATE TABLE sync_state (
    idp_id       TEXT PRIMARY KEY REFERENCES identity_providers(id) ON DELETE CASCADE,
    cursor       TEXT,
    last_full_at TIMESTAMPTZ,
    next_run_at  TIMESTAMPTZ
);

CREATE TABLE group_links (
    group_id    TEXT PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    idp_id      TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    CONSTRAINT group_links_idp_id_external_id_key UNIQUE (idp_id, external_id)
);

ALTER TABLE leases ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
