//! ScaiKey as a SAML 2.0 service provider of one IdP (samael over
//! libxmlsec1): SP metadata, the AuthnRequest signed over HTTP-Redirect,
//! and the Response taken at the ACS. samael checks the signatures against
//! the IdP's configured certificates only (never one carried in the
//! message) with SHA-256-or-better algorithms, keeps only the content a
//! signature covers (so wrapped, unsigned assertions are never read), and
//! checks Destination, Issuer, audience, Recipient, the time windows and
//! InResponseTo. Its API is synchronous: it runs on the blocking pool.

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use openssl::pkey::PKey;
use openssl::x509::X509;
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer};
use samael::metadata::HTTP_POST_BINDING;
use samael::schema::Assertion;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use samael::traits::ToXml;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::Config;
use super::Metadata;
use super::idp_metadata::{self, IdpMetadata};
use crate::ConnectorError;
use crate::http::Http;
use crate::login::UpstreamIdentity;

/// Fetched IdP metadata is trusted this long.
const METADATA_TTL: StdDuration = StdDuration::from_secs(3600);
const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// Well-known attribute names (URIs, OIDs, friendly names) → claim names.
const ATTRIBUTE_CLAIMS: &[(&str, &str)] = &[
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "email"),
    ("urn:oid:0.9.2342.19200300.100.1.3", "email"),
    ("mail", "email"),
    ("email", "email"),
    ("emailAddress", "email"),
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "given_name"),
    ("urn:oid:2.5.4.42", "given_name"),
    ("givenName", "given_name"),
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "family_name"),
    ("urn:oid:2.5.4.4", "family_name"),
    ("sn", "family_name"),
    ("http://schemas.microsoft.com/identity/claims/displayname", "name"),
    ("urn:oid:2.16.840.1.113730.3.1.241", "name"),
    ("displayName", "name"),
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "preferred_username"),
    ("urn:oid:0.9.2342.19200300.100.1.1", "preferred_username"),
    ("uid", "preferred_username"),
];

/// ScaiKey's side of this IdP, per issuer: its entity id, ACS and signing key.
pub struct Sp<'a> {
    /// The SP entity id (ScaiKey publishes its metadata there).
    pub entity_id: &'a str,
    /// The Assertion Consumer Service URL (HTTP-POST).
    pub acs_url: &'a str,
    /// The SP's private key, PKCS#8 PEM (signs AuthnRequests).
    pub key_pem: &'a str,
    /// The SP's certificate, PEM (published in the metadata).
    pub cert_pem: &'a str,
}

/// What a Response proved, with what the server needs against replay.
#[derive(Debug, Clone)]
pub struct SamlAssertion {
    /// The user, as the assertion describes them.
    pub identity: UpstreamIdentity,
    /// The assertion's ID, to be kept until `expires_at` (replay).
    pub assertion_id: String,
    /// When the assertion stops being acceptable (seconds since the epoch).
    pub expires_at: i64,
}

/// An opened SAML upstream.
pub struct SamlLogin {
    http: Http,
    config: Config,
    fetched: Mutex<Option<(IdpMetadata, Instant)>>,
}

fn config_error(e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Config(e.to_string())
}

impl SamlLogin {
    /// A SAML upstream described by `config`.
    pub fn new(http: Http, config: Config) -> Self {
        Self { http, config, fetched: Mutex::new(None) }
    }

    /// The IdP's metadata: inline, by hand, or fetched (and cached).
    async fn idp(&self) -> Result<IdpMetadata, ConnectorError> {
        if let Some(local) = idp_metadata::local(&self.config.metadata) {
            return local.map_err(|e| ConnectorError::Config(e.to_owned()));
        }
        let Metadata::Url { metadata_url } = &self.config.metadata else {
            return Err(ConnectorError::Config("no IdP metadata".into()));
        };
        let mut cached = self.fetched.lock().await;
        if let Some((m, at)) = cached.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let response = self
            .http
            .client()
            .get(metadata_url)
            .send()
            .await
            .map_err(|_| ConnectorError::Unreachable("IdP metadata: the request failed".into()))?;
        if !response.status().is_success() {
            return Err(ConnectorError::Unreachable(format!("IdP metadata: answered {}", response.status())));
        }
        let text = response.text().await.map_err(|_| ConnectorError::Unreachable("IdP metadata: unreadable".into()))?;
        if text.len() > crate::http::MAX_BODY {
            return Err(ConnectorError::Unreachable("IdP metadata: too large".into()));
        }
        let m = idp_metadata::parse(&text).map_err(|e| ConnectorError::Unreachable(format!("IdP metadata: {e}")))?;
        *cached = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    fn provider(&self, sp: &Sp<'_>, idp: &IdpMetadata) -> Result<ServiceProvider, ConnectorError> {
        let cert = X509::from_pem(sp.cert_pem.as_bytes()).and_then(|c| c.to_der()).map_err(config_error)?;
        let key = PKey::private_key_from_pem(sp.key_pem.as_bytes()).map_err(config_error)?;
        let skew = i64::from(self.config.clock_skew_seconds);
        ServiceProviderBuilder::default()
            .entity_id(sp.entity_id.to_owned())
            .metadata_url(sp.entity_id.to_owned())
            .acs_url(sp.acs_url.to_owned())
            .slo_url(sp.acs_url.to_owned())
            .key(key)
            .certificate(CertificateDer::from(cert))
            .idp_metadata(idp.descriptor.clone())
            .authn_name_id_format(self.config.name_id_format.clone())
            .allow_idp_initiated(false)
            .max_clock_skew(Duration::seconds(skew))
            .max_issue_delay(Duration::seconds(90 + skew))
            .allowed_signature_algorithms(vec![
                AllowedSignatureAlgorithm::RsaSha256,
                AllowedSignatureAlgorithm::RsaSha384,
                AllowedSignatureAlgorithm::RsaSha512,
                AllowedSignatureAlgorithm::EcdsaSha256,
                AllowedSignatureAlgorithm::EcdsaSha384,
                AllowedSignatureAlgorithm::EcdsaSha512,
            ])
            .build()
            .map_err(config_error)
    }

    /// ScaiKey's SP metadata for this IdP.
    pub async fn metadata(&self, sp: &Sp<'_>) -> Result<String, ConnectorError> {
        let idp = self.idp().await?;
        let provider = self.provider(sp, &idp)?;
        let mut descriptor = provider.metadata().map_err(config_error)?;
        if let Some(d) = descriptor.sp_sso_descriptors.as_mut().and_then(|v| v.first_mut()) {
            d.authn_requests_signed = Some(self.config.sign_authn_requests);
            d.want_assertions_signed = Some(self.config.want_assertions_signed);
            d.single_logout_services = None;
            if let Some(keys) = d.key_descriptors.as_mut() {
                keys.truncate(1);
            }
        }
        descriptor.to_string().map_err(|e| config_error(format!("{e:?}")))
    }

    /// The IdP's SSO URL carrying an AuthnRequest with id `request_id`
    /// (a 128-bit random `_…` id the server draws) and `relay_state`,
    /// signed when the config says so.
    pub async fn authn_request_url(
        &self,
        sp: &Sp<'_>,
        request_id: &str,
        relay_state: &str,
    ) -> Result<String, ConnectorError> {
        let idp = self.idp().await?;
        let provider = self.provider(sp, &idp)?;
        let mut request = provider.make_authentication_request(&idp.sso_url).map_err(config_error)?;
        request.id = request_id.to_owned();
        request.protocol_binding = Some(HTTP_POST_BINDING.to_owned());
        let url = if self.config.sign_authn_requests {
            let key = provider.key.as_ref().ok_or_else(|| ConnectorError::Config("no SP key".into()))?;
            request.signed_redirect(relay_state, key)
        } else {
            request.redirect(relay_state)
        }
        .map_err(config_error)?;
        url.map(String::from).ok_or_else(|| ConnectorError::Config("the IdP has no SSO URL".into()))
    }

    /// Checks a base64 `SAMLResponse` answering `request_id`, or, with
    /// `None`, an unsolicited one (only when the IdP allows IdP-initiated SSO).
    pub async fn consume(
        &self,
        sp: &Sp<'_>,
        saml_response: &str,
        request_id: Option<&str>,
    ) -> Result<SamlAssertion, ConnectorError> {
        if request_id.is_none() && !self.config.allow_idp_initiated {
            return Err(ConnectorError::Rejected("unsolicited responses are not allowed for this IdP".into()));
        }
        let idp = self.idp().await?;
        let mut provider = self.provider(sp, &idp)?;
        provider.allow_idp_initiated = request_id.is_none();
        let encoded: String = saml_response.split_whitespace().collect();
        let request_id = request_id.map(str::to_owned);
        let want_assertion_signed = self.config.want_assertions_signed;
        let verified = tokio::task::spawn_blocking(move || {
            use base64::Engine;
            let xml = base64::engine::general_purpose::STANDARD
                .decode(encoded.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| "the SAMLResponse is not base64 XML".to_owned())?;
            // samael's errors are not Send: turned into words here.
            // An unsolicited Response answers nobody: one carrying
            // InResponseTo was taken from another sign-in.
            if request_id.is_none() && xml.contains("InResponseTo=") {
                return Err("an unsolicited response must not answer a request (InResponseTo)".to_owned());
            }
            let expected: Vec<&str> = request_id.iter().map(String::as_str).collect();
            let assertion = provider.parse_xml_response(&xml, Some(&expected)).map_err(|e| e.to_string())?;
            if want_assertion_signed && !assertion_is_signed(&xml, &assertion.id) {
                return Err("the assertion itself is not signed".to_owned());
            }
            Ok::<_, String>(assertion)
        })
        .await
        .map_err(|_| ConnectorError::Rejected("the SAML response could not be checked".into()))?
        .map_err(ConnectorError::Rejected)?;
        to_identity(verified)
    }

    /// What the IdP's metadata says, for the admin's test button.
    pub async fn describe(&self) -> Result<Map<String, Value>, ConnectorError> {
        let idp = self.idp().await?;
        let certs = idp
            .descriptor
            .idp_sso_descriptors
            .iter()
            .flatten()
            .flat_map(|d| d.key_descriptors.iter())
            .filter_map(|k| k.key_info.x509_data.as_ref())
            .map(|x| x.certificates.len())
            .sum::<usize>();
        let mut out = Map::new();
        out.insert("entity_id".into(), idp.entity_id.into());
        out.insert("sso_url".into(), idp.sso_url.into());
        out.insert("signing_certificates".into(), certs.into());
        Ok(out)
    }
}

/// Whether a signature in the document references the assertion `id`
/// itself. samael verifies every signature of the document against the
/// IdP's certificates and fails on any that does not verify (and libxml
/// refuses duplicate IDs), so a reference to `#id` means the IdP signed
/// that very assertion, not only the Response around it.
fn assertion_is_signed(xml: &str, id: &str) -> bool {
    !id.is_empty() && (xml.contains(&format!("URI=\"#{id}\"")) || xml.contains(&format!("URI='#{id}'")))
}

fn to_identity(assertion: Assertion) -> Result<SamlAssertion, ConnectorError> {
    let name_id = assertion
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .ok_or_else(|| ConnectorError::Rejected("the assertion names no subject (NameID)".into()))?;
    if name_id.format.as_deref() == Some(TRANSIENT) {
        return Err(ConnectorError::Rejected(
            "the IdP sent a transient NameID, which changes at each sign-in; ask it for a persistent or email NameID"
                .into(),
        ));
    }
    let external_id = name_id.value.trim().to_owned();
    if external_id.is_empty() || external_id.len() > 255 {
        return Err(ConnectorError::Rejected("the assertion's NameID is empty or too long".into()));
    }
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::String(external_id.clone()));
    for attribute in assertion.attribute_statements.iter().flatten().flat_map(|s| s.attributes.iter()) {
        let values: Vec<Value> = attribute
            .values
            .iter()
            .filter_map(|v| v.value.clone())
            .map(|v| Value::String(v.trim().to_owned()))
            .collect();
        let value = match values.len() {
            0 => continue,
            1 => values.into_iter().next().unwrap_or(Value::Null),
            _ => Value::Array(values),
        };
        for name in [attribute.name.as_deref(), attribute.friendly_name.as_deref()].into_iter().flatten() {
            claims.insert(name.to_owned(), value.clone());
            if let Some((_, claim)) = ATTRIBUTE_CLAIMS.iter().find(|(n, _)| *n == name) {
                claims.entry((*claim).to_owned()).or_insert_with(|| value.clone());
            }
        }
    }
    if name_id.format.as_deref() == Some(EMAIL_FORMAT) {
        claims.entry("email".to_owned()).or_insert_with(|| Value::String(external_id.clone()));
    }
    let email = claims.get("email").and_then(Value::as_str).map(str::to_owned);
    let groups = match claims.get("groups").or_else(|| claims.get("memberOf")) {
        Some(Value::Array(v)) => v.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let expires_at = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after)
        .map(|t| t.timestamp())
        .unwrap_or_else(|| assertion.issue_instant.timestamp() + 3600);
    Ok(SamlAssertion {
        identity: UpstreamIdentity { external_id, claims, email, email_verified: true, amr: Vec::new(), groups },
        assertion_id: assertion.id,
        expires_at,
    })
}
