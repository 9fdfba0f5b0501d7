//! SAML 2.0 upstream: ScaiKey acts as a service provider, sending a signed
//! AuthnRequest (HTTP-Redirect) and taking the Response on HTTP-POST at the
//! ACS, with signature, audience, recipient, time window, InResponseTo and
//! replay checked. No directory sync. This step holds the validated
//! configuration only.

mod config;

pub use config::{Config, DEFAULT_CLOCK_SKEW_SECONDS, MAX_CLOCK_SKEW_SECONDS, Metadata};
