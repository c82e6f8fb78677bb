//! Fulfilment tracking: claims shared by trackers under leases, settlement, report marks
//! and report failures.

use std::collections::BTreeSet;

use super::case::{A, B, C, Case, SUPPLIER, at_once, owner, references, set};
use crate::{Entry, Fulfilment, JournalError, Progress, Settlement, State};

pub(super) async fn awaiting_report_lists_bought_unreported_entries(case: &Case) {
    case.bought("b1", 0).await;
    case.bought("b2", 1).await;
    case.claimed("sending", A, 2).await;
    case.claimed("failed", A, 3).await;
    case.record("failed", A, &Progress::to(State::Failed), 3)
        .await;
    let awaiting = case.ok("awaiting_report", case.store.awaiting_report().await);
    case.check_eq(
        references(&awaiting),
        set(["b1", "b2"]),
        "awaiting_report lists exactly the bought entries not yet reported",
    );
    case.check(
        awaiting
            .iter()
            .all(|e| e.fulfilment == Some(Fulfilment::Awaiting)),
        "a bought entry awaits its goods",
    );
    case.track(A, 100, 10, 10).await;
    case.check(
        case.mark_reported("b1", A, 11).await,
        "mark_reported by the tracker answers true",
    );
    let awaiting = case.ok("awaiting_report", case.store.awaiting_report().await);
    case.check_eq(
        references(&awaiting),
        set(["b2"]),
        "awaiting_report lists held entries too, and no reported one",
    );
}

pub(super) async fn tracking_claims_take_the_oldest_free_entries(case: &Case) {
    // Bought newest first, so that the order of insertion is not the order of start.
    for i in (0..10).rev() {
        case.bought(&format!("t{i}"), i).await;
    }
    let bought = case.ok("all_entries", case.store.all_entries().await);
    let first = case.track(A, 100, 20, 4).await;
    case.check_eq(
        references(&first),
        set(["t0", "t1", "t2", "t3"]),
        "claim_for_tracking takes at most `limit` entries, the oldest by started_at",
    );
    for entry in &first {
        let before = bought.iter().find(|e| e.reference == entry.reference);
        let expected = before.map(|before| Entry {
            owner: Some(A.into()),
            lease_until: Some(case.at(100)),
            taken_over_from: None,
            ..before.clone()
        });
        case.check_eq(
            Some(entry.clone()),
            expected,
            "a tracking claim sets owner and lease (taken from nobody) and nothing else",
        );
        case.check_eq(
            case.get(&entry.reference).await,
            entry.clone(),
            "claim_for_tracking writes what it answers",
        );
    }
    let second = case.track(B, 100, 20, 100).await;
    case.check_eq(
        references(&second),
        (4..10).map(|i| format!("t{i}")).collect(),
        "a second tracker takes the entries the first left",
    );
    for owner in [A, C] {
        case.check(
            case.track(owner, 100, 20, 100).await.is_empty(),
            "an entry whose tracker's lease lives is not claimed again",
        );
    }
}

pub(super) async fn tracking_claims_take_over_lapsed_leases_only(case: &Case) {
    for i in 0..3 {
        case.bought(&format!("t{i}"), i).await;
    }
    case.track(A, 50, 10, 10).await;
    case.check(
        case.track(B, 200, 49, 10).await.is_empty(),
        "a tracking claim leaves entries whose lease lives (lease_until after now)",
    );
    let taken = case.track(B, 200, 50, 10).await;
    case.check_eq(
        references(&taken),
        set(["t0", "t1", "t2"]),
        "a tracking claim takes entries whose lease lapsed (lease_until at or before now)",
    );
    case.check(
        taken
            .iter()
            .all(|e| e.owner.as_deref() == Some(B) && e.taken_over_from.as_deref() == Some(A)),
        "a tracking claim records whom it took a lapsed entry from",
    );
    let late = Settlement {
        fulfilment: Fulfilment::Delivered,
        detail: None,
    };
    case.check(
        !case.settle("t0", A, late, 51).await,
        "a lapsed tracker can no longer settle",
    );
    case.check(
        !case.mark_reported("t0", A, 51).await,
        "a lapsed tracker can no longer mark reported",
    );
    case.check(
        !case.report_failed("t0", A, "late").await,
        "a lapsed tracker can no longer count a failure",
    );

    let released = case.ok("release_tracking", case.store.release_tracking(B).await);
    case.check_eq(released, 3, "release_tracking answers how many it let go");
    let again = case.track(C, 300, 51, 10).await;
    case.check(
        again.len() == 3 && again.iter().all(|e| e.taken_over_from.is_none()),
        "released entries are free at once, taken from nobody",
    );
}

pub(super) async fn concurrent_tracking_claims_never_share_an_entry(case: &Case) {
    for i in 0..24 {
        case.bought(&format!("t{i:02}"), i).await;
    }
    let batches = at_once(6, |i| {
        let store = case.store.clone();
        let (lease_until, now) = (case.at(1000), case.at(100));
        async move {
            let owner = owner(i);
            let mut claimed = Vec::new();
            loop {
                let batch = store
                    .claim_for_tracking(&owner, lease_until, now, 3)
                    .await?;
                if batch.is_empty() {
                    return Ok::<_, JournalError>(claimed);
                }
                claimed.extend(batch.into_iter().map(|e| (e.reference, e.owner)));
            }
        }
    })
    .await;
    let mut all = Vec::new();
    for (i, batch) in batches.into_iter().enumerate() {
        let batch = case.ok("claim_for_tracking", batch);
        case.check(
            batch
                .iter()
                .all(|(_, o)| o.as_deref() == Some(owner(i).as_str())),
            "a tracking claim answers entries held by its owner",
        );
        all.extend(batch.into_iter().map(|(reference, _)| reference));
    }
    let unique: BTreeSet<&String> = all.iter().collect();
    case.check_eq(
        unique.len(),
        all.len(),
        "concurrent tracking claims never answer one entry twice while its lease lives",
    );
    case.check_eq(
        all.len(),
        24,
        "claims that stop finding entries have taken every free one",
    );
    case.check(
        case.track(C, 1000, 100, 100).await.is_empty(),
        "nothing is left to claim",
    );
}

pub(super) async fn tracking_leases_renew_and_release_only_tracked_entries(case: &Case) {
    for i in 0..3 {
        case.bought(&format!("t{i}"), i).await;
    }
    case.track(A, 50, 10, 10).await;
    let purchase = case.claimed("held", A, 11).await;
    let renewed = case.ok(
        "renew_tracking",
        case.store.renew_tracking(A, case.at(200)).await,
    );
    case.check_eq(
        renewed,
        3,
        "renew_tracking answers how many entries awaiting a report the owner holds",
    );
    let awaiting = case.ok("awaiting_report", case.store.awaiting_report().await);
    case.check(
        awaiting.iter().all(|e| e.lease_until == Some(case.at(200))),
        "renew_tracking sets the lease of every entry the tracker holds",
    );
    case.check_eq(
        case.get("held").await,
        purchase.clone(),
        "renew_tracking leaves a purchase the owner holds (it awaits no report)",
    );
    let none = case.ok(
        "renew_tracking",
        case.store.renew_tracking(B, case.at(200)).await,
    );
    case.check_eq(
        none,
        0,
        "renew_tracking of an owner holding nothing answers 0",
    );

    let released = case.ok("release_tracking", case.store.release_tracking(A).await);
    case.check_eq(released, 3, "release_tracking answers how many it let go");
    let awaiting = case.ok("awaiting_report", case.store.awaiting_report().await);
    case.check(
        awaiting
            .iter()
            .all(|e| e.owner.is_none() && e.lease_until.is_none()),
        "release_tracking clears owner and lease of every entry the tracker held",
    );
    case.check_eq(
        case.get("held").await,
        purchase,
        "release_tracking leaves a purchase the owner holds",
    );
    let after = case.ok(
        "renew_tracking",
        case.store.renew_tracking(A, case.at(300)).await,
    );
    case.check_eq(after, 0, "after release_tracking the tracker holds nothing");
}

pub(super) async fn settle_is_the_trackers_and_once(case: &Case) {
    case.bought("b", 0).await;
    let undelivered = Settlement {
        fulfilment: Fulfilment::Undelivered,
        detail: Some("rejected: out of stock"),
    };
    case.check(
        !case.settle("b", A, undelivered, 5).await,
        "settle needs the tracker's hold",
    );
    let [tracked] =
        <[Entry; 1]>::try_from(case.track(A, 100, 10, 10).await).unwrap_or_else(|found| {
            case.broken(
                "claim_for_tracking takes the one bought entry",
                format_args!(": {found:?}"),
            )
        });
    case.check(
        !case.settle("b", B, undelivered, 15).await,
        "settle by another owner answers false",
    );
    case.check(
        case.settle("b", A, undelivered, 20).await,
        "settle by the tracker answers true",
    );
    let settled = Entry {
        fulfilment: Some(Fulfilment::Undelivered),
        fulfilment_detail: Some("rejected: out of stock".into()),
        settled_at: Some(case.at(20)),
        updated_at: case.at(20),
        ..tracked
    };
    case.check_eq(
        case.get("b").await,
        settled.clone(),
        "settle sets fulfilment, its detail, settled_at and updated_at, and keeps the hold",
    );
    let delivered = Settlement {
        fulfilment: Fulfilment::Delivered,
        detail: None,
    };
    case.check(
        !case.settle("b", A, delivered, 30).await,
        "settle of an entry no longer awaiting answers false: the first outcome stands",
    );
    case.check_eq(
        case.get("b").await,
        settled,
        "a refused settle changes nothing",
    );
    let awaiting = case.ok("awaiting_report", case.store.awaiting_report().await);
    case.check_eq(
        references(&awaiting),
        set(["b"]),
        "a settled entry still awaits its report",
    );

    case.bought("d", 1).await;
    case.track(A, 100, 40, 10).await;
    case.check(
        case.settle("d", A, delivered, 41).await,
        "settle by the tracker answers true",
    );
    let read = case.get("d").await;
    case.check_eq(
        (read.fulfilment, read.fulfilment_detail),
        (Some(Fulfilment::Delivered), None),
        "settle without a detail leaves none",
    );
}

pub(super) async fn mark_reported_is_the_trackers_and_once(case: &Case) {
    case.bought("b", 0).await;
    case.track(A, 100, 10, 10).await;
    let delivered = Settlement {
        fulfilment: Fulfilment::Delivered,
        detail: None,
    };
    case.settle("b", A, delivered, 20).await;
    let settled = case.get("b").await;
    case.check(
        !case.mark_reported("b", B, 25).await,
        "mark_reported by another owner answers false",
    );
    case.check_eq(
        case.get("b").await,
        settled.clone(),
        "a refused mark changes nothing",
    );
    case.check(
        case.mark_reported("b", A, 30).await,
        "mark_reported by the tracker answers true",
    );
    let reported = Entry {
        reported_at: Some(case.at(30)),
        updated_at: case.at(30),
        owner: None,
        lease_until: None,
        ..settled
    };
    case.check_eq(
        case.get("b").await,
        reported,
        "mark_reported sets reported_at and updated_at and lets the entry go",
    );
    case.check(
        !case.mark_reported("b", A, 40).await,
        "an entry is marked reported once",
    );
    case.check(
        case.track(C, 200, 100, 10).await.is_empty(),
        "a reported entry is not tracked again",
    );
}

pub(super) async fn record_reported_needs_no_hold_and_happens_once(case: &Case) {
    let store = &case.store;
    let bought = case.bought("b1", 0).await;
    let shown = Settlement {
        fulfilment: Fulfilment::Delivered,
        detail: Some("codes shown"),
    };
    let reported = store
        .record_reported(SUPPLIER, "b1", shown, case.at(10))
        .await;
    case.check(
        case.ok("record_reported", reported),
        "record_reported of a bought entry answers true",
    );
    let expected = Entry {
        fulfilment: Some(Fulfilment::Delivered),
        fulfilment_detail: Some("codes shown".into()),
        settled_at: Some(case.at(10)),
        reported_at: Some(case.at(10)),
        updated_at: case.at(10),
        ..bought
    };
    case.check_eq(
        case.get("b1").await,
        expected,
        "record_reported settles and reports at once",
    );
    let twice = store
        .record_reported(SUPPLIER, "b1", shown, case.at(20))
        .await;
    case.check(
        !case.ok("record_reported", twice),
        "an entry is reported once",
    );
    case.claimed("sending", A, 1).await;
    let unbought = store
        .record_reported(SUPPLIER, "sending", shown, case.at(20))
        .await;
    case.check(
        !case.ok("record_reported", unbought),
        "record_reported of an entry not bought answers false",
    );
    let missing = store
        .record_reported(SUPPLIER, "missing", shown, case.at(20))
        .await;
    case.check(
        !case.ok("record_reported", missing),
        "record_reported of a missing key answers false",
    );

    case.bought("b2", 2).await;
    case.track(A, 100, 20, 10).await;
    let undelivered = Settlement {
        fulfilment: Fulfilment::Undelivered,
        detail: Some("expired"),
    };
    case.settle("b2", A, undelivered, 21).await;
    let settled = case.get("b2").await;
    let plain = Settlement {
        fulfilment: Fulfilment::Undelivered,
        detail: None,
    };
    let reported = store
        .record_reported(SUPPLIER, "b2", plain, case.at(30))
        .await;
    case.check(
        case.ok("record_reported", reported),
        "record_reported of a settled entry answers true",
    );
    let expected = Entry {
        reported_at: Some(case.at(30)),
        updated_at: case.at(30),
        ..settled
    };
    case.check_eq(
        case.get("b2").await,
        expected,
        "record_reported keeps a detail and settled_at it was not given, and the holder",
    );
}

pub(super) async fn report_failures_are_counted_for_the_tracker(case: &Case) {
    case.bought("b", 0).await;
    case.track(A, 100, 10, 10).await;
    let delivered = Settlement {
        fulfilment: Fulfilment::Delivered,
        detail: None,
    };
    case.settle("b", A, delivered, 20).await;
    let settled = case.get("b").await;
    case.check(
        !case.report_failed("b", B, "503").await,
        "record_report_failure by another owner answers false",
    );
    case.check_eq(
        case.get("b").await,
        settled.clone(),
        "a refused failure changes nothing",
    );
    case.check(
        case.report_failed("b", A, "503 Service Unavailable").await,
        "record_report_failure by the tracker answers true",
    );
    case.check(
        case.report_failed("b", A, "timed out").await,
        "record_report_failure by the tracker answers true",
    );
    let counted = Entry {
        report_attempts: 2,
        report_error: Some("timed out".into()),
        ..settled
    };
    case.check_eq(
        case.get("b").await,
        counted.clone(),
        "each failure counts one attempt and keeps the last error (updated_at stays)",
    );
    case.mark_reported("b", A, 30).await;
    case.check(
        !case.report_failed("b", A, "late").await,
        "record_report_failure of a reported entry answers false",
    );
    case.check_eq(
        case.get("b").await.report_attempts,
        2,
        "a refused failure is not counted",
    );
}
