-- Federation: home-realm domains in a table of their own, so that a domain
-- belongs to at most one IdP of a tenant (a unique index, a clear 409), and
-- the per-IdP trust_upstream_mfa flag. Existing IdPs keep their domains; if
-- two already claimed one domain, the older keeps it.
CREATE TABLE idp_domains (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    domain    TEXT NOT NULL,
    idp_id    TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    CONSTRAINT idp_domains_tenant_id_domain_key UNIQUE (tenant_id, domain)
);
CREATE INDEX idp_domains_idp_idx ON idp_domains (idp_id);
INSERT INTO idp_domains (tenant_id, domain, idp_id)
    SELECT p.tenant_id, lower(d.value), p.id
    FROM identity_providers p, jsonb_array_elements_text(p.domains) AS d(value)
    ORDER BY p.created_at, p.id
    ON CONFLICT DO NOTHING;

ALTER TABLE identity_providers ADD COLUMN trust_upstream_mfa BOOLEAN NOT NULL DEFAULT FALSE;

-- SAML: the SP signing key of each tenant (sealed), assertion ids kept
-- until they expire (replay, across replicas), and the login requests
-- findable by the RelayState the IdP posts back (no cookie rides a
-- cross-site POST).
CREATE TABLE saml_sp_keys (
    tenant_id          TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    private_key_sealed TEXT NOT NULL,
    certificate_pem    TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL
);
CREATE TABLE saml_assertions (
    idp_id       TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    assertion_id TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT saml_assertions_idp_id_assertion_id_key UNIQUE (idp_id, assertion_id)
);
CREATE INDEX saml_assertions_expires_idx ON saml_assertions (expires_at);
ALTER TABLE login_requests ADD COLUMN upstream_ref TEXT;
CREATE INDEX login_requests_upstream_ref_idx ON login_requests (upstream_ref);

-- OIDC third-party initiated login: where IdP-initiated SAML and the app
-- launcher send a user so the app starts its own sign-in.
ALTER TABLE applications ADD COLUMN initiate_login_uri TEXT;
