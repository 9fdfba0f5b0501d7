//! The IdP as samael needs it: an `EntityDescriptor` with an SSO endpoint
//! for the HTTP-Redirect binding and at least one signing certificate.
//! Metadata without a signing certificate is refused here: samael would
//! otherwise accept unsigned Responses.

use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};

use super::Metadata;

/// A checked IdP description.
#[derive(Debug, Clone)]
pub struct IdpMetadata {
    /// The parsed metadata, for samael.
    pub descriptor: EntityDescriptor,
    /// The IdP's entity id (the Response Issuer).
    pub entity_id: String,
    /// The SSO endpoint for HTTP-Redirect.
    pub sso_url: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The base64 DER body of a PEM or base64 certificate.
fn der_base64(cert: &str) -> String {
    cert.lines().filter(|l| !l.starts_with("-----")).flat_map(|l| l.split_whitespace()).collect()
}

/// Metadata for an IdP described by hand.
pub fn manual_xml(entity_id: &str, sso_url: &str, certificates: &[String]) -> String {
    let keys: String = certificates
        .iter()
        .map(|c| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                der_base64(c)
            )
        })
        .collect();
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="{HTTP_REDIRECT_BINDING}" Location="{}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        escape(entity_id),
        escape(sso_url)
    )
}

/// Parses and checks IdP metadata.
pub fn parse(xml: &str) -> Result<IdpMetadata, &'static str> {
    let descriptor: EntityDescriptor = xml
        .trim_start_matches('\u{feff}')
        .parse()
        .map_err(|_| "must be a SAML metadata document (EntityDescriptor)")?;
    let entity_id = descriptor.entity_id.clone().filter(|e| !e.is_empty()).ok_or("the metadata has no entityID")?;
    let idps = descriptor.idp_sso_descriptors.as_deref().unwrap_or_default();
    if idps.is_empty() {
        return Err("the metadata has no IDPSSODescriptor");
    }
    let sso_url = idps
        .iter()
        .flat_map(|d| d.single_sign_on_services.iter())
        .find(|s| s.binding == HTTP_REDIRECT_BINDING)
        .map(|s| s.location.clone())
        .ok_or("the metadata has no SingleSignOnService for the HTTP-Redirect binding")?;
    let has_cert = idps.iter().flat_map(|d| d.key_descriptors.iter()).any(|k| {
        k.key_use.as_deref().is_none_or(|u| u.is_empty() || u == "signing")
            && k.key_info.x509_data.as_ref().is_some_and(|x| !x.certificates.is_empty())
    });
    if !has_cert {
        return Err("the metadata has no signing certificate");
    }
    Ok(IdpMetadata { descriptor, entity_id, sso_url })
}

/// The metadata of a configured IdP, when it needs no fetch.
pub fn local(metadata: &Metadata) -> Option<Result<IdpMetadata, &'static str>> {
    match metadata {
        Metadata::Xml { metadata_xml } => Some(parse(metadata_xml)),
        Metadata::Manual { entity_id, sso_url, certificates } => {
            Some(parse(&manual_xml(entity_id, sso_url, certificates)))
        }
        Metadata::Url { .. } => None,
    }
}
