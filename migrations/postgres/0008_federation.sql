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
