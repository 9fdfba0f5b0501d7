//! Authentication primitives: user passwords (argon2id) and opaque secrets
//! (client secrets, SCIM tokens). Login flows, lockout, MFA and sessions
//! build on these.

pub mod password;
pub mod secret;
