//! Signing-key rotation. A new key is created `next`: published in JWKS at
//! once but signing only from `activated_at`, so relying parties that cache
//! JWKS (we allow 5 minutes) know it before they see a token it signed. When
//! it activates, the key it replaces becomes `retired` and stays published
//! until the last token it could have signed has expired (the longest token
//! lifetime plus clock skew), then drops out of JWKS.
//!
//! Across replicas: each replica reloads the ring every `RELOAD_INTERVAL`
//! and reports the keys it loaded (`report_loaded`). A due `next` key is
//! promoted only once every replica seen within `REPLICA_LIVENESS` reports
//! it — a replica that has not loaded a key would refuse the tokens it signs
//! (userinfo, introspection, the admin API). A replica silent for longer is
//! taken for gone and no longer holds the promotion back.
//!
//! | status  | in JWKS | signs |
//! |---------|---------|-------|
//! | next    | yes     | no (until `activated_at`) |
//! | active  | yes     | yes (the newest per algorithm) |
//! | retired | until `expires_at` | no |

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::clock::Clock;
use crate::domain::application::SigningAlg;
use crate::domain::signing_key::SigningKey;
use crate::store::{Scope, Store};

use super::signing::SigningKeyPair;
use super::{ALGORITHMS, KeyError, KeyRing, seal_context};

/// Longest access/ID token lifetime an app may set, plus clock skew.
pub const RETIRED_KEY_GRACE: i64 = 86_400 + 300;
/// Default delay between publishing a key and signing with it.
pub const DEFAULT_ACTIVATE_IN: i64 = 900;
/// Seconds between two reloads of the key ring on every replica. A key must
/// not sign sooner than this after it is published, or a replica that has
/// not reloaded yet would refuse the tokens it signs.
pub const RELOAD_INTERVAL: i64 = 60;
/// A replica that has not reported its key ring for this long is taken for
/// gone: three missed reloads.
pub const REPLICA_LIVENESS: i64 = 3 * RELOAD_INTERVAL;
/// Keys older than this are rotated automatically.
pub const DEFAULT_MAX_AGE: i64 = 90 * 86_400;

const LEASE: &str = "signing_keys.rotate";

impl KeyRing {
    /// Creates a `next` key for each of `algs` that signs after `activate_in` seconds.
    pub async fn rotate(
        &self,
        store: &Store,
        clock: &dyn Clock,
        algs: &[SigningAlg],
        activate_in: i64,
    ) -> Result<Vec<SigningKey>, KeyError> {
        if activate_in < RELOAD_INTERVAL {
            return Err(KeyError::ActivateTooSoon(RELOAD_INTERVAL));
        }
        let now = clock.now();
        let mut created = Vec::new();
        let mut tx = store.write(Scope::Platform).await?;
        for &alg in algs {
            let (pair, der) = tokio::task::spawn_blocking(move || SigningKeyPair::generate(alg))
                .await
                .map_err(|_| super::signing::SigningError::Generate)??;
            let key = SigningKey {
                id: pair.kid.clone(),
                alg: alg.as_str(),
                status: "next".into(),
                private_key_sealed: self.sealer().seal(&seal_context(&pair.kid), STANDARD.encode(&der).as_bytes()),
                public_jwk: pair.public_jwk.clone(),
                created_at: now,
                activated_at: Some(now.plus_seconds(activate_in.max(0))),
                retired_at: None,
                expires_at: None,
            };
            tx.insert(&key).await?;
            tracing::info!(target: "audit", action = "signing_key.rotate", kid = %key.id, alg = %key.alg, "new signing key published");
            created.push(key);
        }
        tx.commit().await?;
        self.reload(store, clock).await?;
        Ok(created)
    }

    /// Reloads and reports the ring of this replica (`holder`), promotes due
    /// `next` keys that every live replica has loaded (retiring the keys they
    /// replace), starts an automatic rotation for keys older than `max_age`,
    /// and reloads when it promoted one (a rotation reloads by itself). Runs
    /// under a lease so replicas do not race each other.
    pub async fn maintain(&self, store: &Store, clock: &dyn Clock, holder: &str, max_age: i64) -> Result<(), KeyError> {
        self.reload(store, clock).await?;
        self.report_loaded(store, clock, holder).await?;
        let now = clock.now();
        let mut tx = store.write(Scope::Platform).await?;
        if !tx.try_lease(LEASE, holder, now, now.plus_seconds(60)).await? {
            tx.commit().await?;
            return Ok(());
        }
        let keys = tx.published_keys(now).await?;
        let (mut to_rotate, mut promoted_any) = (Vec::new(), false);
        for alg in ALGORITHMS {
            let of_alg: Vec<&SigningKey> = keys.iter().filter(|k| k.alg == alg.as_str()).collect();
            let due = of_alg
                .iter()
                .filter(|k| k.status == "next" && k.activated_at.is_some_and(|a| a <= now))
                .max_by_key(|k| k.activated_at);
            if let Some(next) = due {
                let missing = tx.replicas_missing_key(&next.id, now.plus_seconds(-REPLICA_LIVENESS)).await?;
                if !missing.is_empty() {
                    tracing::info!(kid = %next.id, waiting_for = ?missing, "new signing key waits until every replica has loaded it");
                    continue;
                }
                for old in of_alg.iter().filter(|k| {
                    k.status == "active"
                        || (k.status == "next" && k.id != next.id && k.activated_at <= next.activated_at)
                }) {
                    let mut retired = (*old).clone();
                    retired.status = "retired".into();
                    retired.retired_at = Some(now);
                    retired.expires_at = Some(now.plus_seconds(RETIRED_KEY_GRACE));
                    tx.update(&retired).await?;
                }
                let mut promoted = (*next).clone();
                promoted.status = "active".into();
                tx.update(&promoted).await?;
                promoted_any = true;
                tracing::info!(target: "audit", action = "signing_key.activate", kid = %promoted.id, alg = %promoted.alg, "signing key activated");
                continue;
            }
            let pending = of_alg.iter().any(|k| k.status == "next");
            let newest_active = of_alg.iter().filter(|k| k.status == "active").filter_map(|k| k.activated_at).max();
            if !pending && newest_active.is_some_and(|a| now.unix_seconds() - a.unix_seconds() >= max_age) {
                to_rotate.push(alg);
            }
        }
        tx.release_lease(LEASE, holder).await?;
        tx.commit().await?;
        if !to_rotate.is_empty() {
            self.rotate(store, clock, &to_rotate, DEFAULT_ACTIVATE_IN).await?;
        } else if promoted_any {
            self.reload(store, clock).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::app::Services;
    use crate::clock::ManualClock;
    use crate::config::Config;
    use crate::domain::Timestamp;
    use crate::domain::application::SigningAlg;

    use super::*;

    fn kids(svc: &Services) -> Vec<String> {
        svc.keys.jwks()["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    }

    #[tokio::test]
    async fn a_new_key_is_published_before_it_signs_and_the_old_one_outlives_its_tokens() {
        let clock = ManualClock::new(Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap());
        let dir = std::env::temp_dir().join(format!("scaikey-rot-{}", crate::ids::random_base36(8)));
        let config = Config { data_dir: dir.clone(), ..Config::default() };
        let svc = Services::start(config, Arc::new(clock.clone())).await.unwrap();
        let old = svc.keys.signer(SigningAlg::RS256).unwrap().kid.clone();

        let created = svc.keys.rotate(&svc.store, &clock, &[SigningAlg::RS256], 900).await.unwrap();
        let new = created[0].id.clone();
        assert!(kids(&svc).contains(&new), "published at once");
        assert_eq!(svc.keys.signer(SigningAlg::RS256).unwrap().kid, old, "but not signing yet");

        clock.advance(899);
        svc.keys.maintain(&svc.store, &clock, "me", DEFAULT_MAX_AGE).await.unwrap();
        assert_eq!(svc.keys.signer(SigningAlg::RS256).unwrap().kid, old);

        clock.advance(2);
        svc.keys.maintain(&svc.store, &clock, "me", DEFAULT_MAX_AGE).await.unwrap();
        assert_eq!(svc.keys.signer(SigningAlg::RS256).unwrap().kid, new, "signs once due");
        assert!(kids(&svc).contains(&old), "the old key stays published");

        clock.advance(RETIRED_KEY_GRACE + 1);
        svc.keys.maintain(&svc.store, &clock, "me", DEFAULT_MAX_AGE).await.unwrap();
        assert!(!kids(&svc).contains(&old), "dropped after its last token expired");
        assert_eq!(svc.keys.signer(SigningAlg::ES256).unwrap().alg, SigningAlg::ES256, "other algorithms untouched");

        // Keys older than the maximum age rotate by themselves.
        clock.advance(DEFAULT_MAX_AGE);
        svc.keys.maintain(&svc.store, &clock, "me", DEFAULT_MAX_AGE).await.unwrap();
        assert_eq!(kids(&svc).len(), 6, "a next key per algorithm is published");
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn a_key_never_signs_before_every_replica_reloaded() {
        let clock = ManualClock::new(Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap());
        let dir = std::env::temp_dir().join(format!("scaikey-rot-{}", crate::ids::random_base36(8)));
        let config = Config { data_dir: dir.clone(), ..Config::default() };
        let svc = Services::start(config, Arc::new(clock.clone())).await.unwrap();
        for too_soon in [0, RELOAD_INTERVAL - 1] {
            let r = svc.keys.rotate(&svc.store, &clock, &[SigningAlg::RS256], too_soon).await;
            assert!(matches!(r, Err(KeyError::ActivateTooSoon(_))), "activate_in={too_soon}");
        }
        assert_eq!(kids(&svc).len(), 3, "nothing was published");
        std::fs::remove_dir_all(dir).ok();
    }

    /// A SQLite database and master key that several key rings share, as
    /// replicas do, and a clock to move.
    async fn shared_database() -> (std::path::PathBuf, Store, ManualClock, Arc<crate::keys::seal::Sealer>) {
        let dir = std::env::temp_dir().join(format!("scaikey-keys-{}", crate::ids::random_base36(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.join("db").display())).await.unwrap();
        store.migrate().await.unwrap();
        let clock = ManualClock::new(Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap());
        let sealer = Arc::new(crate::keys::seal::Sealer::from_key_file(&dir.join("master.key")).unwrap());
        (dir, store, clock, sealer)
    }

    /// Two replicas on one database, and a third that stopped reporting:
    /// a due key waits for the replica that has not loaded it, then signs;
    /// a silent replica holds it back only until `REPLICA_LIVENESS`.
    #[tokio::test]
    async fn a_key_signs_only_once_every_live_replica_loaded_it() {
        let (dir, store, clock, sealer) = shared_database().await;
        let (a, b) = (KeyRing::new(Arc::clone(&sealer)), KeyRing::new(sealer));
        a.ensure_keys(&store, &clock, "a").await.unwrap();
        b.ensure_keys(&store, &clock, "b").await.unwrap();
        a.maintain(&store, &clock, "a", DEFAULT_MAX_AGE).await.unwrap();
        b.maintain(&store, &clock, "b", DEFAULT_MAX_AGE).await.unwrap();
        let signer = |r: &KeyRing| r.signer(SigningAlg::ES256).unwrap().kid.clone();
        let old = signer(&a);

        let new = a.rotate(&store, &clock, &[SigningAlg::ES256], RELOAD_INTERVAL).await.unwrap()[0].id.clone();
        clock.advance(RELOAD_INTERVAL + 1);
        a.maintain(&store, &clock, "a", DEFAULT_MAX_AGE).await.unwrap();
        assert_eq!(signer(&a), old, "due, but b has not loaded it");
        b.reload(&store, &clock).await.unwrap();
        b.report_loaded(&store, &clock, "b").await.unwrap();
        a.maintain(&store, &clock, "a", DEFAULT_MAX_AGE).await.unwrap();
        assert_eq!(signer(&a), new, "signs once every replica reported it");
        b.maintain(&store, &clock, "b", DEFAULT_MAX_AGE).await.unwrap();
        assert_eq!(signer(&b), new);

        // b stops reporting (killed): the next key waits for it, then not.
        let newer = a.rotate(&store, &clock, &[SigningAlg::ES256], RELOAD_INTERVAL).await.unwrap()[0].id.clone();
        clock.advance(RELOAD_INTERVAL + 1);
        a.maintain(&store, &clock, "a", DEFAULT_MAX_AGE).await.unwrap();
        assert_eq!(signer(&a), new, "b was seen a minute ago");
        clock.advance(REPLICA_LIVENESS);
        a.maintain(&store, &clock, "a", DEFAULT_MAX_AGE).await.unwrap();
        assert_eq!(signer(&a), newer, "b is gone");
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn a_replica_losing_the_initialisation_race_still_gets_keys() {
        let (dir, store, clock, sealer) = shared_database().await;
        // The winner created the keys and still holds the initialisation lease.
        KeyRing::new(Arc::clone(&sealer)).ensure_keys(&store, &clock, "winner").await.unwrap();
        let now = clock.now();
        let mut tx = store.write(Scope::Platform).await.unwrap();
        assert!(tx.try_lease("signing_keys.init", "winner", now, now.plus_seconds(60)).await.unwrap());
        tx.commit().await.unwrap();
        // The loser cannot take the lease, yet starts with every key.
        let loser = KeyRing::new(sealer);
        loser.ensure_keys(&store, &clock, "loser").await.unwrap();
        for alg in crate::keys::ALGORITHMS {
            assert!(loser.signer(alg).is_ok(), "{alg:?} signs on the replica that lost the race");
        }
        std::fs::remove_dir_all(dir).ok();
    }
}
