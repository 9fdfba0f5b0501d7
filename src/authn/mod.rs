//! Authentication primitives: user passwords (argon2id) and opaque secrets
//! (client secrets, SCIM tokens), TOTP and recovery codes. The login flow
//! (`crate::login`), lockout, MFA and sessions build on these.

pub mod hashing;
pub mod lockout;
pub mod password;
pub mod password_change;
pub mod ratelimit;
pub mod recovery;
pub mod secret;
pub mod session;
pub mod totp;
pub mod webauthn;
