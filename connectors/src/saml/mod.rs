//! SAML 2.0 upstream: ScaiKey acts as a service provider, sending a signed
//! AuthnRequest (HTTP-Redirect) and taking the Response on HTTP-POST at the
//! ACS, with signature, audience, recipient, time window, InResponseTo and
//! replay checked (assertion ids are kept by the server). No directory sync.

mod config;
mod idp_metadata;
mod sp;
mod sp_key;

pub use config::{Config, DEFAULT_CLOCK_SKEW_SECONDS, MAX_CLOCK_SKEW_SECONDS, Metadata};
pub use sp::{SamlAssertion, SamlLogin, Sp};
pub use sp_key::generate_sp_key;
