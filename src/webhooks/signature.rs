//! `X-ScaiKey-Signature: t=<unix>,v1=<hex>` — HMAC-SHA256 with the app's
//! webhook secret over `"<t>.<body>"`; during a rotation's grace period one
//! `v1=` per valid secret (`t=…,v1=<new>,v1=<old>`), so a receiver that
//! still knows only the old secret keeps verifying.

use aws_lc_rs::hmac;

/// The header value for `body` sent at unix time `t`, signed with each of `secrets`.
pub fn header(t: i64, body: &[u8], secrets: &[Vec<u8>]) -> String {
    let mut out = format!("t={t}");
    for secret in secrets {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(t.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body);
        out.push_str(",v1=");
        out.push_str(&hex(ctx.sign().as_ref()));
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_t_dot_body_once_per_secret() {
        // RFC 4231 test case 2's key and data, framed as "<t>.<body>".
        let h = header(0, b"", &[b"Jefe".to_vec()]);
        assert!(h.starts_with("t=0,v1=") && h.len() == "t=0,v1=".len() + 64, "{h}");
        let two = header(1700000000, b"{}", &[b"new".to_vec(), b"old".to_vec()]);
        assert_eq!(two.matches(",v1=").count(), 2);
        assert_ne!(header(1, b"{}", &[b"k".to_vec()]), header(2, b"{}", &[b"k".to_vec()]), "t is signed");
    }
}
