//! Sealing reversible secrets at rest (signing private keys, IdP client
//! secrets, LDAP bind passwords, webhook secrets) with AES-256-GCM under the
//! master key. The associated data names the secret's slot (e.g.
//! `idp:idp_…:client_secret`), so a sealed value copied into another row or
//! field fails to open instead of leaking there.
//!
//! Format: `v1.` + base64url(nonce ‖ ciphertext ‖ tag), nonce random 96 bits.

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::ids::random_bytes;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the master key must be 32 bytes in base64")]
    BadMasterKey,
    #[error("cannot read or create the master key file {0}: {1}")]
    KeyFile(String, std::io::Error),
    #[error("a sealed secret could not be opened (wrong master key or tampered data)")]
    Open,
}

pub struct Sealer {
    key: LessSafeKey,
    /// The master key being replaced, still accepted for opening until
    /// `scaikey keys reseal` has sealed everything under `key`.
    previous: Option<LessSafeKey>,
}

impl Sealer {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::BadMasterKey)?;
        Ok(Self { key: LessSafeKey::new(unbound), previous: None })
    }

    /// Also opens what `previous` (base64) sealed: a master-key rotation in progress.
    pub fn with_previous(mut self, previous: &str) -> Result<Self, SealError> {
        self.previous = Some(Self::from_base64(previous)?.key);
        Ok(self)
    }

    /// From `SCAIKEY_MASTER_KEY` (base64 of 32 bytes).
    pub fn from_base64(b64: &str) -> Result<Self, SealError> {
        let bytes = STANDARD.decode(b64.trim()).map_err(|_| SealError::BadMasterKey)?;
        if bytes.len() != 32 {
            return Err(SealError::BadMasterKey);
        }
        Self::from_bytes(&bytes)
    }

    /// Reads `path`, or creates it with a fresh random key and mode 0600.
    pub fn from_key_file(path: &Path) -> Result<Self, SealError> {
        let err = |e| SealError::KeyFile(path.display().to_string(), e);
        match std::fs::read_to_string(path) {
            Ok(s) => Self::from_base64(&s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = random_bytes();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(err)?;
                }
                write_private(path, STANDARD.encode(key).as_bytes()).map_err(err)?;
                Self::from_bytes(&key)
            }
            Err(e) => Err(err(e)),
        }
    }

    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = random_bytes();
        let mut buf = plaintext.to_vec();
        // Sealing in place only fails for inputs beyond GCM's 64 GiB limit.
        if self
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .is_err()
        {
            return String::new();
        }
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        format!("v1.{}", URL_SAFE_NO_PAD.encode(out))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let raw = sealed.strip_prefix("v1.").ok_or(SealError::Open)?;
        let mut bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| SealError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let body = bytes.split_off(NONCE_LEN);
        for key in std::iter::once(&self.key).chain(self.previous.as_ref()) {
            let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| SealError::Open)?;
            let mut attempt = body.clone();
            if let Ok(plain) = key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut attempt) {
                return Ok(plain.to_vec());
            }
        }
        Err(SealError::Open)
    }

    pub fn open_string(&self, context: &str, sealed: &str) -> Result<String, SealError> {
        String::from_utf8(self.open(context, sealed)?).map_err(|_| SealError::Open)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(data)
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_in_the_same_slot() {
        let s = Sealer::from_bytes(&[7u8; 32]).unwrap();
        let sealed = s.seal("idp:a:client_secret", b"hunter2");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(s.open("idp:a:client_secret", &sealed).unwrap(), b"hunter2");
        assert!(s.open("idp:b:client_secret", &sealed).is_err());
        let other = Sealer::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open("idp:a:client_secret", &sealed).is_err());
    }

    #[test]
    fn a_previous_master_key_still_opens_until_resealed() {
        let old = Sealer::from_bytes(&[7u8; 32]).unwrap();
        let sealed = old.seal("ctx", b"secret");
        let old_b64 = STANDARD.encode([7u8; 32]);
        let rotating = Sealer::from_bytes(&[9u8; 32]).unwrap().with_previous(&old_b64).unwrap();
        assert_eq!(rotating.open("ctx", &sealed).unwrap(), b"secret");
        let resealed = rotating.seal("ctx", b"secret");
        assert!(old.open("ctx", &resealed).is_err(), "new seals use the new key");
        let after = Sealer::from_bytes(&[9u8; 32]).unwrap();
        assert_eq!(after.open("ctx", &resealed).unwrap(), b"secret");
        assert!(after.open("ctx", &sealed).is_err(), "without the previous key, old seals stay closed");
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("scaikey-seal-{}", crate::ids::random_base36(8)));
        let path = dir.join("master.key");
        let a = Sealer::from_key_file(&path).unwrap();
        let sealed = a.seal("x", b"y");
        let b = Sealer::from_key_file(&path).unwrap();
        assert_eq!(b.open("x", &sealed).unwrap(), b"y");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).ok();
    }
}
