//! Claims: one per supplier and reference, reclaims after an attempt that bought nothing,
//! and the lists that read them.

use std::collections::BTreeSet;

use super::case::{
    A, B, C, Case, OTHER_SUPPLIER, SUPPLIER, at_once, owner, purchase, references, set,
};
use crate::{Entry, NewClaim, NewPurchase, Progress, ProgressRecord, State};

pub(super) async fn insert_claims_each_key_once(case: &Case) {
    let store = &case.store;
    let first = purchase(SUPPLIER, "r1");
    let claim = case.claim(&first, A, 0);
    let inserted = case.ok("insert", store.insert(&claim).await);
    case.check(inserted, "insert of a new key answers true");
    case.check_eq(
        case.get_at(SUPPLIER, "r1").await,
        Some(claim.entry()),
        "insert writes NewClaim::entry, read back equal (every field, times to the microsecond)",
    );
    let again = case.ok("insert", store.insert(&case.claim(&first, B, 1)).await);
    case.check(!again, "insert of an existing key answers false");
    case.check_eq(
        case.get_at(SUPPLIER, "r1").await,
        Some(claim.entry()),
        "insert of an existing key changes nothing",
    );
    let elsewhere = purchase(OTHER_SUPPLIER, "r1");
    let inserted = case.ok("insert", store.insert(&case.claim(&elsewhere, B, 2)).await);
    case.check(
        inserted,
        "the key is supplier and reference: one reference at two suppliers is two entries",
    );
    case.check_eq(
        case.get_at(SUPPLIER, "r1").await.and_then(|e| e.owner),
        Some(A.to_owned()),
        "an entry at another supplier leaves this one alone",
    );
    case.check_eq(
        case.get_at(SUPPLIER, "missing").await,
        None,
        "get of a missing key answers None",
    );
}

pub(super) async fn concurrent_inserts_have_one_winner(case: &Case) {
    let answers = at_once(12, |i| {
        let store = case.store.clone();
        let t0 = case.t0;
        async move {
            let purchase = purchase(SUPPLIER, "race");
            let owner = owner(i);
            let claim = NewClaim {
                purchase: &purchase,
                owner: &owner,
                lease_until: t0 + chrono::Duration::seconds(60),
                now: t0,
            };
            store.insert(&claim).await.map(|won| won.then_some(owner))
        }
    })
    .await;
    let winners: Vec<String> = answers
        .into_iter()
        .filter_map(|answer| case.ok("insert", answer))
        .collect();
    case.check_eq(
        winners.len(),
        1,
        "of concurrent inserts of one key exactly one answers true",
    );
    case.check_eq(
        case.get("race").await.owner,
        winners.into_iter().next(),
        "the entry is the winning insert's",
    );
}

pub(super) async fn reclaim_follows_only_an_attempt_that_bought_nothing(case: &Case) {
    let store = &case.store;
    case.claimed("r", A, 0).await;
    let again = purchase(SUPPLIER, "r");
    let reclaimed = case.ok("reclaim", store.reclaim(&case.claim(&again, B, 1)).await);
    case.check(
        reclaimed.is_none(),
        "reclaim refuses an entry that is not not_bought or failed (here sending)",
    );
    let created = Progress::to(State::Created).order_id("o-1");
    case.record("r", A, &created, 2).await;
    let failed = Progress::to(State::Failed).detail("refused");
    case.record("r", A, &failed, 3).await;
    let failed = case.get("r").await;

    let other_product = NewPurchase {
        product_id: "product-2".into(),
        ..again.clone()
    };
    let other_quantity = NewPurchase {
        quantity: 3,
        ..again.clone()
    };
    for other in [&other_product, &other_quantity] {
        let reclaimed = case.ok("reclaim", store.reclaim(&case.claim(other, B, 4)).await);
        case.check(
            reclaimed.is_none(),
            "reclaim refuses another product or quantity under the same reference",
        );
    }
    case.check_eq(
        case.get("r").await,
        failed,
        "a refused reclaim changes nothing",
    );

    let retry = NewPurchase {
        facts: serde_json::json!({"retry": true}),
        idempotency_key: Some("key-2".into()),
        balance_before: None,
        ..again.clone()
    };
    let claim = case.claim(&retry, B, 5);
    let expected = Entry {
        attempt: 2,
        ..claim.entry()
    };
    case.check_eq(
        case.ok("reclaim", store.reclaim(&claim).await),
        Some(expected.clone()),
        "reclaim of a failed entry of the same product and quantity answers NewClaim::entry \
         with the attempt counted on, the old attempt's order id, detail and marks cleared",
    );
    case.check_eq(
        case.get("r").await,
        expected,
        "reclaim writes what it answers",
    );
    let twice = case.ok("reclaim", store.reclaim(&case.claim(&again, C, 6)).await);
    case.check(
        twice.is_none(),
        "a reclaimed entry is sending: reclaiming it again is refused",
    );

    case.record("r", B, &Progress::to(State::NotBought), 7)
        .await;
    let third = case.ok("reclaim", store.reclaim(&case.claim(&again, C, 8)).await);
    case.check_eq(
        third.map(|e| (e.attempt, e.state)),
        Some((3, State::Sending)),
        "reclaim of a not_bought entry of the same product and quantity answers it",
    );
    case.record("r", C, &Progress::to(State::Bought), 9).await;
    let bought = case.ok("reclaim", store.reclaim(&case.claim(&again, A, 10)).await);
    case.check(bought.is_none(), "reclaim refuses a bought entry");
    let missing = purchase(SUPPLIER, "missing");
    let missing = case.ok("reclaim", store.reclaim(&case.claim(&missing, A, 11)).await);
    case.check(missing.is_none(), "reclaim of a missing key answers None");
}

pub(super) async fn concurrent_reclaims_have_one_winner(case: &Case) {
    case.claimed("race", A, 0).await;
    case.record("race", A, &Progress::to(State::Failed), 1)
        .await;
    let answers = at_once(8, |i| {
        let store = case.store.clone();
        let now = case.at(2);
        async move {
            let purchase = purchase(SUPPLIER, "race");
            let owner = owner(i);
            let claim = NewClaim {
                purchase: &purchase,
                owner: &owner,
                lease_until: now + chrono::Duration::seconds(60),
                now,
            };
            store.reclaim(&claim).await
        }
    })
    .await;
    let winners = answers
        .into_iter()
        .filter_map(|answer| case.ok("reclaim", answer))
        .count();
    case.check_eq(
        winners,
        1,
        "of concurrent reclaims of one failed entry exactly one answers it",
    );
}

pub(super) async fn lists_select_by_state_and_supplier(case: &Case) {
    let steps: [(&str, Option<Progress>); 6] = [
        ("sending", None),
        ("unknown", Some(Progress::to(State::Unknown))),
        (
            "created",
            Some(Progress::to(State::Created).order_id("o-created")),
        ),
        (
            "bought",
            Some(Progress::to(State::Bought).order_id("o-bought")),
        ),
        ("not-bought", Some(Progress::to(State::NotBought))),
        (
            "failed",
            Some(Progress::to(State::Failed).order_id("o-failed")),
        ),
    ];
    for (at, (reference, progress)) in (0..).zip(&steps) {
        case.claimed(reference, A, at).await;
        if let Some(progress) = progress {
            case.record(reference, A, progress, at).await;
        }
    }
    let other = purchase(OTHER_SUPPLIER, "other");
    let inserted = case.store.insert(&case.claim(&other, A, 6)).await;
    case.check(
        case.ok("insert", inserted),
        "insert of a new key answers true",
    );
    let bought = Progress::to(State::Bought).order_id("o-other");
    let record = ProgressRecord {
        supplier: OTHER_SUPPLIER,
        reference: "other",
        owner: A,
        progress: &bought,
        now: case.at(6),
    };
    let recorded = case.store.record(&record).await;
    case.check(
        case.ok("record", recorded),
        "record by the holder answers true",
    );

    let unresolved = case.ok("unresolved", case.store.unresolved().await);
    case.check_eq(
        references(&unresolved),
        set(["sending", "unknown", "created"]),
        "unresolved lists exactly the sending, unknown and created entries",
    );
    for entry in &unresolved {
        case.check_eq(
            entry.clone(),
            case.get(&entry.reference).await,
            "unresolved lists entries as get reads them",
        );
    }
    let all = case.ok("all_entries", case.store.all_entries().await);
    let keys: BTreeSet<(String, String)> = all
        .iter()
        .map(|e| (e.supplier.clone(), e.reference.clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = steps
        .iter()
        .map(|(reference, _)| (SUPPLIER.to_owned(), reference.to_string()))
        .chain([(OTHER_SUPPLIER.to_owned(), "other".to_owned())])
        .collect();
    case.check_eq(
        (all.len(), keys),
        (expected.len(), expected),
        "all_entries lists every entry once",
    );
    for entry in &all {
        let read = case.get_at(&entry.supplier, &entry.reference).await;
        case.check_eq(
            Some(entry.clone()),
            read,
            "all_entries lists entries as get reads them",
        );
    }

    let mut known = case.ok("known_orders", case.store.known_orders(SUPPLIER).await);
    known.sort();
    case.check_eq(
        known,
        vec![
            ("o-bought".to_owned(), case.at(3)),
            ("o-created".to_owned(), case.at(2)),
            ("o-failed".to_owned(), case.at(5)),
        ],
        "known_orders lists the supplier's order ids with their started_at, whatever the state",
    );
    case.check_eq(
        case.ok(
            "known_orders",
            case.store.known_orders(OTHER_SUPPLIER).await,
        ),
        vec![("o-other".to_owned(), case.at(6))],
        "known_orders lists only the supplier's entries",
    );
    let none = case.ok("known_orders", case.store.known_orders("nobody").await);
    case.check(
        none.is_empty(),
        "known_orders of a supplier without entries is empty",
    );
}
