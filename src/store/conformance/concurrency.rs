//! Concurrency and cross-replica cases: races must have exactly one winner
//! on both databases, and what replicas report to each other must hold.

use std::sync::Arc;

use crate::domain::Timestamp;
use crate::store::{Scope, Store, StoreError};

use super::Case;
use super::fixtures::*;

macro_rules! case {
    ($name:ident) => {
        (stringify!($name), |s| Box::pin($name(s)))
    };
}

pub fn cases() -> Vec<Case> {
    vec![
        case!(concurrent_same_slug_has_one_winner),
        case!(leases_are_exclusive),
        case!(leases_are_fenced),
        case!(replicas_report_their_keys),
    ]
}

async fn concurrent_same_slug_has_one_winner(store: Store) {
    let (p, _, _) = two_tenants(&store).await;
    let p = Arc::new(p);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, p) = (store.clone(), Arc::clone(&p));
        tasks.push(tokio::spawn(async move {
            let mut tx = store.write(Scope::Platform).await?;
            tx.insert(&tenant(&p, "contested")).await?;
            tx.commit().await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert!(e.is_conflict_on("tenants_slug_key"), "{e:?}"),
        }
    }
    assert_eq!(ok, 1);
}

async fn leases_are_exclusive(store: Store) {
    let t0 = now();
    let until = t0.plus_seconds(30);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.write(Scope::Platform).await?;
            let won = tx.try_lease("sync:idp_1", &format!("holder{i}"), t0, until).await?;
            tx.commit().await?;
            Ok::<bool, StoreError>(won)
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one holder wins");
    let mut tx = store.write(Scope::Platform).await.unwrap();
    assert!(!tx.try_lease("sync:idp_1", "late", t0.plus_seconds(29), until).await.unwrap(), "held until expiry");
    let later: Timestamp = t0.plus_seconds(31);
    assert!(tx.try_lease("sync:idp_1", "late", later, later.plus_seconds(30)).await.unwrap(), "free after expiry");
    assert!(tx.try_lease("sync:idp_1", "late", later, later.plus_seconds(60)).await.unwrap(), "the holder renews");
    tx.release_lease("sync:idp_1", "late").await.unwrap();
    assert!(tx.try_lease("sync:idp_1", "other", later, later.plus_seconds(30)).await.unwrap(), "free after release");
    tx.commit().await.unwrap();
}

/// A holder whose lease lapsed and was taken over cannot pass the fence,
/// even if it renews nothing: the epoch moved when the lease changed hands.
async fn leases_are_fenced(store: Store) {
    let t0 = Timestamp::EPOCH.plus_seconds(1_000_000);
    let mut tx = store.write(Scope::Platform).await.unwrap();
    let first = tx.take_lease("sync:idp_f", "replica-a", t0, t0.plus_seconds(60)).await.unwrap().unwrap();
    assert_eq!(
        tx.take_lease("sync:idp_f", "replica-a", t0, t0.plus_seconds(60)).await.unwrap(),
        Some(first),
        "renewal keeps the epoch"
    );
    assert_eq!(tx.take_lease("sync:idp_f", "replica-b", t0.plus_seconds(30), t0.plus_seconds(90)).await.unwrap(), None);
    assert!(tx.holds_lease("sync:idp_f", "replica-a", first, t0.plus_seconds(30)).await.unwrap());
    // A's lease lapses (a paused replica); B takes over.
    let later = t0.plus_seconds(61);
    let second = tx.take_lease("sync:idp_f", "replica-b", later, later.plus_seconds(60)).await.unwrap().unwrap();
    assert!(second > first, "the epoch moves when the lease changes hands");
    assert!(!tx.holds_lease("sync:idp_f", "replica-a", first, later).await.unwrap(), "the old holder is fenced out");
    assert!(tx.holds_lease("sync:idp_f", "replica-b", second, later).await.unwrap());
    assert!(
        !tx.holds_lease("sync:idp_f", "replica-b", second, later.plus_seconds(61)).await.unwrap(),
        "an expired lease holds nothing"
    );
    tx.commit().await.unwrap();
}

/// Key-ring reports: the latest report of each replica counts, replicas
/// silent since `since` do not, and a replica that stopped is forgotten.
async fn replicas_report_their_keys(store: Store) {
    let t0 = now();
    let kids = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut tx = store.write(Scope::Platform).await.unwrap();
    tx.report_loaded_keys("a", &kids(&["k1", "k2"]), t0).await.unwrap();
    tx.report_loaded_keys("b", &kids(&["k1"]), t0).await.unwrap();
    tx.report_loaded_keys("gone", &kids(&[]), t0.plus_seconds(-200)).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.write(Scope::Platform).await.unwrap();
    let since = t0.plus_seconds(-180);
    assert_eq!(tx.replicas_missing_key("k2", since).await.unwrap(), vec!["b".to_owned()]);
    assert!(tx.replicas_missing_key("k1", since).await.unwrap().is_empty(), "silent replicas do not count");
    assert_eq!(tx.replicas_missing_key("k", since).await.unwrap(), vec!["a".to_owned(), "b".to_owned()], "whole ids");
    tx.report_loaded_keys("b", &kids(&["k1", "k2"]), t0.plus_seconds(60)).await.unwrap();
    assert!(tx.replicas_missing_key("k2", since).await.unwrap().is_empty(), "the latest report counts");
    tx.report_loaded_keys("a", &kids(&["k1"]), t0.plus_seconds(60)).await.unwrap();
    tx.forget_replica("a").await.unwrap();
    assert!(tx.replicas_missing_key("k2", since).await.unwrap().is_empty(), "a stopped replica is forgotten");
    tx.commit().await.unwrap();
}
