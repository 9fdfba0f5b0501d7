//! The SCIM 2.0 server (RFC 7643 / 7644) for each tenant at
//! `{base}/scim/v2/tenants/{slug}`. The protocol (filters, PATCH, projection,
//! ETags, error schema) lives in the `scaikey-scim` crate; this module maps
//! SCIM resources onto the user and group model, compiles filters to SQL,
//! and writes through `crate::directory` in one transaction per operation,
//! so every SCIM change is validated, audited and recorded in the
//! change-event log like any other, or not made at all.

pub mod auth;
pub mod bulk;
pub mod discovery;
pub mod filter_sql;
pub mod groups;
pub mod resources;
pub mod service;
pub mod users;

use scaikey_scim::{ScimError, ScimType};

use crate::admin::AdminError;

/// The SCIM error for an admin-service refusal.
pub fn scim_error(e: AdminError) -> ScimError {
    match e {
        AdminError::NotFound => ScimError::not_found("no such resource"),
        AdminError::Unauthenticated => ScimError::new(401, "a valid bearer token is required"),
        AdminError::Forbidden(m) => ScimError::new(403, m),
        AdminError::Invalid(fields) => {
            let detail = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ");
            ScimError::invalid_value(detail)
        }
        AdminError::Conflict { code, message } if code.ends_with("_taken") => ScimError::uniqueness(message),
        AdminError::Conflict { message, .. } => ScimError::typed(ScimType::InvalidValue, message),
        AdminError::Limit { message, .. } => ScimError::new(403, message),
        AdminError::Precondition => ScimError::precondition_failed("the resource changed since it was read (If-Match)"),
        AdminError::Internal(detail) => {
            tracing::error!(error = %detail, "internal error in SCIM");
            ScimError::new(500, "an internal error occurred")
        }
    }
}
