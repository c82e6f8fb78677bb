//! Where the journal's own decisions meet the store: claims and takeovers through
//! [`crate::Journal::from_store`].

use std::time::Duration;

use super::case::{Case, SUPPLIER, at_once, purchase};
use crate::{Claim, Journal, JournalError, Progress, State};

pub(super) async fn journals_on_one_store_claim_a_reference_once(case: &Case) {
    let first = Journal::from_store(case.store.clone());
    let second = Journal::from_store(case.store.clone());
    let new = purchase(SUPPLIER, "j");
    let entry = match case.ok("Journal::claim", first.claim(&new).await) {
        Claim::Claimed(entry, _hold) => entry,
        Claim::Existing(entry) => {
            case.broken("a new reference is claimed", format_args!(": {entry:?}"))
        }
    };
    match case.ok("Journal::claim", second.claim(&new).await) {
        Claim::Existing(existing) => case.check_eq(
            existing.owner.as_deref(),
            Some(first.owner()),
            "a second claim of a held reference reports its holder",
        ),
        Claim::Claimed(..) => case.broken("a reference is claimed once", ": claimed twice"),
    }
    let refused = second.record(&entry, Progress::to(State::Bought)).await;
    case.check(
        matches!(refused, Err(JournalError::NotHeld { .. })),
        "a record by a journal that does not hold the entry is NotHeld",
    );

    let race = purchase(SUPPLIER, "race");
    let journals: Vec<Journal> = (0..8)
        .map(|_| Journal::from_store(case.store.clone()))
        .collect();
    let claims = at_once(journals.len(), |i| {
        let (journal, race) = (journals[i].clone(), race.clone());
        async move { journal.claim(&race).await }
    })
    .await;
    let mut winners = 0;
    for claim in claims {
        if let Claim::Claimed(..) = case.ok("Journal::claim", claim) {
            winners += 1;
        }
    }
    case.check_eq(
        winners,
        1,
        "of journals claiming one reference at once exactly one wins",
    );
}

pub(super) async fn journals_respect_live_holds_and_take_over_lapsed_ones(case: &Case) {
    let worker = Journal::from_store(case.store.clone());
    let reconciler = Journal::from_store(case.store.clone());
    let Claim::Claimed(_, _live_hold) = case.ok(
        "Journal::claim",
        worker.claim(&purchase(SUPPLIER, "live")).await,
    ) else {
        case.broken("a new reference is claimed", "");
    };
    let seen = case.get("live").await;
    case.check(
        reconciler.held_elsewhere(&seen),
        "an entry whose holder's lease lives is held elsewhere",
    );
    let taken = case.ok("Journal::take", reconciler.take(&seen).await);
    case.check(
        taken.is_none(),
        "an entry whose holder's lease lives is not taken over",
    );

    let lease = Duration::from_millis(20);
    let quitter = Journal::from_store(case.store.clone()).with_lease(lease);
    let Claim::Claimed(entry, hold) = case.ok(
        "Journal::claim",
        quitter.claim(&purchase(SUPPLIER, "lapsing")).await,
    ) else {
        case.broken("a new reference is claimed", "");
    };
    drop(hold);
    tokio::time::sleep(lease * 5).await;
    let seen = case.get("lapsing").await;
    case.check(
        !reconciler.held_elsewhere(&seen),
        "an entry whose holder's lease lapsed is free",
    );
    let Some((taken, _hold)) = case.ok("Journal::take", reconciler.take(&seen).await) else {
        case.broken("an entry whose holder's lease lapsed is taken over", "");
    };
    case.check_eq(
        taken.owner.as_deref(),
        Some(reconciler.owner()),
        "a taken entry is the taker's",
    );
    let third = Journal::from_store(case.store.clone());
    let again = case.ok("Journal::take", third.take(&seen).await);
    case.check(
        again.is_none(),
        "a second take of the same snapshot is refused",
    );
    let late = quitter.record(&entry, Progress::to(State::Bought)).await;
    case.check(
        matches!(late, Err(JournalError::NotHeld { .. })),
        "the lapsed holder can no longer record",
    );
    let settled = reconciler
        .record(&taken, Progress::to(State::NotBought))
        .await;
    case.ok("Journal::record", settled);
}
