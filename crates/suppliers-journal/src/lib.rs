//! A durable journal of purchases, so that none is bought twice or lost: across
//! crashes, concurrent workers and machines.
//!
//! Every purchase is claimed here before its first byte is sent, under a unique key
//! (supplier, reference) that one atomic statement takes; its progress (`sending`,
//! `unknown`, `created`, `bought`, `not_bought`, `failed`), the supplier's order id and
//! what a later reconcile needs are recorded as it goes. Nothing secret is stored: no
//! credentials, no delivered codes (they stay at the supplier, fetched again by order
//! id).
//!
//! Two backends: SQLite, embedded (the default: a file under the user's data
//! directory; rusqlite on a thread of its own, with group commit), and PostgreSQL on
//! sqlx for several workers or machines sharing one supplier account. The schema is in
//! `migrations/` and versioned; [`Journal::open`] applies what is missing.
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
//! # Features
//!
//! The TLS backend of PostgreSQL connections (SQLite needs none):
//! - `rustls` (default): TLS through rustls (aws-lc-rs), with the webpki roots.
//! - `native-tls`: TLS through the platform's library (OpenSSL on Linux, which needs
//!   `libssl-dev` and `pkg-config` to build; Security.framework; SChannel). With both,
//!   sqlx uses native-tls;
//!   for it alone: `default-features = false, features = ["native-tls"]`.

mod entry;
mod holds;
mod location;
mod migrate;
mod owner;
mod postgres;
mod sqlite;
mod statements;
mod tracking;
mod writer_queue;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use entry::{Claim, Entry, Fulfilment, NewPurchase, Progress, State};
pub use holds::Hold;
use holds::Holds;
pub use location::{DEFAULT_FILE_NAME, Location, default_path};

use owner::Owner;
use statements::{Param, Stmt};

/// How long a holder's claim counts without renewal (renewed every third of it).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// What can go wrong with the journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The database failed or refused a statement.
    #[error("purchase journal ({location}): {message}")]
    Database {
        /// Where the journal is, without a password.
        location: String,
        /// What the database said.
        message: String,
    },
    /// `SUPPLIERS_JOURNAL` or `--journal` does not name a journal.
    #[error("purchase journal: {0}")]
    Location(String),
    /// The journal was written by a newer version of this SDK.
    #[error(
        "purchase journal ({location}): schema version {found} is newer than this SDK's {known}"
    )]
    NewerSchema {
        /// Where the journal is.
        location: String,
        /// The journal's version.
        found: i64,
        /// The newest this SDK knows.
        known: i64,
    },
    /// A row this SDK cannot read.
    #[error("purchase journal ({location}): unreadable entry: {message}")]
    Corrupt {
        /// Where the journal is.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The entry is no longer held by this process (another took it over after its
    /// lease ran out).
    #[error("purchase journal: {supplier} reference {reference:?} is held by another process")]
    NotHeld {
        /// Supplier.
        supplier: String,
        /// Reference.
        reference: String,
    },
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// What a statement answers, whichever the backend.
pub(crate) enum Answer {
    Entries(Vec<Entry>),
    KnownOrders(Vec<(String, DateTime<Utc>)>),
    /// Rows changed, for [`Stmt::counts_changes`] statements.
    Changed(u64),
    Done,
}

/// The journal: cheap to clone (clones share the connection pool and the holder
/// identity).
#[derive(Clone)]
pub struct Journal {
    backend: Backend,
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
    /// migrations: `postgres://...` (or `postgresql://`), `:memory:`, a `sqlite:` URL
    /// or a file path.
    pub async fn open(location: &str) -> Result<Self, JournalError> {
        Location::parse(location)?.open().await
    }

    /// A journal that lives as long as this process: for sandbox runs and tests.
    pub async fn in_memory() -> Result<Self, JournalError> {
        Location::Memory.open().await
    }

    /// `SUPPLIERS_JOURNAL` if set, else the default file ([`default_path`]).
    pub async fn from_env() -> Result<Self, JournalError> {
        Location::from_env()?.open().await
    }

    pub(crate) async fn from_sqlite(
        path: Option<std::path::PathBuf>,
        location: String,
    ) -> Result<Self, JournalError> {
        let opened = sqlite::Sqlite::open(path).await;
        let opened = opened.map(|(db, version)| (Backend::Sqlite(db), version));
        Self::opened(opened, location, migrate::latest(migrate::SQLITE))
    }

    pub(crate) async fn from_postgres(url: &str, location: String) -> Result<Self, JournalError> {
        let opened = postgres::Postgres::open(url).await;
        let opened = opened.map(|(db, version)| (Backend::Postgres(db), version));
        Self::opened(opened, location, migrate::latest(migrate::POSTGRES))
    }

    /// A journal on an opened backend whose schema is no newer than `known`.
    fn opened(
        opened: Result<(Backend, Option<i64>), String>,
        location: String,
        known: i64,
    ) -> Result<Self, JournalError> {
        let (backend, version) = opened.map_err(|message| JournalError::Database {
            location: location.clone(),
            message,
        })?;
        let journal = Self::new(backend, location);
        journal.check_version(version, known)?;
        Ok(journal)
    }

    async fn run(&self, stmt: Stmt, params: Vec<Param>) -> Result<Answer, JournalError> {
        let answer = match &self.backend {
            Backend::Sqlite(db) => db.run(stmt, params).await,
            Backend::Postgres(db) => db.run(stmt, params).await,
        };
        answer.map_err(|message| JournalError::Database {
            location: self.location.clone(),
            message,
        })
    }

    async fn entries(&self, stmt: Stmt, params: Vec<Param>) -> Result<Vec<Entry>, JournalError> {
        match self.run(stmt, params).await? {
            Answer::Entries(entries) => Ok(entries),
            _ => Err(self.corrupt("a statement answered the wrong shape")),
        }
    }

    async fn changed(&self, stmt: Stmt, params: Vec<Param>) -> Result<u64, JournalError> {
        match self.run(stmt, params).await? {
            Answer::Changed(rows) => Ok(rows),
            _ => Err(self.corrupt("a statement answered the wrong shape")),
        }
    }

    async fn one(&self, stmt: Stmt, params: Vec<Param>) -> Result<Option<Entry>, JournalError> {
        Ok(self.entries(stmt, params).await?.into_iter().next())
    }

    fn new(backend: Backend, location: String) -> Self {
        Self {
            backend,
            location,
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

    /// Where the journal is (a path, `:memory:`, or a PostgreSQL URL without its
    /// password).
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
        let lease_until = now + self.lease_delta();
        let facts = purchase.facts.to_string();
        let quantity = to_i64(purchase.quantity);
        let (balance, currency) = match &purchase.balance_before {
            Some((amount, currency)) => (Some(amount.to_string()), Some(currency.clone())),
            None => (None, None),
        };
        let params = vec![
            Param::from(&purchase.supplier),
            Param::from(&purchase.reference),
            Param::from(&purchase.product_id),
            Param::from(quantity),
            Param::Text(Some(facts)),
            Param::from(&purchase.idempotency_key),
            Param::from(balance),
            Param::from(currency),
            Param::from(self.owner.id()),
            Param::from(lease_until),
            Param::from(now),
        ];
        if self.changed(Stmt::Insert, params.clone()).await? == 1 {
            let entry = purchase.first_entry(now, self.owner.id(), lease_until);
            let hold = self.start_hold(&entry);
            return Ok(Claim::Claimed(entry, hold));
        }
        if let Some(entry) = self.one(Stmt::Reclaim, params).await? {
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
        self.one(Stmt::Get, vec![supplier.into(), reference.into()])
            .await
    }

    /// Every entry not yet `bought`, `not_bought` or `failed`, oldest first.
    pub async fn unresolved(&self) -> Result<Vec<Entry>, JournalError> {
        let mut entries = self.entries(Stmt::Unresolved, Vec::new()).await?;
        entries.sort_by(|a, b| (a.started_at, &a.reference).cmp(&(b.started_at, &b.reference)));
        Ok(entries)
    }

    /// Every entry, oldest first: for audits against a supplier's own books.
    pub async fn all_entries(&self) -> Result<Vec<Entry>, JournalError> {
        let mut entries = self.entries(Stmt::All, Vec::new()).await?;
        entries.sort_by(|a, b| (a.started_at, &a.reference).cmp(&(b.started_at, &b.reference)));
        Ok(entries)
    }

    /// Every order id the journal knows at `supplier`, with when its purchase started.
    pub async fn known_orders(
        &self,
        supplier: &str,
    ) -> Result<Vec<(String, DateTime<Utc>)>, JournalError> {
        match self.run(Stmt::KnownOrders, vec![supplier.into()]).await? {
            Answer::KnownOrders(orders) => Ok(orders),
            _ => Err(self.corrupt("a statement answered the wrong shape")),
        }
    }

    /// Records progress on an entry this process holds (claimed or taken). A resolved
    /// state releases the hold.
    pub async fn record(&self, entry: &Entry, progress: Progress) -> Result<Entry, JournalError> {
        let now = now();
        let params = record_params(entry, &progress, now, self.owner.id());
        match self.changed(Stmt::Record, params).await? {
            1 => Ok(entry.with_progress(&progress, now)),
            _ => Err(JournalError::NotHeld {
                supplier: entry.supplier.clone(),
                reference: entry.reference.clone(),
            }),
        }
    }

    /// Records progress without waiting for the write where the backend keeps order:
    /// SQLite queues it behind every statement sent before it and returns at once (the
    /// record commits with the next group; [`Journal::flush`] waits for it, and so does
    /// dropping the last handle). PostgreSQL writes it before returning. Returns the
    /// entry as the record leaves it; a failure is logged, not returned.
    ///
    /// Meant for progress after a purchase request was answered, where a lost record
    /// (a crash before the commit) leaves the entry unresolved, never wrong: a reconcile
    /// settles it from the supplier's side.
    pub async fn record_without_waiting(&self, entry: &Entry, progress: Progress) -> Entry {
        let Backend::Sqlite(db) = &self.backend else {
            return self.record_or_log(entry, progress).await;
        };
        let now = now();
        let params = record_params(entry, &progress, now, self.owner.id());
        if let Err(message) = db.queue(Stmt::Record, params) {
            let err = JournalError::Database {
                location: self.location.clone(),
                message,
            };
            log_unrecorded(entry, &progress, &err);
        }
        entry.with_progress(&progress, now)
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
        match &self.backend {
            Backend::Sqlite(db) => db.flush().await.map_err(|message| JournalError::Database {
                location: self.location.clone(),
                message,
            }),
            Backend::Postgres(_) => Ok(()),
        }
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
        let params = vec![
            Param::from(&entry.supplier),
            Param::from(&entry.reference),
            Param::from(self.owner.id()),
            Param::from(now + self.lease_delta()),
            Param::from(now),
            Param::from(entry.state.as_str()),
            Param::from(&entry.owner),
            Param::from(to_i64(entry.attempt)),
        ];
        let taken = self.one(Stmt::Take, params).await?;
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
        let params = vec![
            supplier.into(),
            reference.into(),
            self.owner.id().into(),
            until.into(),
        ];
        self.changed(Stmt::Renew, params).await.map(drop)
    }

    /// Gives up this process's hold on an unresolved entry (another process may take
    /// it at once).
    pub async fn release(&self, entry: &Entry) -> Result<(), JournalError> {
        let params = vec![
            Param::from(&entry.supplier),
            Param::from(&entry.reference),
            Param::from(self.owner.id()),
        ];
        self.changed(Stmt::Release, params).await.map(drop)
    }

    fn check_version(&self, found: Option<i64>, known: i64) -> Result<(), JournalError> {
        match found {
            Some(found) if found > known => Err(JournalError::NewerSchema {
                location: self.location.clone(),
                found,
                known,
            }),
            _ => Ok(()),
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

fn log_unrecorded(entry: &Entry, progress: &Progress, err: &JournalError) {
    tracing::error!(
        supplier = %entry.supplier,
        reference = %entry.reference,
        state = %progress.state,
        error = %err,
        "could not record a purchase's progress; `suppliers reconcile` settles it"
    );
}

/// The record statement's parameters.
fn record_params(
    entry: &Entry,
    progress: &Progress,
    now: DateTime<Utc>,
    owner: &str,
) -> Vec<Param> {
    vec![
        Param::from(&entry.supplier),
        Param::from(&entry.reference),
        Param::from(progress.state.as_str()),
        Param::from(&progress.order_id),
        Param::from(&progress.detail),
        Param::from(now),
        Param::from(owner),
        Param::from(i64::from(progress.state.is_resolved())),
    ]
}

/// An entry's key in [`Holds`].
fn key(entry: &Entry) -> holds::Key {
    (entry.supplier.clone(), entry.reference.clone())
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
