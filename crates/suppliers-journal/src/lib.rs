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
//! Two backends on sqlx: SQLite, embedded (the default: a file under the user's data
//! directory), and PostgreSQL for several workers or machines sharing one supplier
//! account. The schema is in `migrations/` and versioned; [`Journal::open`] applies
//! what is missing.
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
//! let Claim::Claimed(entry) = journal.claim(&purchase).await? else {
//!     unreachable!("a new reference");
//! };
//! // ... send the purchase ...
//! let entry = journal.record(&entry, Progress::to(State::Bought).order_id("242860")).await?;
//! assert_eq!(entry.state, State::Bought);
//! // The same reference again is never a second purchase.
//! assert!(matches!(journal.claim(&purchase).await?, Claim::Existing(_)));
//! # Ok(()) }
//! ```

mod entry;
mod location;
mod migrate;
mod owner;
mod statements;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, PgPool, Row, SqlitePool, Type};

pub use entry::{Claim, Entry, NewPurchase, Progress, State};
pub use location::{DEFAULT_FILE_NAME, Location, default_path};

use owner::Owner;

/// How long a holder's claim counts without renewal (renewed every third of it).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// What can go wrong with the journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The database failed or refused a statement.
    #[error("purchase journal ({location}): {source}")]
    Database {
        /// Where the journal is, without a password.
        location: String,
        /// What the database said.
        source: sqlx::Error,
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
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The journal: cheap to clone (clones share the connection pool and the holder
/// identity).
#[derive(Clone)]
pub struct Journal {
    backend: Backend,
    location: String,
    owner: Owner,
    lease: Duration,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("location", &self.location)
            .field("owner", &self.owner.id())
            .finish_non_exhaustive()
    }
}

/// Runs `$body` with `$pool` and `$sql` bound to the backend's pool and statements.
macro_rules! on_backend {
    ($journal:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match &$journal.backend {
            Backend::Sqlite($pool) => {
                let $sql = &statements::SQLITE;
                $body
            }
            Backend::Postgres($pool) => {
                let $sql = &statements::POSTGRES;
                $body
            }
        }
    };
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
        pool: SqlitePool,
        location: String,
    ) -> Result<Self, JournalError> {
        let journal = Self::new(Backend::Sqlite(pool.clone()), location);
        migrate::sqlite(&pool)
            .await
            .map_err(|e| journal.database(e))?;
        journal.check_version(migrate::SQLITE).await?;
        Ok(journal)
    }

    pub(crate) async fn from_postgres(
        pool: PgPool,
        location: String,
    ) -> Result<Self, JournalError> {
        let journal = Self::new(Backend::Postgres(pool.clone()), location);
        migrate::postgres(&pool)
            .await
            .map_err(|e| journal.database(e))?;
        journal.check_version(migrate::POSTGRES).await?;
        Ok(journal)
    }

    fn new(backend: Backend, location: String) -> Self {
        Self {
            backend,
            location,
            owner: Owner::this_process(),
            lease: DEFAULT_LEASE,
        }
    }

    /// How long this process's holds count without renewal (default
    /// [`DEFAULT_LEASE`]). A holder on the same host whose process is gone is seen at
    /// once; one on another machine only when its lease ends.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
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
        let now = Utc::now();
        let lease_until = now + self.lease_delta();
        let facts = purchase.facts.to_string();
        let quantity = to_i64(purchase.quantity);
        let (balance, currency) = match &purchase.balance_before {
            Some((amount, currency)) => (Some(amount.to_string()), Some(currency.clone())),
            None => (None, None),
        };
        for statement in [Statement::Insert, Statement::Reclaim] {
            let row = on_backend!(self, |pool, sql| {
                let text = match statement {
                    Statement::Insert => sql.insert,
                    Statement::Reclaim => sql.reclaim,
                };
                sqlx::query(text)
                    .bind(&purchase.supplier)
                    .bind(&purchase.reference)
                    .bind(&purchase.product_id)
                    .bind(quantity)
                    .bind(&facts)
                    .bind(&purchase.idempotency_key)
                    .bind(&balance)
                    .bind(&currency)
                    .bind(self.owner.id())
                    .bind(lease_until)
                    .bind(now)
                    .fetch_optional(pool)
                    .await
                    .map_err(|e| self.database(e))?
                    .map(|row| self.entry(&row))
                    .transpose()?
            });
            if let Some(entry) = row {
                return Ok(Claim::Claimed(entry));
            }
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
        on_backend!(self, |pool, sql| {
            sqlx::query(sql.get)
                .bind(supplier)
                .bind(reference)
                .fetch_optional(pool)
                .await
                .map_err(|e| self.database(e))?
                .map(|row| self.entry(&row))
                .transpose()
        })
    }

    /// Every entry not yet `bought`, `not_bought` or `failed`, oldest first.
    pub async fn unresolved(&self) -> Result<Vec<Entry>, JournalError> {
        let mut entries: Vec<Entry> = on_backend!(self, |pool, sql| {
            sqlx::query(sql.unresolved)
                .fetch_all(pool)
                .await
                .map_err(|e| self.database(e))?
                .iter()
                .map(|row| self.entry(row))
                .collect::<Result<_, _>>()?
        });
        entries.sort_by(|a, b| (a.started_at, &a.reference).cmp(&(b.started_at, &b.reference)));
        Ok(entries)
    }

    /// Every order id the journal knows at `supplier`, with when its purchase started.
    pub async fn known_orders(
        &self,
        supplier: &str,
    ) -> Result<Vec<(String, DateTime<Utc>)>, JournalError> {
        on_backend!(self, |pool, sql| {
            sqlx::query_as(sql.known_orders)
                .bind(supplier)
                .fetch_all(pool)
                .await
                .map_err(|e| self.database(e))
        })
    }

    /// Records progress on an entry this process holds (claimed or taken). A resolved
    /// state releases the hold.
    pub async fn record(&self, entry: &Entry, progress: Progress) -> Result<Entry, JournalError> {
        let row = on_backend!(self, |pool, sql| {
            sqlx::query(sql.record)
                .bind(&entry.supplier)
                .bind(&entry.reference)
                .bind(progress.state.as_str())
                .bind(&progress.order_id)
                .bind(&progress.detail)
                .bind(Utc::now())
                .bind(self.owner.id())
                .fetch_optional(pool)
                .await
                .map_err(|e| self.database(e))?
                .map(|row| self.entry(&row))
                .transpose()?
        });
        row.ok_or_else(|| JournalError::NotHeld {
            supplier: entry.supplier.clone(),
            reference: entry.reference.clone(),
        })
    }

    /// Whether another live process holds `entry` (working on it now).
    pub fn held_elsewhere(&self, entry: &Entry) -> bool {
        entry.owner.as_deref() != Some(self.owner.id())
            && self
                .owner
                .holds(entry.owner.as_deref(), entry.lease_until, Utc::now())
    }

    /// Takes over an unresolved entry that no live process holds, to reconcile or finish
    /// it; `None` when another process holds it or it changed since it was read.
    pub async fn take(&self, entry: &Entry) -> Result<Option<Entry>, JournalError> {
        if self.held_elsewhere(entry) {
            return Ok(None);
        }
        if entry.owner.as_deref() == Some(self.owner.id()) {
            return Ok(Some(entry.clone()));
        }
        let now = Utc::now();
        on_backend!(self, |pool, sql| {
            sqlx::query(sql.take)
                .bind(&entry.supplier)
                .bind(&entry.reference)
                .bind(self.owner.id())
                .bind(now + self.lease_delta())
                .bind(now)
                .bind(entry.state.as_str())
                .bind(&entry.owner)
                .bind(to_i64(entry.attempt))
                .fetch_optional(pool)
                .await
                .map_err(|e| self.database(e))?
                .map(|row| self.entry(&row))
                .transpose()
        })
    }

    /// Keeps this process's hold on `entry` alive until the returned guard is dropped,
    /// renewing its lease every third of [`Self::with_lease`].
    pub fn hold(&self, entry: &Entry) -> Hold {
        let journal = self.clone();
        let (supplier, reference) = (entry.supplier.clone(), entry.reference.clone());
        let task = tokio::spawn(async move {
            let every = journal.lease / 3;
            loop {
                tokio::time::sleep(every).await;
                if let Err(err) = journal.renew(&supplier, &reference).await {
                    tracing::warn!(%supplier, %reference, error = %err, "journal lease renewal failed");
                }
            }
        });
        Hold { task }
    }

    async fn renew(&self, supplier: &str, reference: &str) -> Result<(), JournalError> {
        let until = Utc::now() + self.lease_delta();
        on_backend!(self, |pool, sql| {
            sqlx::query(sql.renew)
                .bind(supplier)
                .bind(reference)
                .bind(self.owner.id())
                .bind(until)
                .execute(pool)
                .await
                .map(drop)
                .map_err(|e| self.database(e))
        })
    }

    /// Gives up this process's hold on an unresolved entry (another process may take
    /// it at once).
    pub async fn release(&self, entry: &Entry) -> Result<(), JournalError> {
        on_backend!(self, |pool, sql| {
            sqlx::query(sql.release)
                .bind(&entry.supplier)
                .bind(&entry.reference)
                .bind(self.owner.id())
                .execute(pool)
                .await
                .map(drop)
                .map_err(|e| self.database(e))
        })
    }

    async fn check_version(&self, known: &[migrate::Migration]) -> Result<(), JournalError> {
        let found: Option<i64> = on_backend!(self, |pool, _sql| {
            sqlx::query_scalar("SELECT MAX(version) FROM journal_migrations")
                .fetch_one(pool)
                .await
                .map_err(|e| self.database(e))?
        });
        let known = known.last().map_or(0, |m| m.version);
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

    fn database(&self, source: sqlx::Error) -> JournalError {
        JournalError::Database {
            location: self.location.clone(),
            source,
        }
    }

    fn corrupt(&self, message: impl Into<String>) -> JournalError {
        JournalError::Corrupt {
            location: self.location.clone(),
            message: message.into(),
        }
    }

    fn entry<'r, R>(&self, row: &'r R) -> Result<Entry, JournalError>
    where
        R: Row,
        &'r str: ColumnIndex<R>,
        String: Decode<'r, R::Database> + Type<R::Database>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    {
        let text = |name: &'r str| row.try_get::<String, _>(name);
        let optional = |name: &'r str| row.try_get::<Option<String>, _>(name);
        let decoded = (|| {
            let state = text("state")?;
            let facts = text("facts")?;
            let balance = optional("balance_before")?;
            Ok::<_, sqlx::Error>(Entry {
                supplier: text("supplier")?,
                reference: text("reference")?,
                product_id: text("product_id")?,
                quantity: u64::try_from(row.try_get::<i64, _>("quantity")?).unwrap_or(0),
                facts: serde_json::from_str(&facts).unwrap_or(serde_json::Value::String(facts)),
                state: State::parse(&state).ok_or_else(|| {
                    sqlx::Error::Decode(format!("unknown state {state:?}").into())
                })?,
                order_id: optional("order_id")?,
                idempotency_key: optional("idempotency_key")?,
                balance_before: balance.and_then(|b| b.parse().ok()),
                balance_currency: optional("balance_currency")?,
                detail: optional("detail")?,
                attempt: u64::try_from(row.try_get::<i64, _>("attempt")?).unwrap_or(0),
                owner: optional("owner")?,
                lease_until: row.try_get("lease_until")?,
                started_at: row.try_get("started_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        })();
        decoded.map_err(|e| self.corrupt(e.to_string()))
    }
}

/// Keeps a hold's lease renewed while it lives ([`Journal::hold`]).
#[derive(Debug)]
pub struct Hold {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone, Copy)]
enum Statement {
    Insert,
    Reclaim,
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
