-- SQLite dialect of ../postgres/0008_federation.sql.
CREATE TABLE idp_domains (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    domain    TEXT NOT NULL,
    idp_id    TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    CONSTRAINT idp_domains_tenant_id_domain_key UNIQUE (tenant_id, domain)
) STRICT;
CREATE INDEX idp_domains_idp_idx ON idp_domains (idp_id);
INSERT OR IGNORE INTO idp_domains (tenant_id, domain, idp_id)
    SELECT p.tenant_id, lower(d.value), p.id
    FROM identity_providers p, json_each(p.domains) AS d
    ORDER BY p.created_at, p.id;

ALTER TABLE identity_providers ADD COLUMN trust_upstream_mfa INTEGER NOT NULL DEFAULT 0;

CREATE TABLE saml_sp_keys (
    tenant_id          TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    private_key_sealed TEXT NOT NULL,
    certificate_pem    TEXT NOT NULL,
    created_at         INTEGER NOT NULL
) STRICT;
CREATE TABLE saml_assertions (
    idp_id       TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    assertion_id TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    CONSTRAINT saml_assertions_idp_id_assertion_id_key UNIQUE (idp_id, assertion_id)
) STRICT;
CREATE INDEX saml_assertions_expires_idx ON saml_assertions (expires_at);
ALTER TABLE login_requests ADD COLUMN upstream_ref TEXT;
CREATE INDEX login_requests_upstream_ref_idx ON login_requests (upstream_ref);

ALTER TABLE applications ADD COLUMN initiate_login_uri TEXT;
