//! Holds: progress recorded by the holder alone, takeovers as compare-and-set, renewal
//! and release.

use super::case::{A, B, C, Case, SUPPLIER, at_once, owner};
use crate::{Entry, Progress, ProgressRecord, State, Takeover};

pub(super) async fn record_is_the_holders_alone(case: &Case) {
    let claimed = case.claimed("r", A, 0).await;
    let created = Progress::to(State::Created)
        .order_id("o-1")
        .detail("created");
    case.check(
        !case.record("r", B, &created, 1).await,
        "record by another owner answers false",
    );
    case.check_eq(
        case.get("r").await,
        claimed.clone(),
        "a refused record changes nothing",
    );

    case.check(
        case.record("r", A, &created, 1).await,
        "record by the holder answers true",
    );
    let expected = claimed.with_progress(&created, case.at(1));
    case.check_eq(
        case.get("r").await,
        expected.clone(),
        "record writes what Entry::with_progress computes",
    );
    let unknown = Progress::to(State::Unknown);
    case.record("r", A, &unknown, 2).await;
    let expected = expected.with_progress(&unknown, case.at(2));
    case.check_eq(
        case.get("r").await,
        expected.clone(),
        "record keeps the order id and detail where the progress has none",
    );

    // The holder's lease lapsed and nobody took the entry over: its record still lands.
    let renewed = case.store.renew(SUPPLIER, "r", A, case.at(-10)).await;
    case.check(
        case.ok("renew", renewed),
        "renew by the holder answers true",
    );
    let lapsed = case.get("r").await;
    let bought = Progress::to(State::Bought).detail("paid");
    case.check(
        case.record("r", A, &bought, 3).await,
        "record compares the owner, not its lease",
    );
    let expected = lapsed.with_progress(&bought, case.at(3));
    case.check_eq(
        case.get("r").await,
        expected,
        "record of a resolved state clears owner and lease; bought awaits its goods",
    );
    case.check(
        !case.record("r", A, &unknown, 4).await,
        "a resolved entry has no holder: its former holder's record answers false",
    );
    case.check(
        !case.record("missing", A, &unknown, 4).await,
        "record of a missing key answers false",
    );

    let not_bought = case.claimed("n", A, 5).await;
    case.record("n", A, &Progress::to(State::NotBought), 6)
        .await;
    case.check_eq(
        case.get("n").await,
        not_bought.with_progress(&Progress::to(State::NotBought), case.at(6)),
        "an entry not bought awaits no goods",
    );
}

pub(super) async fn record_without_waiting_is_written_by_flush(case: &Case) {
    let claimed = case.claimed("r", A, 0).await;
    let created = Progress::to(State::Created).order_id("o-1");
    let record = ProgressRecord {
        supplier: SUPPLIER,
        reference: "r",
        owner: A,
        progress: &created,
        now: case.at(1),
    };
    case.ok(
        "record_without_waiting",
        case.store.record_without_waiting(&record).await,
    );
    case.ok("flush", case.store.flush().await);
    let expected = claimed.with_progress(&created, case.at(1));
    case.check_eq(
        case.get("r").await,
        expected.clone(),
        "a record sent without waiting is written once flush returns",
    );
    let bought = Progress::to(State::Bought);
    let stranger = ProgressRecord {
        owner: B,
        progress: &bought,
        now: case.at(2),
        ..record
    };
    // Refused now or later (logged): either way, nothing changes.
    let _ = case.store.record_without_waiting(&stranger).await;
    case.ok("flush", case.store.flush().await);
    case.check_eq(
        case.get("r").await,
        expected,
        "record_without_waiting by another owner changes nothing",
    );
}

pub(super) async fn take_is_compare_and_set(case: &Case) {
    let store = &case.store;
    case.claimed("r", A, 0).await;
    let seen = case.get("r").await;
    let take = |seen: &Entry, owner: &str, at: i64| {
        let (seen, owner) = (seen.clone(), owner.to_owned());
        let (lease_until, now) = (case.at(at + 60), case.at(at));
        async move {
            let takeover = Takeover {
                seen: &seen,
                owner: &owner,
                lease_until,
                now,
            };
            case.ok("take", store.take(&takeover).await)
        }
    };
    let mismatches = [
        (
            Entry {
                state: State::Unknown,
                ..seen.clone()
            },
            "state",
        ),
        (
            Entry {
                attempt: 2,
                ..seen.clone()
            },
            "attempt",
        ),
        (
            Entry {
                owner: Some(C.into()),
                ..seen.clone()
            },
            "owner",
        ),
        (
            Entry {
                owner: None,
                ..seen.clone()
            },
            "owner (None matches only no owner)",
        ),
    ];
    for (other, what) in &mismatches {
        let taken = take(other, B, 1).await;
        case.check(
            taken.is_none(),
            &format!("take refuses an entry whose {what} changed since it was seen"),
        );
    }
    case.check_eq(
        case.get("r").await,
        seen.clone(),
        "a refused take changes nothing",
    );

    let expected = Entry {
        owner: Some(B.into()),
        lease_until: Some(case.at(70)),
        updated_at: case.at(10),
        ..seen.clone()
    };
    case.check_eq(
        take(&seen, B, 10).await,
        Some(expected.clone()),
        "take of the entry as seen sets owner, lease and updated_at and answers it",
    );
    case.check_eq(case.get("r").await, expected, "take writes what it answers");
    case.check(
        take(&seen, C, 11).await.is_none(),
        "a second take of the same snapshot is refused: the owner changed",
    );

    let released = store.release(SUPPLIER, "r", B).await;
    case.check(
        case.ok("release", released),
        "release by the holder answers true",
    );
    let free = case.get("r").await;
    case.check_eq(
        take(&free, C, 12).await.and_then(|e| e.owner),
        Some(C.to_owned()),
        "take of an entry nobody holds, seen so, answers it",
    );
    let ghost = Entry {
        reference: "missing".into(),
        ..free
    };
    case.check(
        take(&ghost, A, 13).await.is_none(),
        "take of a missing key answers None",
    );
}

pub(super) async fn concurrent_takes_have_one_winner(case: &Case) {
    case.claimed("race", A, 0).await;
    let seen = case.get("race").await;
    let answers = at_once(8, |i| {
        let (store, seen) = (case.store.clone(), seen.clone());
        let now = case.at(1);
        async move {
            let owner = owner(i);
            let takeover = Takeover {
                seen: &seen,
                owner: &owner,
                lease_until: now + chrono::Duration::seconds(60),
                now,
            };
            store.take(&takeover).await
        }
    })
    .await;
    let winners = answers
        .into_iter()
        .filter_map(|answer| case.ok("take", answer))
        .count();
    case.check_eq(
        winners,
        1,
        "of concurrent takes of one snapshot exactly one answers the entry",
    );
}

pub(super) async fn renew_and_release_are_the_holders_alone(case: &Case) {
    let store = &case.store;
    let claimed = case.claimed("r", A, 0).await;
    let renew = |owner: &'static str| store.renew(SUPPLIER, "r", owner, case.at(100));
    case.check(
        !case.ok("renew", renew(B).await),
        "renew by another owner answers false",
    );
    case.check_eq(
        case.get("r").await,
        claimed.clone(),
        "a refused renew changes nothing",
    );
    case.check(
        case.ok("renew", renew(A).await),
        "renew by the holder answers true",
    );
    let renewed = Entry {
        lease_until: Some(case.at(100)),
        ..claimed
    };
    case.check_eq(
        case.get("r").await,
        renewed.clone(),
        "renew sets the lease alone",
    );

    let release = |owner: &'static str| store.release(SUPPLIER, "r", owner);
    case.check(
        !case.ok("release", release(B).await),
        "release by another owner answers false",
    );
    case.check_eq(
        case.get("r").await,
        renewed.clone(),
        "a refused release changes nothing",
    );
    case.check(
        case.ok("release", release(A).await),
        "release by the holder answers true",
    );
    let released = Entry {
        owner: None,
        lease_until: None,
        ..renewed
    };
    case.check_eq(
        case.get("r").await,
        released,
        "release clears owner and lease alone",
    );
    case.check(
        !case.ok("release", release(A).await),
        "release of an entry nobody holds answers false",
    );
    case.check(
        !case.ok("renew", renew(A).await),
        "renew of an entry nobody holds answers false",
    );
    let missing = store.renew(SUPPLIER, "missing", A, case.at(100)).await;
    case.check(
        !case.ok("renew", missing),
        "renew of a missing key answers false",
    );
}
