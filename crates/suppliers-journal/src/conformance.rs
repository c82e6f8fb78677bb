//! A test suite for [`JournalStore`] implementations: every promise the journal relies
//! on, checked through the trait (and through [`Journal::from_store`] where the journal's
//! own decisions meet the store's).
//!
//! An implementer calls [`check`] from a test of their own, with a factory that gives a
//! fresh, empty store per case (a new database, a new schema, a truncated table...).
//! A broken promise panics with the case, the store's location, and the promise:
//!
//! ```no_run
//! use std::sync::Arc;
//! use suppliers_journal::{JournalStore, MemoryStore, conformance};
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn my_store_keeps_the_journals_promises() {
//!     conformance::check(|| async {
//!         // Here: an empty store over the application's database.
//!         Arc::new(MemoryStore::new()) as Arc<dyn JournalStore>
//!     })
//!     .await;
//! }
//! # fn main() {}
//! ```
//!
//! Concurrent cases spawn tasks on the caller's Tokio runtime: a multi-threaded one runs
//! them in parallel. The cases pass their own times (`now`, leases) and need no clock,
//! except the journal-level ones, which wait a few tens of milliseconds for a lease to
//! lapse.

use std::collections::BTreeSet;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};

use crate::{
    Claim, Entry, Fulfilment, Journal, JournalError, JournalStore, NewClaim, NewPurchase, Progress,
    ProgressRecord, Settlement, State, Takeover,
};

/// Runs every case, each on a store from `new_store`, and panics at the first broken
/// promise (naming it).
pub async fn check<F, Fut>(mut new_store: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn JournalStore>>,
{
    macro_rules! cases {
        ($($case:ident),* $(,)?) => {
            $( $case(&Case::new(stringify!($case), new_store().await)).await; )*
        };
    }
    cases!(
        insert_claims_each_key_once,
        concurrent_inserts_have_one_winner,
        reclaim_follows_only_an_attempt_that_bought_nothing,
        concurrent_reclaims_have_one_winner,
        record_is_the_holders_alone,
        record_without_waiting_is_written_by_flush,
        take_is_compare_and_set,
        concurrent_takes_have_one_winner,
        renew_and_release_are_the_holders_alone,
        lists_select_by_state_and_supplier,
        awaiting_report_lists_bought_unreported_entries,
        tracking_claims_take_the_oldest_free_entries,
        tracking_claims_take_over_lapsed_leases_only,
        concurrent_tracking_claims_never_share_an_entry,
        tracking_leases_renew_and_release_only_tracked_entries,
        settle_is_the_trackers_and_once,
        mark_reported_is_the_trackers_and_once,
        record_reported_needs_no_hold_and_happens_once,
        report_failures_are_counted_for_the_tracker,
        journals_on_one_store_claim_a_reference_once,
        journals_respect_live_holds_and_take_over_lapsed_ones,
    );
}

const SUPPLIER: &str = "foxreload";
const OTHER_SUPPLIER: &str = "mousacard";
const A: &str = "host-a:101:aaaaaaaaaaaa";
const B: &str = "host-b:202:bbbbbbbbbbbb";
const C: &str = "host-c:303:cccccccccccc";
const BUYER: &str = "host-d:404:dddddddddddd";

/// One case's store and clock.
struct Case {
    name: &'static str,
    store: Arc<dyn JournalStore>,
    location: String,
    /// The case's time zero, to the microsecond.
    t0: DateTime<Utc>,
}

impl Case {
    fn new(name: &'static str, store: Arc<dyn JournalStore>) -> Self {
        Self {
            name,
            location: store.location(),
            store,
            t0: Utc::now().trunc_subsecs(6),
        }
    }

    /// `seconds` after the case's time zero.
    fn at(&self, seconds: i64) -> DateTime<Utc> {
        self.t0 + chrono::Duration::seconds(seconds)
    }

    #[track_caller]
    fn broken(&self, promise: &str, detail: impl Display) -> ! {
        panic!(
            "JournalStore conformance, case `{}`, store {}: broken promise: {promise}{detail}",
            self.name, self.location
        )
    }

    #[track_caller]
    fn check(&self, holds: bool, promise: &str) {
        if !holds {
            self.broken(promise, "");
        }
    }

    #[track_caller]
    fn check_eq<T: PartialEq + Debug>(&self, found: T, expected: T, promise: &str) {
        if found != expected {
            self.broken(
                promise,
                format_args!("\n  found:    {found:?}\n  expected: {expected:?}"),
            );
        }
    }

    #[track_caller]
    fn ok<T>(&self, operation: &str, result: Result<T, JournalError>) -> T {
        result.unwrap_or_else(|err| {
            self.broken(&format!("{operation} succeeds"), format_args!(": {err}"))
        })
    }

    /// A claim of `purchase` by `owner` at `at`, leased for a minute.
    fn claim<'a>(&self, purchase: &'a NewPurchase, owner: &'a str, at: i64) -> NewClaim<'a> {
        NewClaim {
            purchase,
            owner,
            lease_until: self.at(at + 60),
            now: self.at(at),
        }
    }

    async fn get_at(&self, supplier: &str, reference: &str) -> Option<Entry> {
        self.ok("get", self.store.get(supplier, reference).await)
    }

    async fn get(&self, reference: &str) -> Entry {
        match self.get_at(SUPPLIER, reference).await {
            Some(entry) => entry,
            None => self.broken(
                "get answers an entry written before",
                format_args!(": {reference}"),
            ),
        }
    }

    /// A new entry `reference`, claimed by `owner` at `at`.
    async fn claimed(&self, reference: &str, owner: &str, at: i64) -> Entry {
        let purchase = purchase(SUPPLIER, reference);
        let claim = self.claim(&purchase, owner, at);
        let inserted = self.ok("insert", self.store.insert(&claim).await);
        self.check(inserted, "insert of a new key answers true");
        claim.entry()
    }

    /// Records `progress` on `reference` as `owner` at `at`; whether the store did.
    async fn record(&self, reference: &str, owner: &str, progress: &Progress, at: i64) -> bool {
        let record = ProgressRecord {
            supplier: SUPPLIER,
            reference,
            owner,
            progress,
            now: self.at(at),
        };
        self.ok("record", self.store.record(&record).await)
    }

    /// A new entry `reference`, started at `at` and bought (order `o-<reference>`), as
    /// the store keeps it.
    async fn bought(&self, reference: &str, at: i64) -> Entry {
        self.claimed(reference, BUYER, at).await;
        let bought = Progress::to(State::Bought).order_id(format!("o-{reference}"));
        let recorded = self.record(reference, BUYER, &bought, at).await;
        self.check(recorded, "record by the holder answers true");
        self.get(reference).await
    }

    async fn track(&self, owner: &str, lease_until: i64, now: i64, limit: usize) -> Vec<Entry> {
        let claimed = self
            .store
            .claim_for_tracking(owner, self.at(lease_until), self.at(now), limit)
            .await;
        self.ok("claim_for_tracking", claimed)
    }

    async fn settle(
        &self,
        reference: &str,
        owner: &str,
        settlement: Settlement<'_>,
        at: i64,
    ) -> bool {
        let settled = self
            .store
            .settle(SUPPLIER, reference, owner, settlement, self.at(at))
            .await;
        self.ok("settle", settled)
    }

    async fn mark_reported(&self, reference: &str, owner: &str, at: i64) -> bool {
        let marked = self
            .store
            .mark_reported(SUPPLIER, reference, owner, self.at(at))
            .await;
        self.ok("mark_reported", marked)
    }

    async fn report_failed(&self, reference: &str, owner: &str, error: &str) -> bool {
        let failed = self
            .store
            .record_report_failure(SUPPLIER, reference, owner, error)
            .await;
        self.ok("record_report_failure", failed)
    }
}

fn purchase(supplier: &str, reference: &str) -> NewPurchase {
    NewPurchase {
        supplier: supplier.into(),
        reference: reference.into(),
        product_id: "product-1".into(),
        quantity: 2,
        facts: serde_json::json!({"fields": {"login": "player_1"}, "note": "naïve \"quoted\""}),
        idempotency_key: Some(format!("key-{reference}")),
        balance_before: Some((rust_decimal::Decimal::new(15050, 2), "USD".into())),
    }
}

fn references(entries: &[Entry]) -> BTreeSet<String> {
    entries.iter().map(|e| e.reference.clone()).collect()
}

fn set<const N: usize>(references: [&str; N]) -> BTreeSet<String> {
    references.into_iter().map(str::to_owned).collect()
}

fn owner(i: usize) -> String {
    format!("host-{i}:{i}:{i:012}")
}

/// Runs `task(i)` for `n` owners at once; their answers, in order.
async fn at_once<T, Fut>(n: usize, task: impl Fn(usize) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, run) = (barrier.clone(), task(i));
            tokio::spawn(async move {
                barrier.wait().await;
                run.await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("a concurrent task panicked"));
    }
    answers
}

async fn insert_claims_each_key_once(case: &Case) {
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

async fn concurrent_inserts_have_one_winner(case: &Case) {
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

async fn reclaim_follows_only_an_attempt_that_bought_nothing(case: &Case) {
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

async fn concurrent_reclaims_have_one_winner(case: &Case) {
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

async fn record_is_the_holders_alone(case: &Case) {
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

async fn record_without_waiting_is_written_by_flush(case: &Case) {
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

async fn take_is_compare_and_set(case: &Case) {
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

async fn concurrent_takes_have_one_winner(case: &Case) {
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

async fn renew_and_release_are_the_holders_alone(case: &Case) {
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

async fn lists_select_by_state_and_supplier(case: &Case) {
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

async fn awaiting_report_lists_bought_unreported_entries(case: &Case) {
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

async fn tracking_claims_take_the_oldest_free_entries(case: &Case) {
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

async fn tracking_claims_take_over_lapsed_leases_only(case: &Case) {
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

async fn concurrent_tracking_claims_never_share_an_entry(case: &Case) {
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

async fn tracking_leases_renew_and_release_only_tracked_entries(case: &Case) {
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

async fn settle_is_the_trackers_and_once(case: &Case) {
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

async fn mark_reported_is_the_trackers_and_once(case: &Case) {
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

async fn record_reported_needs_no_hold_and_happens_once(case: &Case) {
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

async fn report_failures_are_counted_for_the_tracker(case: &Case) {
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

async fn journals_on_one_store_claim_a_reference_once(case: &Case) {
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

async fn journals_respect_live_holds_and_take_over_lapsed_ones(case: &Case) {
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
