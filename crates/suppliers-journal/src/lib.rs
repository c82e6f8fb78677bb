//! A durable journal of purchases, so that none is bought twice or lost: across
//! crashes, concurrent workers and machines.
//!
//! Every purchase is claimed here before its first byte is sent, under a unique key
//! (supplier, reference) that one atomic operation takes; its progress (`sending`,
//! `unknown`, `created`, `bought`, `not_bought`, `failed`), the supplier's order id and
//! what a later reconcile needs are recorded as it goes. Nothing secret is stored: no
//! credentials, no delivered codes (they stay at the supplier, fetched again by order
//! id).
//!
//! A claim is durable before [`Journal::claim`] returns; progress after the purchase
//! request was answered can be recorded with [`Journal::record_without_waiting`], which
//! SQLite commits behind it (a lost record leaves an entry unresolved, never wrong).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), suppliers_journal::JournalError> {
//! use suppliers_journal::{Claim, Journal, NewPurchase, Progress, State};
//!
//! let journal = Journal::open(":memory:").await?; // or a path, or postgres://...
//! let purchase = NewPurchase {
//!     supplier: "mousacard".into(),
//!     reference: "invoice-1042".into(),
//!     product_id: "12310".into(),
//!     quantity: 1,
//!     facts: serde_json::json!({"fields": {"playerid": "12345678"}}),
//!     idempotency_key: None,
//!     balance_before: None,
//! };
//! let Claim::Claimed(entry, _hold) = journal.claim(&purchase).await? else {
//!     unreachable!("a new reference");
//! };
//! // ... send the purchase ...
//! let entry = journal.record(&entry, Progress::to(State::Bought).order_id("242860")).await?;
//! assert_eq!(entry.state, State::Bought);
//! // The same reference again is never a second purchase.
//! assert!(matches!(journal.claim(&purchase).await?, Claim::Existing(_)));
//! # Ok(()) }
//! ```
//!
//! # Stores
//!
//! A [`Journal`] decides (its holder identity, its leases, whether another holder still
//! lives); a [`JournalStore`] keeps the entries and runs each operation atomically:
//! insert a claim, reclaim a failed one, record progress if held, take over a lapsed
//! hold, claim entries for tracking, settle, mark reported... Three ship with the crate:
//!
//! - SQLite, embedded (the default: a file under the user's data directory; rusqlite on
//!   a thread of its own, with group commit). The `sqlite` feature.
//! - PostgreSQL on sqlx, for several workers or machines sharing one supplier account.
//!   The `postgres` feature.
//! - [`MemoryStore`], a map in this process's memory: it protects one process only.
//!
//! [`Journal::open`] picks one by [`Location`] (`postgres://...`, a file path,
//! `:memory:`) and applies the versioned schema ([`sql`]) where it is missing. A location
//! whose store this build leaves out is [`JournalError::FeatureDisabled`], never a
//! fallback to memory.
//!
//! An application with a database and driver of its own implements [`JournalStore`] over
//! them and hands it to [`Journal::from_store`]; everything above the store (the facade,
//! the CLI's commands, trackers) works unchanged. [`conformance::check`] tests such a
//! store against every promise the journal relies on. The trait's own docs show a store
//! over plain SQL, reusing this crate's statements ([`sql::POSTGRES`], [`sql::SQLITE`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use suppliers_journal::{Journal, JournalStore, MemoryStore, conformance};
//!
//! async fn journal() -> Journal {
//!     // Here: the application's own store over its pool, e.g. `AppStore::new(pool)`.
//!     let store: Arc<dyn JournalStore> = Arc::new(MemoryStore::new());
//!     // Goes wherever a journal goes, e.g. the `suppliers` facade's builder.
//!     Journal::from_store(store)
//! }
//!
//! // In the application's tests: the store keeps every promise the journal relies on.
//! #[tokio::test(flavor = "multi_thread")]
//! async fn the_app_store_keeps_the_journals_promises() {
//!     conformance::check(|| async { Arc::new(MemoryStore::new()) as Arc<dyn JournalStore> })
//!         .await;
//! }
//! # fn main() {}
//! ```
//!
//! # Features
//!
//! - `sqlite` (default): the SQLite store (rusqlite, SQLite bundled).
//! - `postgres`: the PostgreSQL store (sqlx).
//!
//! With neither, the crate has no database driver at all: [`MemoryStore`] and an
//! application's own [`JournalStore`]. The TLS backend of PostgreSQL connections (only
//! with `postgres`; each enables nothing else):
//! - `rustls` (default): TLS through rustls (aws-lc-rs), with the webpki roots.
//! - `native-tls`: TLS through the platform's library (OpenSSL on Linux, which needs
//!   `libssl-dev` and `pkg-config` to build; Security.framework; SChannel). With both,
//!   sqlx uses native-tls;
//!   for it alone: `default-features = false, features = ["native-tls"]`.

pub mod conformance;
mod entry;
mod error;
mod holds;
mod location;
mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod migrate;
mod owner;
#[cfg(feature = "postgres")]
mod postgres;
pub mod sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql_store;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod tracking;
#[cfg(feature = "sqlite")]
mod writer_queue;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The attribute a [`JournalStore`] implementation carries (the `async-trait` crate's).
pub use async_trait::async_trait;
pub use entry::{Claim, Entry, Fulfilment, NewPurchase, Progress, State};
pub use error::{JournalError, StoreError};
pub use holds::Hold;
use holds::Holds;
pub use location::{DEFAULT_FILE_NAME, Location, default_path};
pub use memory::MemoryStore;
pub use store::{JournalStore, NewClaim, ProgressRecord, Settlement, Takeover};

use owner::Owner;

/// How long a holder's claim counts without renewal (renewed every third of it).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The journal: cheap to clone (clones share the store and the holder identity).
///
/// It decides; its [`JournalStore`] keeps: this process's holder identity, the lease of
/// its holds, whether another holder still lives, and the renewal of what it holds are
/// the journal's, and every write is one atomic operation of the store.
#[derive(Clone)]
pub struct Journal {
    store: Arc<dyn JournalStore>,
    location: String,
    owner: Owner,
    lease: Duration,
    /// Entries a task of this process is working on now, and their lease renewal.
    holds: Arc<Holds>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("location", &self.location)
            .field("owner", &self.owner.id())
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (creating it if needed) the journal at `location` and applies missing
    /// migrations: `postgres://...` (or `postgresql://`; the `postgres` feature),
    /// `:memory:`, a `sqlite:` URL or a file path (the `sqlite` feature). See
    /// [`Location`].
    pub async fn open(location: &str) -> Result<Self, JournalError> {
        Location::parse(location)?.open().await
    }

    /// A journal that lives as long as this process, and protects it alone: for sandbox
    /// runs and tests. SQLite's in-memory database with the `sqlite` feature (the same
    /// statements as a file), else a [`MemoryStore`].
    pub async fn in_memory() -> Result<Self, JournalError> {
        Location::Memory.open().await
    }

    /// `SUPPLIERS_JOURNAL` if set, else the default file ([`default_path`]).
    pub async fn from_env() -> Result<Self, JournalError> {
        Location::from_env()?.open().await
    }

    /// A journal on an application's own store (or a shipped one from
    /// [`Location::open_store`]), with a fresh holder identity and [`DEFAULT_LEASE`].
    ///
    /// Every journal made from one store, in this process or another, shares its
    /// entries: a reference claimed through one is [`Claim::Existing`] through the
    /// others. The store must keep [`JournalStore`]'s promises
    /// ([`conformance::check`] tests them); a store kept by one process, such as
    /// [`MemoryStore`], protects that process only.
    pub fn from_store(store: Arc<dyn JournalStore>) -> Self {
        Self {
            location: store.location(),
            store,
            owner: Owner::this_process(),
            lease: DEFAULT_LEASE,
            holds: Arc::default(),
        }
    }

    /// How long this process's holds count without renewal (default
    /// [`DEFAULT_LEASE`]). A holder on the same host whose process is gone is seen at
    /// once; one on another machine only when its lease ends.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long this process's holds count without renewal.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Where the journal is (a path, `:memory:`, a PostgreSQL URL without its password,
    /// or what an application's store says: [`JournalStore::location`]).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// This process's holder identity (`host:pid:token`), as entries record it.
    pub fn owner(&self) -> &str {
        self.owner.id()
    }

    /// Claims `purchase.reference` for this process, atomically: a new reference, or
    /// one whose earlier attempt ended `not_bought` or `failed` for the same product and
    /// quantity, is [`Claim::Claimed`] in state `sending`; anything else is
    /// [`Claim::Existing`], and must not be bought again.
    pub async fn claim(&self, purchase: &NewPurchase) -> Result<Claim, JournalError> {
        let now = now();
        let claim = NewClaim {
            purchase,
            owner: self.owner.id(),
            lease_until: now + self.lease_delta(),
            now,
        };
        if self.store.insert(&claim).await? {
            let entry = claim.entry();
            let hold = self.start_hold(&entry);
            return Ok(Claim::Claimed(entry, hold));
        }
        if let Some(entry) = self.store.reclaim(&claim).await? {
            let hold = self.start_hold(&entry);
            return Ok(Claim::Claimed(entry, hold));
        }
        let existing = self
            .get(&purchase.supplier, &purchase.reference)
            .await?
            .ok_or_else(|| self.corrupt("a claimed reference vanished"))?;
        Ok(Claim::Existing(existing))
    }

    /// The entry of `reference` at `supplier`, if any.
    pub async fn get(
        &self,
        supplier: &str,
        reference: &str,
    ) -> Result<Option<Entry>, JournalError> {
        self.store.get(supplier, reference).await
    }

    /// Every entry not yet `bought`, `not_bought` or `failed`, oldest first.
    pub async fn unresolved(&self) -> Result<Vec<Entry>, JournalError> {
        Ok(oldest_first(self.store.unresolved().await?))
    }

    /// Every entry, oldest first: for audits against a supplier's own books.
    pub async fn all_entries(&self) -> Result<Vec<Entry>, JournalError> {
        Ok(oldest_first(self.store.all_entries().await?))
    }

    /// Every order id the journal knows at `supplier`, with when its purchase started.
    pub async fn known_orders(
        &self,
        supplier: &str,
    ) -> Result<Vec<(String, DateTime<Utc>)>, JournalError> {
        self.store.known_orders(supplier).await
    }

    /// Records progress on an entry this process holds (claimed or taken). A resolved
    /// state releases the hold.
    pub async fn record(&self, entry: &Entry, progress: Progress) -> Result<Entry, JournalError> {
        let record = self.progress_record(entry, &progress);
        match self.store.record(&record).await? {
            true => Ok(entry.with_progress(&progress, record.now)),
            false => Err(record.not_held()),
        }
    }

    /// Records progress without waiting for the write where the store keeps order:
    /// SQLite queues it behind every statement sent before it and returns at once (the
    /// record commits with the next group; [`Journal::flush`] waits for it, and so does
    /// dropping the last handle). PostgreSQL writes it before returning, and so does a
    /// store that does not override [`JournalStore::record_without_waiting`]. Returns
    /// the entry as the record leaves it; a failure is logged, not returned.
    ///
    /// Meant for progress after a purchase request was answered, where a lost record
    /// (a crash before the commit) leaves the entry unresolved, never wrong: a reconcile
    /// settles it from the supplier's side.
    pub async fn record_without_waiting(&self, entry: &Entry, progress: Progress) -> Entry {
        let record = self.progress_record(entry, &progress);
        if let Err(err) = self.store.record_without_waiting(&record).await {
            log_unrecorded(entry, &progress, &err);
        }
        entry.with_progress(&progress, record.now)
    }

    /// [`Journal::record`], for progress after a purchase request was sent: a journal
    /// failure must not hide what the supplier did, so it is logged and the entry
    /// returned as the record would have left it (a later reconcile settles it from
    /// the supplier's side).
    pub async fn record_or_log(&self, entry: &Entry, progress: Progress) -> Entry {
        match self.record(entry, progress.clone()).await {
            Ok(entry) => entry,
            Err(err) => {
                log_unrecorded(entry, &progress, &err);
                entry.with_progress(&progress, now())
            }
        }
    }

    /// Waits until every record queued so far is written.
    pub async fn flush(&self) -> Result<(), JournalError> {
        self.store.flush().await
    }

    /// Whether someone else is working on `entry` now: another live process, or
    /// another task of this one (under a [`Hold`]).
    pub fn held_elsewhere(&self, entry: &Entry) -> bool {
        if entry.owner.as_deref() == Some(self.owner.id()) {
            return self.holds.is_active(&key(entry));
        }
        self.owner
            .holds(entry.owner.as_deref(), entry.lease_until, now())
    }

    /// Takes over an unresolved entry nobody else is working on, to reconcile or finish
    /// it, held until the returned [`Hold`] drops; `None` when another process or task
    /// holds it, or it changed since it was read.
    pub async fn take(&self, entry: &Entry) -> Result<Option<(Entry, Hold)>, JournalError> {
        if entry.owner.as_deref() == Some(self.owner.id()) {
            // Ours, from a task that finished with it: one task at a time takes it.
            return Ok(self
                .holds
                .try_activate(key(entry))
                .then(|| (entry.clone(), self.start_hold(entry))));
        }
        if self.held_elsewhere(entry) || self.holds.is_active(&key(entry)) {
            return Ok(None);
        }
        let now = now();
        let takeover = Takeover {
            seen: entry,
            owner: self.owner.id(),
            lease_until: now + self.lease_delta(),
            now,
        };
        let taken = self.store.take(&takeover).await?;
        if let (Some(taken), Some(previous)) = (&taken, &entry.owner) {
            tracing::warn!(
                supplier = %taken.supplier,
                reference = %taken.reference,
                previous_owner = %previous,
                "took over a purchase whose holder is gone or let its lease lapse"
            );
        }
        Ok(taken.map(|entry| {
            let hold = self.start_hold(&entry);
            (entry, hold)
        }))
    }

    /// Keeps this process's hold on `entry` until the returned guard is dropped; while
    /// anything is held, one task renews every held lease each third of
    /// [`Self::with_lease`], and other tasks of this process see the entry
    /// [`Self::held_elsewhere`].
    fn start_hold(&self, entry: &Entry) -> Hold {
        self.holds.hold(key(entry), || {
            let journal = self.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(journal.lease / 3).await;
                    for (supplier, reference) in journal.holds.keys() {
                        if let Err(err) = journal.renew(&supplier, &reference).await {
                            tracing::warn!(%supplier, %reference, error = %err, "journal lease renewal failed");
                        }
                    }
                }
            })
        })
    }

    async fn renew(&self, supplier: &str, reference: &str) -> Result<(), JournalError> {
        let until = now() + self.lease_delta();
        let renewed = self
            .store
            .renew(supplier, reference, self.owner.id(), until);
        renewed.await.map(drop)
    }

    /// Gives up this process's hold on an unresolved entry (another process may take
    /// it at once).
    pub async fn release(&self, entry: &Entry) -> Result<(), JournalError> {
        let released = self
            .store
            .release(&entry.supplier, &entry.reference, self.owner.id());
        released.await.map(drop)
    }

    /// A record of `progress` on `entry` by this process, now.
    fn progress_record<'a>(
        &'a self,
        entry: &'a Entry,
        progress: &'a Progress,
    ) -> ProgressRecord<'a> {
        ProgressRecord {
            supplier: &entry.supplier,
            reference: &entry.reference,
            owner: self.owner.id(),
            progress,
            now: now(),
        }
    }

    fn lease_delta(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::MAX)
    }

    fn corrupt(&self, message: impl Into<String>) -> JournalError {
        JournalError::Corrupt {
            location: self.location.clone(),
            message: message.into(),
        }
    }
}

/// The time now, to the microsecond both databases keep: an entry built here equals
/// the one read back.
fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// `entries` by start, then reference: stores list them in any order.
fn oldest_first(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by(|a, b| (a.started_at, &a.reference).cmp(&(b.started_at, &b.reference)));
    entries
}

fn log_unrecorded(entry: &Entry, progress: &Progress, err: &JournalError) {
    tracing::error!(
        supplier = %entry.supplier,
        reference = %entry.reference,
        state = %progress.state,
        error = %err,
        "could not record a purchase's progress; `suppliers reconcile` settles it"
    );
}

/// An entry's key in [`Holds`].
fn key(entry: &Entry) -> holds::Key {
    (entry.supplier.clone(), entry.reference.clone())
}
