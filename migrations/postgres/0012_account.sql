-- WebAuthn passkeys and the account page.
-- A passkey factor keeps its credential id (looked up by a passwordless
-- sign-in, unique per tenant) and webauthn-rs's credential record (public
-- key, signature counter) as JSON; neither is a secret.
ALTER TABLE user_factors ADD COLUMN credential_id TEXT;
ALTER TABLE user_factors ADD COLUMN passkey TEXT;
CREATE UNIQUE INDEX user_factors_credential_idx ON user_factors (tenant_id, credential_id);

-- A login request is started by an authorization request or by the
-- account page (no application). Additive: older replicas keep writing
-- app_id and get the default purpose.
ALTER TABLE login_requests ALTER COLUMN app_id DROP NOT NULL;
ALTER TABLE login_requests ADD COLUMN purpose JSONB NOT NULL DEFAULT '{"kind": "authorize"}';

-- A ceremony's state between its start and the browser's answer, used
-- once: WebAuthn options' state, or a TOTP secret (sealed) awaiting its
-- first code on the account page. `owner` is the login request or session.
-- An app's logo for the account page's app launcher (OIDC Registration §2).
ALTER TABLE applications ADD COLUMN logo_uri TEXT;

CREATE TABLE ceremonies (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    partner_id TEXT NOT NULL,
    owner      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ceremonies_owner_idx ON ceremonies (owner, kind);
