//! Authentication primitives: user passwords (argon2id) and opaque secrets
//! (client secrets, SCIM tokens). Login flows, lockout, MFA and sessions
//! build on these.

pub mod flow;
pub mod lockout;
pub mod password;
pub mod password_change;
pub mod ratelimit;
pub mod secret;
pub mod session;
