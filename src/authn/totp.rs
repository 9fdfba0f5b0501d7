//! TOTP (RFC 6238): SHA-1, 6 digits, 30-second steps, one step either way
//! for clock drift. `check` answers which step a code belongs to, so the
//! caller can accept each step once (replay refused). Time is the injected
//! clock's; secrets are 20 random bytes, sealed at rest by the caller.

use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Builder, Secret, Totp};

/// A new TOTP secret (160 bits, RFC 4226's recommendation).
pub fn new_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; 20];
    // aws-lc's generator fails only if the system's entropy source does.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    bytes
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<Totp> {
    Builder::new().with_secret(secret.to_vec()).with_issuer(Some(issuer)).with_account_name(account).build().ok()
}

/// The step `code` is valid for at `now` (unix seconds), within ±1 step.
pub fn check(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "x", "x")?;
    t.check(&code, u64::try_from(now).ok()?).and_then(|step| i64::try_from(step).ok())
}

/// The secret as the base32 text authenticator apps accept typed in.
pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The `otpauth://` URI and its QR code as an SVG document.
pub fn enrollment(secret: &[u8], issuer: &str, account: &str) -> Option<(String, String)> {
    let url = totp(secret, issuer, account)?.to_url().ok()?;
    let svg = QrCode::new(url.as_bytes()).ok()?.render::<svg::Color>().min_dimensions(200, 200).build();
    Some((url, svg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors() {
        // RFC 6238 Appendix B: the ASCII secret "12345678901234567890", 8
        // digits there; the last 6 of each are the 6-digit codes.
        let secret = b"12345678901234567890";
        for (t, code) in [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")] {
            assert_eq!(check(secret, code, t), Some(t / 30), "t={t}");
        }
        assert_eq!(check(secret, "287082", 59 + 30), Some(1), "one step late is accepted");
        assert_eq!(check(secret, "287082", 59 + 60), None, "two steps late is refused");
        assert_eq!(check(secret, "28708", 59), None);
        assert!(base32(secret).starts_with("GEZDGNBVGY3TQOJQ"));
        let (url, svg) = enrollment(&new_secret(), "Acme", "ada@acme.test").unwrap();
        assert!(url.starts_with("otpauth://totp/") && svg.contains("<svg"), "{url}");
    }
}
