//! Discovery documents (OpenID Connect Discovery 1.0, RFC 8414): every
//! endpoint, grant, auth method, algorithm and claim this issuer supports,
//! and nothing it does not.

use serde_json::{Value, json};

use super::Issuer;
use super::grants::registry;

pub fn document(issuer: &Issuer, base: &str) -> Value {
    let grants: Vec<&str> = registry().iter().map(|g| g.grant_type()).collect();
    let algs = ["RS256", "ES256", "EdDSA"];
    let mut doc = json!({
        "issuer": issuer.url,
        "authorization_endpoint": issuer.endpoint("/oauth/authorize"),
        "token_endpoint": issuer.endpoint("/oauth/token"),
        "userinfo_endpoint": issuer.endpoint("/oauth/userinfo"),
        "introspection_endpoint": issuer.endpoint("/oauth/introspect"),
        "revocation_endpoint": issuer.endpoint("/oauth/revoke"),
        "device_authorization_endpoint": issuer.endpoint("/oauth/device_authorization"),
        "end_session_endpoint": issuer.endpoint("/oauth/logout"),
        "jwks_uri": issuer.endpoint("/oauth/jwks"),
        "grant_types_supported": grants,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "id_token_signing_alg_values_supported": algs,
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "scopes_supported": crate::domain::application::BUILTIN_SCOPES,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "amr", "acr",
            "azp", "name", "given_name", "family_name", "preferred_username", "locale", "zoneinfo", "updated_at",
            "email", "email_verified", "phone_number", "groups", "tenant_id"],
        "acr_values_supported": ["1", "2"],
        "service_documentation": format!("{base}/api/v1/openapi.json"),
    });
    // The registration endpoint exists only where the tenant enabled it.
    if super::registration::enabled(issuer)
        && let Some(d) = doc.as_object_mut()
    {
        d.insert("registration_endpoint".into(), json!(issuer.endpoint("/oauth/register")));
    }
    doc
}
