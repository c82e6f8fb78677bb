//! The storage behind a [`crate::Journal`]: the trait an application implements over its
//! own database and driver, and the arguments its operations take.

use chrono::{DateTime, Utc};

use crate::{Entry, Fulfilment, JournalError, NewPurchase, Progress, State};

/// Where a [`crate::Journal`] keeps its entries: claims, holds and their leases,
/// progress, fulfilment and report marks.
///
/// The journal decides (who it is, how long its leases last, whether a holder still
/// lives, when to renew); a store keeps entries and runs each operation below
/// **atomically**, as one statement would: its checks and its writes see no other
/// operation in between. That is what keeps a purchase from being bought twice when
/// several tasks, processes or machines share a store. Each method documents its
/// promise: what it changes, on which condition, and what it answers. The shipped
/// stores run the statements of [`crate::sql`], whose `WHERE` clauses are those
/// conditions; [`crate::conformance::check`] tests a store against every promise.
///
/// Conventions:
/// - An entry is keyed by supplier and reference: at most one per key.
/// - An *owner* is a holder identity (`host:pid:token`, [`crate::Journal::owner`]); "held
///   by `owner`" means the entry's [`Entry::owner`] equals it, whatever its lease says
///   (the journal judges leases, except where an operation compares one below).
/// - Every time is the journal's (`now`, `lease_until`): a store never reads a clock
///   and keeps times to the microsecond, so an entry read back equals the one written.
/// - Lists come in any order; the journal sorts them.
/// - A failure is a [`JournalError`]: [`JournalError::store`] wraps a driver's own error,
///   [`JournalError::Corrupt`] says a row cannot be read.
///
/// # A store over plain SQL
///
/// On the journal's own schema ([`crate::sql::SQLITE_MIGRATIONS`] or
/// [`crate::sql::POSTGRES_MIGRATIONS`]) each method is one statement of
/// [`crate::sql::SQLITE`] or [`crate::sql::POSTGRES`], bound in the order its field
/// documents; `bool` methods answer whether it changed one row. The shape, with `Db` an
/// application's connection pool:
///
/// ```no_run
/// use chrono::{DateTime, Utc};
/// use suppliers_journal::{
///     Entry, JournalError, JournalStore, NewClaim, ProgressRecord, Settlement, Takeover,
///     async_trait,
/// };
/// # struct Db;
/// # #[derive(Debug, thiserror::Error)] #[error("db")] struct DbError;
/// # impl Db {
/// #     async fn execute(&self, _sql: &str, _params: &[&str]) -> Result<u64, DbError> { Ok(0) }
/// #     async fn rows(&self, _sql: &str, _params: &[&str]) -> Result<Vec<Entry>, DbError> { Ok(vec![]) }
/// # }
///
/// struct SqlStore {
///     db: Db,
/// }
/// # impl SqlStore {
/// #     fn elided<T>(&self) -> Result<T, JournalError> { Err(JournalError::store(DbError)) }
/// # }
///
/// #[async_trait]
/// impl JournalStore for SqlStore {
///     fn location(&self) -> String {
///         "app database".into()
///     }
///
///     async fn get(&self, supplier: &str, reference: &str) -> Result<Option<Entry>, JournalError> {
///         let sql = suppliers_journal::sql::POSTGRES.get;
///         let rows = self.db.rows(sql, &[supplier, reference]).await.map_err(JournalError::store)?;
///         Ok(rows.into_iter().next())
///     }
///
///     async fn release(&self, supplier: &str, reference: &str, owner: &str) -> Result<bool, JournalError> {
///         let sql = suppliers_journal::sql::POSTGRES.release;
///         let changed = self.db.execute(sql, &[supplier, reference, owner]).await;
///         Ok(changed.map_err(JournalError::store)? == 1)
///     }
///
///     // ... and so on: one statement per method.
/// #   async fn insert(&self, _: &NewClaim<'_>) -> Result<bool, JournalError> { self.elided() }
/// #   async fn reclaim(&self, _: &NewClaim<'_>) -> Result<Option<Entry>, JournalError> { self.elided() }
/// #   async fn unresolved(&self) -> Result<Vec<Entry>, JournalError> { self.elided() }
/// #   async fn all_entries(&self) -> Result<Vec<Entry>, JournalError> { self.elided() }
/// #   async fn known_orders(&self, _: &str) -> Result<Vec<(String, DateTime<Utc>)>, JournalError> { self.elided() }
/// #   async fn record(&self, _: &ProgressRecord<'_>) -> Result<bool, JournalError> { self.elided() }
/// #   async fn take(&self, _: &Takeover<'_>) -> Result<Option<Entry>, JournalError> { self.elided() }
/// #   async fn renew(&self, _: &str, _: &str, _: &str, _: DateTime<Utc>) -> Result<bool, JournalError> { self.elided() }
/// #   async fn awaiting_report(&self) -> Result<Vec<Entry>, JournalError> { self.elided() }
/// #   async fn claim_for_tracking(&self, _: &str, _: DateTime<Utc>, _: DateTime<Utc>, _: usize) -> Result<Vec<Entry>, JournalError> { self.elided() }
/// #   async fn renew_tracking(&self, _: &str, _: DateTime<Utc>) -> Result<u64, JournalError> { self.elided() }
/// #   async fn release_tracking(&self, _: &str) -> Result<u64, JournalError> { self.elided() }
/// #   async fn settle(&self, _: &str, _: &str, _: &str, _: Settlement<'_>, _: DateTime<Utc>) -> Result<bool, JournalError> { self.elided() }
/// #   async fn mark_reported(&self, _: &str, _: &str, _: &str, _: DateTime<Utc>) -> Result<bool, JournalError> { self.elided() }
/// #   async fn record_reported(&self, _: &str, _: &str, _: Settlement<'_>, _: DateTime<Utc>) -> Result<bool, JournalError> { self.elided() }
/// #   async fn record_report_failure(&self, _: &str, _: &str, _: &str, _: &str) -> Result<bool, JournalError> { self.elided() }
/// }
/// ```
///
/// A store with a schema of its own keeps the same promises by other means: see
/// [`crate::MemoryStore`] for one over a map.
#[async_trait::async_trait]
pub trait JournalStore: Send + Sync + 'static {
    /// Where the entries are, as errors and [`crate::Journal::location`] print it: never
    /// a password.
    fn location(&self) -> String;

    /// Claims a new reference: when no entry has `claim`'s supplier and reference, writes
    /// [`NewClaim::entry`] and answers `true`; otherwise changes nothing and answers
    /// `false`. Of concurrent inserts of one key, exactly one answers `true`.
    async fn insert(&self, claim: &NewClaim<'_>) -> Result<bool, JournalError>;

    /// Claims a reference again after an attempt that bought nothing: when the entry of
    /// `claim`'s key is `not_bought` or `failed` **and** has the same `product_id` and
    /// `quantity`, makes it the next attempt and answers it. That entry is
    /// [`NewClaim::entry`] (state `sending`; facts, idempotency key, balance, owner,
    /// lease and both times from `claim`) with `attempt` one more than before; order id,
    /// detail, fulfilment, fulfilment detail, settled and reported times, report error
    /// and `taken_over_from` cleared, report attempts 0. Otherwise changes nothing and
    /// answers `None`. Of concurrent reclaims, at most one answers an entry.
    async fn reclaim(&self, claim: &NewClaim<'_>) -> Result<Option<Entry>, JournalError>;

    /// The entry of `supplier` and `reference`, if any.
    async fn get(&self, supplier: &str, reference: &str) -> Result<Option<Entry>, JournalError>;

    /// Every entry whose state is `sending`, `unknown` or `created`.
    async fn unresolved(&self) -> Result<Vec<Entry>, JournalError>;

    /// Every entry.
    async fn all_entries(&self) -> Result<Vec<Entry>, JournalError>;

    /// The order id and `started_at` of every entry of `supplier` that has an order id.
    async fn known_orders(
        &self,
        supplier: &str,
    ) -> Result<Vec<(String, DateTime<Utc>)>, JournalError>;

    /// Records progress by the holder: when the entry is held by `record.owner`, sets
    /// what [`Entry::with_progress`] computes (the state; the order id and detail where
    /// given, kept where `None`; `updated_at`; fulfilment `awaiting` when the state is
    /// `bought` and it had none; owner and lease cleared when the state is resolved) and
    /// answers `true`. Otherwise (another owner, none, no entry) changes nothing and
    /// answers `false`. The lease is not compared: a slow holder's record lands unless
    /// another took the entry over.
    async fn record(&self, record: &ProgressRecord<'_>) -> Result<bool, JournalError>;

    /// [`Self::record`] without waiting for the write, where the store keeps order: it
    /// is applied after every operation sent before it, and [`Self::flush`] (or dropping
    /// the store) waits for it. An error here or later is the store's to report (a
    /// failure answered here is logged by the journal); a lost record leaves an entry
    /// unresolved, never wrong.
    ///
    /// The default waits for [`Self::record`], and answers
    /// [`JournalError::NotHeld`] when it changed nothing.
    async fn record_without_waiting(
        &self,
        record: &ProgressRecord<'_>,
    ) -> Result<(), JournalError> {
        if self.record(record).await? {
            Ok(())
        } else {
            Err(record.not_held())
        }
    }

    /// Waits until every record sent without waiting is written. The default has
    /// nothing to wait for.
    async fn flush(&self) -> Result<(), JournalError> {
        Ok(())
    }

    /// Takes an entry over, compare-and-set: when the entry still has `takeover.seen`'s
    /// state, owner (both `None` matches) and attempt, sets its owner to
    /// `takeover.owner`, its lease to `takeover.lease_until` and `updated_at` to
    /// `takeover.now`, and answers it; otherwise changes nothing and answers `None`. The
    /// lease is not compared (the journal judges whether the holder is gone). Of
    /// concurrent takes of one snapshot, at most one answers an entry.
    async fn take(&self, takeover: &Takeover<'_>) -> Result<Option<Entry>, JournalError>;

    /// Extends a hold: when the entry is held by `owner`, sets its lease to
    /// `lease_until` and answers `true`; otherwise `false`, nothing changed.
    async fn renew(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, JournalError>;

    /// Gives a hold up: when the entry is held by `owner`, clears its owner and lease
    /// and answers `true`; otherwise `false`, nothing changed.
    async fn release(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
    ) -> Result<bool, JournalError>;

    /// Every entry awaiting a report: with a fulfilment (it was bought) and no
    /// `reported_at`, whoever holds it.
    async fn awaiting_report(&self) -> Result<Vec<Entry>, JournalError>;

    /// Takes up to `limit` entries awaiting a report for the tracker `owner`: among those
    /// with no owner, no lease, or a lease at or before `now`, the oldest by
    /// `started_at`. Each gets `owner` and `lease_until`, and `taken_over_from` set to
    /// its previous owner (`None` when it had none); `updated_at` stays. Answers them.
    ///
    /// Concurrent claims (by any owners) never answer the same entry while its lease
    /// lives: each skips or waits for what another is claiming. A claim may answer
    /// fewer than are free while another claim is under way.
    async fn claim_for_tracking(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Entry>, JournalError>;

    /// Sets the lease of every entry awaiting a report and held by `owner` to
    /// `lease_until` (a purchase it holds is not awaiting a report, and keeps its own);
    /// answers how many.
    async fn renew_tracking(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<u64, JournalError>;

    /// Clears owner and lease of every entry awaiting a report and held by `owner`;
    /// answers how many.
    async fn release_tracking(&self, owner: &str) -> Result<u64, JournalError>;

    /// Records the supplier's settlement, once, by the tracker: when the entry is held
    /// by `owner` and its fulfilment is `awaiting`, sets fulfilment and fulfilment
    /// detail to `settlement`'s (a `None` detail clears it), and `settled_at` and
    /// `updated_at` to `now`, and answers `true`; otherwise `false`, nothing changed.
    async fn settle(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        settlement: Settlement<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError>;

    /// Marks a report taken, once, by the tracker: when the entry is held by `owner` and
    /// has no `reported_at`, sets `reported_at` and `updated_at` to `now`, clears owner
    /// and lease, and answers `true`; otherwise `false`, nothing changed.
    async fn mark_reported(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError>;

    /// Marks an order settled and reported at once, as its buyer showed it, whoever
    /// holds it: when the entry has a fulfilment and no `reported_at`, sets the
    /// fulfilment, the fulfilment detail where `settlement` has one (kept where `None`),
    /// `settled_at` to `now` where it had none, and `reported_at` and `updated_at` to
    /// `now`, and answers `true`; owner and lease stay. Otherwise `false`, nothing
    /// changed.
    async fn record_reported(
        &self,
        supplier: &str,
        reference: &str,
        settlement: Settlement<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError>;

    /// Counts a report handed over and not accepted: when the entry is held by `owner`
    /// and has no `reported_at`, adds one to its report attempts, sets its report error
    /// to `error`, and answers `true` (`updated_at` stays); otherwise `false`, nothing
    /// changed.
    async fn record_report_failure(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        error: &str,
    ) -> Result<bool, JournalError>;
}

/// A claim of a purchase by one holder: what [`JournalStore::insert`] and
/// [`JournalStore::reclaim`] write.
#[derive(Debug, Clone, Copy)]
pub struct NewClaim<'a> {
    /// The purchase: its supplier and reference are the key.
    pub purchase: &'a NewPurchase,
    /// Who claims it.
    pub owner: &'a str,
    /// Until when the claim holds without renewal.
    pub lease_until: DateTime<Utc>,
    /// The claim's time: `started_at` and `updated_at`.
    pub now: DateTime<Utc>,
}

impl NewClaim<'_> {
    /// The entry the claim writes as a first attempt: state `sending`, attempt 1, held by
    /// `owner` until `lease_until`, started and updated `now`, nothing else recorded.
    pub fn entry(&self) -> Entry {
        let purchase = self.purchase;
        let (balance_before, balance_currency) = match &purchase.balance_before {
            Some((amount, currency)) => (Some(*amount), Some(currency.clone())),
            None => (None, None),
        };
        Entry {
            supplier: purchase.supplier.clone(),
            reference: purchase.reference.clone(),
            product_id: purchase.product_id.clone(),
            quantity: purchase.quantity,
            facts: purchase.facts.clone(),
            state: State::Sending,
            order_id: None,
            idempotency_key: purchase.idempotency_key.clone(),
            balance_before,
            balance_currency,
            detail: None,
            attempt: 1,
            owner: Some(self.owner.to_owned()),
            lease_until: Some(self.lease_until),
            started_at: self.now,
            updated_at: self.now,
            fulfilment: None,
            fulfilment_detail: None,
            settled_at: None,
            reported_at: None,
            report_attempts: 0,
            report_error: None,
            taken_over_from: None,
        }
    }
}

/// Progress on an entry, by its holder: [`JournalStore::record`].
#[derive(Debug, Clone, Copy)]
pub struct ProgressRecord<'a> {
    /// The entry's supplier.
    pub supplier: &'a str,
    /// The entry's reference.
    pub reference: &'a str,
    /// Who must hold it.
    pub owner: &'a str,
    /// What changed.
    pub progress: &'a Progress,
    /// When: the entry's new `updated_at`.
    pub now: DateTime<Utc>,
}

impl ProgressRecord<'_> {
    /// The error of a record its entry's holder did not send.
    pub fn not_held(&self) -> JournalError {
        JournalError::NotHeld {
            supplier: self.supplier.to_owned(),
            reference: self.reference.to_owned(),
        }
    }
}

/// A takeover of an entry as it was seen: [`JournalStore::take`].
#[derive(Debug, Clone, Copy)]
pub struct Takeover<'a> {
    /// The entry as the taker read it: its key, and the state, owner and attempt it
    /// must still have.
    pub seen: &'a Entry,
    /// The new holder.
    pub owner: &'a str,
    /// Until when the new hold counts without renewal.
    pub lease_until: DateTime<Utc>,
    /// When: the entry's new `updated_at`.
    pub now: DateTime<Utc>,
}

/// What became of a bought order's goods, as a settlement records it:
/// [`JournalStore::settle`], [`JournalStore::record_reported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement<'a> {
    /// `delivered` or `undelivered`.
    pub fulfilment: Fulfilment,
    /// Why, for an undelivered order (the supplier's status and reason).
    pub detail: Option<&'a str>,
}
