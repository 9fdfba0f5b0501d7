//! The SP's signing key and certificate: RSA-2048 and a self-signed
//! SHA-256 certificate, valid ten years (IdPs pin the certificate from our
//! metadata; they do not check a chain).

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};

use crate::ConnectorError;

/// A new SP key pair: (PKCS#8 private key PEM, certificate PEM).
pub fn generate_sp_key(common_name: &str) -> Result<(String, String), ConnectorError> {
    let fail = |e: openssl::error::ErrorStack| ConnectorError::Config(format!("SP key generation: {e}"));
    let key = PKey::from_rsa(Rsa::generate(2048).map_err(fail)?).map_err(fail)?;
    let mut name = X509NameBuilder::new().map_err(fail)?;
    let cn: String = common_name.chars().take(64).collect();
    name.append_entry_by_text("CN", &cn).map_err(fail)?;
    let name = name.build();
    let mut serial = BigNum::new().map_err(fail)?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false).map_err(fail)?;
    let mut cert = X509::builder().map_err(fail)?;
    cert.set_version(2).map_err(fail)?;
    let serial = serial.to_asn1_integer().map_err(fail)?;
    cert.set_serial_number(&serial).map_err(fail)?;
    cert.set_subject_name(&name).map_err(fail)?;
    cert.set_issuer_name(&name).map_err(fail)?;
    cert.set_pubkey(&key).map_err(fail)?;
    let (not_before, not_after) =
        (Asn1Time::days_from_now(0).map_err(fail)?, Asn1Time::days_from_now(3650).map_err(fail)?);
    cert.set_not_before(&not_before).map_err(fail)?;
    cert.set_not_after(&not_after).map_err(fail)?;
    cert.sign(&key, MessageDigest::sha256()).map_err(fail)?;
    let key_pem = key.private_key_to_pem_pkcs8().map_err(fail)?;
    let cert_pem = cert.build().to_pem().map_err(fail)?;
    let text =
        |b: Vec<u8>| String::from_utf8(b).map_err(|_| ConnectorError::Config("SP key generation: not PEM".into()));
    Ok((text(key_pem)?, text(cert_pem)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_usable_pair() {
        let (key, cert) = generate_sp_key("ScaiKey SP acme").unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
        let cert = X509::from_pem(cert.as_bytes()).unwrap();
        let key = PKey::private_key_from_pem(key.as_bytes()).unwrap();
        assert!(cert.public_key().unwrap().public_eq(&key));
    }
}
