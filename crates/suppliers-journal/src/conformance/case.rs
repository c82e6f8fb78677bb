//! What every case uses: its store and clock, the checks that name a broken promise, and
//! entries made the way the journal makes them.

use std::collections::BTreeSet;
use std::fmt::{Debug, Display};
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};

use crate::{
    Entry, JournalError, JournalStore, NewClaim, NewPurchase, Progress, ProgressRecord, Settlement,
    State,
};

pub(super) const SUPPLIER: &str = "foxreload";
pub(super) const OTHER_SUPPLIER: &str = "mousacard";
pub(super) const A: &str = "host-a:101:aaaaaaaaaaaa";
pub(super) const B: &str = "host-b:202:bbbbbbbbbbbb";
pub(super) const C: &str = "host-c:303:cccccccccccc";
pub(super) const BUYER: &str = "host-d:404:dddddddddddd";

/// One case's store and clock.
pub(super) struct Case {
    name: &'static str,
    pub(super) store: Arc<dyn JournalStore>,
    location: String,
    /// The case's time zero, to the microsecond.
    pub(super) t0: DateTime<Utc>,
}

impl Case {
    pub(super) fn new(name: &'static str, store: Arc<dyn JournalStore>) -> Self {
        Self {
            name,
            location: store.location(),
            store,
            t0: Utc::now().trunc_subsecs(6),
        }
    }

    /// `seconds` after the case's time zero.
    pub(super) fn at(&self, seconds: i64) -> DateTime<Utc> {
        self.t0 + chrono::Duration::seconds(seconds)
    }

    #[track_caller]
    pub(super) fn broken(&self, promise: &str, detail: impl Display) -> ! {
        panic!(
            "JournalStore conformance, case `{}`, store {}: broken promise: {promise}{detail}",
            self.name, self.location
        )
    }

    #[track_caller]
    pub(super) fn check(&self, holds: bool, promise: &str) {
        if !holds {
            self.broken(promise, "");
        }
    }

    #[track_caller]
    pub(super) fn check_eq<T: PartialEq + Debug>(&self, found: T, expected: T, promise: &str) {
        if found != expected {
            self.broken(
                promise,
                format_args!("\n  found:    {found:?}\n  expected: {expected:?}"),
            );
        }
    }

    #[track_caller]
    pub(super) fn ok<T>(&self, operation: &str, result: Result<T, JournalError>) -> T {
        result.unwrap_or_else(|err| {
            self.broken(&format!("{operation} succeeds"), format_args!(": {err}"))
        })
    }

    /// A claim of `purchase` by `owner` at `at`, leased for a minute.
    pub(super) fn claim<'a>(
        &self,
        purchase: &'a NewPurchase,
        owner: &'a str,
        at: i64,
    ) -> NewClaim<'a> {
        NewClaim {
            purchase,
            owner,
            lease_until: self.at(at + 60),
            now: self.at(at),
        }
    }

    pub(super) async fn get_at(&self, supplier: &str, reference: &str) -> Option<Entry> {
        self.ok("get", self.store.get(supplier, reference).await)
    }

    pub(super) async fn get(&self, reference: &str) -> Entry {
        match self.get_at(SUPPLIER, reference).await {
            Some(entry) => entry,
            None => self.broken(
                "get answers an entry written before",
                format_args!(": {reference}"),
            ),
        }
    }

    /// A new entry `reference`, claimed by `owner` at `at`.
    pub(super) async fn claimed(&self, reference: &str, owner: &str, at: i64) -> Entry {
        let purchase = purchase(SUPPLIER, reference);
        let claim = self.claim(&purchase, owner, at);
        let inserted = self.ok("insert", self.store.insert(&claim).await);
        self.check(inserted, "insert of a new key answers true");
        claim.entry()
    }

    /// Records `progress` on `reference` as `owner` at `at`; whether the store did.
    pub(super) async fn record(
        &self,
        reference: &str,
        owner: &str,
        progress: &Progress,
        at: i64,
    ) -> bool {
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
    pub(super) async fn bought(&self, reference: &str, at: i64) -> Entry {
        self.claimed(reference, BUYER, at).await;
        let bought = Progress::to(State::Bought).order_id(format!("o-{reference}"));
        let recorded = self.record(reference, BUYER, &bought, at).await;
        self.check(recorded, "record by the holder answers true");
        self.get(reference).await
    }

    pub(super) async fn track(
        &self,
        owner: &str,
        lease_until: i64,
        now: i64,
        limit: usize,
    ) -> Vec<Entry> {
        let claimed = self
            .store
            .claim_for_tracking(owner, self.at(lease_until), self.at(now), limit)
            .await;
        self.ok("claim_for_tracking", claimed)
    }

    pub(super) async fn settle(
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

    pub(super) async fn mark_reported(&self, reference: &str, owner: &str, at: i64) -> bool {
        let marked = self
            .store
            .mark_reported(SUPPLIER, reference, owner, self.at(at))
            .await;
        self.ok("mark_reported", marked)
    }

    pub(super) async fn report_failed(&self, reference: &str, owner: &str, error: &str) -> bool {
        let failed = self
            .store
            .record_report_failure(SUPPLIER, reference, owner, error)
            .await;
        self.ok("record_report_failure", failed)
    }
}

pub(super) fn purchase(supplier: &str, reference: &str) -> NewPurchase {
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

pub(super) fn references(entries: &[Entry]) -> BTreeSet<String> {
    entries.iter().map(|e| e.reference.clone()).collect()
}

pub(super) fn set<const N: usize>(references: [&str; N]) -> BTreeSet<String> {
    references.into_iter().map(str::to_owned).collect()
}

pub(super) fn owner(i: usize) -> String {
    format!("host-{i}:{i}:{i:012}")
}

/// Runs `task(i)` for `n` owners at once; their answers, in order.
pub(super) async fn at_once<T, Fut>(n: usize, task: impl Fn(usize) -> Fut) -> Vec<T>
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
