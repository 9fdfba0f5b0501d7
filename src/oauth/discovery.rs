//! Discovery documents (OpenID Connect Discovery 1.0, RFC 8414). They list
//! only what this server does today; each later grant or endpoint adds
//! itself here as it lands.

use serde_json::{Value, json};

use super::Issuer;
use super::grants::registry;

pub fn document(issuer: &Issuer, base: &str) -> Value {
    let grants: Vec<&str> = registry().iter().map(|g| g.grant_type()).collect();
    json!({
        "issuer": issuer.url,
        "token_endpoint": issuer.endpoint("/oauth/token"),
        "jwks_uri": issuer.endpoint("/oauth/jwks"),
        "grant_types_supported": grants,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "access_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "scopes_supported": crate::domain::application::BUILTIN_SCOPES,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "tenant_id", "partner_id"],
        "service_documentation": format!("{base}/api/v1/openapi.json"),
    })
}
