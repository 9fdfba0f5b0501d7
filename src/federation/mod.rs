//! The federation broker's server side: opened connectors by IdP and
//! config version (`registry`), IdP secrets sealed at rest (`secrets`),
//! upstream claims mapped to user attributes (`mapping`), and who a
//! federated sign-in is — linked, linked by trusted email, or provisioned
//! just in time (`jit`). The login steps that use them live in
//! `crate::login::upstream`; the connectors themselves in `scaikey-connectors`.

pub mod jit;
pub mod mapping;
pub mod registry;
pub mod saml_keys;
pub mod secrets;
