-- ScaiKey schema, PostgreSQL dialect. Keep in step with ../sqlite/0001_init.sql:
-- same tables, columns and constraint names (unique constraints use the
-- default `{table}_{columns}_key` names the store maps conflicts by).

CREATE TABLE partners (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    limits      JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    partner_id  TEXT NOT NULL REFERENCES partners(id),
    slug        TEXT NOT NULL CONSTRAINT tenants_slug_key UNIQUE,
    name        TEXT NOT NULL,
    settings    JSONB NOT NULL,
    branding    JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX tenants_partner_idx ON tenants (partner_id, id);

CREATE TABLE organizational_units (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id  TEXT NOT NULL,
    parent_id   TEXT REFERENCES organizational_units(id),
    name        TEXT NOT NULL,
    description TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX organizational_units_tenant_idx ON organizational_units (tenant_id, id);

CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id         TEXT NOT NULL,
    user_name          TEXT NOT NULL,
    user_name_lower    TEXT NOT NULL,
    sam_account_name   TEXT,
    email              TEXT,
    email_verified     BOOLEAN NOT NULL,
    given_name         TEXT,
    family_name        TEXT,
    display_name       TEXT,
    title              TEXT,
    department         TEXT,
    company            TEXT,
    employee_id        TEXT,
    employee_type      TEXT,
    manager_id         TEXT REFERENCES users(id) ON DELETE SET NULL,
    office             TEXT,
    phone_numbers      JSONB NOT NULL,
    addresses          JSONB NOT NULL,
    locale             TEXT,
    timezone           TEXT,
    status             TEXT NOT NULL,
    ou_id              TEXT REFERENCES organizational_units(id) ON DELETE SET NULL,
    custom_attributes  JSONB NOT NULL,
    password_hash      TEXT,
    password_changed_at TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_tenant_id_user_name_lower_key UNIQUE (tenant_id, user_name_lower)
);
CREATE INDEX users_tenant_idx ON users (tenant_id, id);
CREATE INDEX users_email_idx ON users (tenant_id, lower(email));

CREATE TABLE identity_providers (
    id                      TEXT PRIMARY KEY,
    tenant_id               TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id              TEXT NOT NULL,
    type                    TEXT NOT NULL,
    name                    TEXT NOT NULL,
    domains                 JSONB NOT NULL,
    config                  JSONB NOT NULL,
    jit_provisioning        BOOLEAN NOT NULL,
    attribute_mapping       JSONB NOT NULL,
    sync_schedule           TEXT,
    trust_email_for_linking BOOLEAN NOT NULL,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL
);
CREATE INDEX identity_providers_tenant_idx ON identity_providers (tenant_id, id);

CREATE TABLE user_identities (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id    TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    idp_id        TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    last_login_at TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT user_identities_idp_id_external_id_key UNIQUE (idp_id, external_id)
);
CREATE INDEX user_identities_user_idx ON user_identities (user_id);

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_lower  TEXT NOT NULL,
    description TEXT,
    ou_id       TEXT REFERENCES organizational_units(id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT groups_tenant_id_name_lower_key UNIQUE (tenant_id, name_lower)
);
CREATE INDEX groups_tenant_idx ON groups (tenant_id, id);

-- A member is a user or a group; exactly one of the two columns is set.
CREATE TABLE group_members (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id      TEXT NOT NULL,
    group_id        TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id       TEXT NOT NULL,
    member_user_id  TEXT REFERENCES users(id) ON DELETE CASCADE,
    member_group_id TEXT REFERENCES groups(id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT group_members_group_id_member_id_key UNIQUE (group_id, member_id),
    CHECK ((member_user_id IS NULL) <> (member_group_id IS NULL))
);
CREATE INDEX group_members_member_idx ON group_members (member_id);

CREATE TABLE applications (
    id                          TEXT PRIMARY KEY,
    tenant_id                   TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id                  TEXT REFERENCES partners(id),
    scope                       TEXT NOT NULL,
    type                        TEXT NOT NULL,
    name                        TEXT NOT NULL,
    client_id                   TEXT NOT NULL CONSTRAINT applications_client_id_key UNIQUE,
    client_secret_hash          TEXT,
    grant_types                 JSONB NOT NULL,
    redirect_uris               JSONB NOT NULL,
    logout_uris                 JSONB NOT NULL,
    allowed_origins             JSONB NOT NULL,
    allowed_scopes              JSONB NOT NULL,
    token_lifetime              BIGINT NOT NULL,
    refresh_token_lifetime      BIGINT NOT NULL,
    token_signing_alg           TEXT NOT NULL,
    token_exchange_allowed      BOOLEAN NOT NULL,
    sync_webhook_url            TEXT,
    sync_webhook_secret_sealed  TEXT,
    assigned_users              JSONB NOT NULL,
    assigned_groups             JSONB NOT NULL,
    created_at                  TIMESTAMPTZ NOT NULL,
    updated_at                  TIMESTAMPTZ NOT NULL
);
CREATE INDEX applications_tenant_idx ON applications (tenant_id, id);

CREATE TABLE mcp_agents (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id     TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    application_id TEXT REFERENCES applications(id) ON DELETE SET NULL,
    allowed_scopes JSONB NOT NULL,
    status         TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE role_assignments (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    partner_id  TEXT REFERENCES partners(id) ON DELETE CASCADE,
    tenant_id   TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX role_assignments_user_id_role_partner_id_tenant_id_key
    ON role_assignments (user_id, role, COALESCE(partner_id, ''), COALESCE(tenant_id, ''));

CREATE TABLE scim_tokens (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL CONSTRAINT scim_tokens_token_hash_key UNIQUE,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE signing_keys (
    id                 TEXT PRIMARY KEY,
    alg                TEXT NOT NULL,
    status             TEXT NOT NULL,
    private_key_sealed TEXT NOT NULL,
    public_jwk         JSONB NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    activated_at       TIMESTAMPTZ,
    retired_at         TIMESTAMPTZ,
    expires_at         TIMESTAMPTZ
);

CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,
    partner_id   TEXT,
    tenant_id    TEXT,
    actor_type   TEXT NOT NULL,
    actor_id     TEXT,
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT,
    outcome      TEXT NOT NULL,
    details      JSONB NOT NULL,
    request_id   TEXT,
    occurred_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_events_tenant_idx ON audit_events (tenant_id, id);

-- The durable change-event log (transactional outbox): written in the same
-- transaction as the change, read by webhooks, SCIM and sync consumers.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    partner_id  TEXT,
    tenant_id   TEXT,
    type        TEXT NOT NULL,
    data        JSONB NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_tenant_idx ON events (tenant_id, id);

-- Cross-replica exclusivity (one sync run per IdP, one key rotation).
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
