//! The shipped SQL stores' common half: each [`JournalStore`] operation as one statement
//! of [`crate::sql`], its parameters bound in the order the statement documents, run by a
//! driver ([`crate::sqlite`] or [`crate::postgres`]).

use chrono::{DateTime, Utc};

use crate::sql::Statements;
use crate::{Entry, JournalError, JournalStore, NewClaim, ProgressRecord, Settlement, Takeover};

/// One statement of [`Statements`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Stmt {
    Insert,
    Reclaim,
    Get,
    Unresolved,
    All,
    KnownOrders,
    Record,
    Take,
    Renew,
    Release,
    Awaiting,
    TrackClaim,
    TrackRenew,
    TrackRelease,
    Settle,
    Reported,
    ReportedByBuyer,
    ReportFailed,
}

impl Stmt {
    #[cfg(feature = "sqlite")]
    pub(crate) const ALL: [Stmt; 18] = [
        Stmt::Insert,
        Stmt::Reclaim,
        Stmt::Get,
        Stmt::Unresolved,
        Stmt::All,
        Stmt::KnownOrders,
        Stmt::Record,
        Stmt::Take,
        Stmt::Renew,
        Stmt::Release,
        Stmt::Awaiting,
        Stmt::TrackClaim,
        Stmt::TrackRenew,
        Stmt::TrackRelease,
        Stmt::Settle,
        Stmt::Reported,
        Stmt::ReportedByBuyer,
        Stmt::ReportFailed,
    ];

    /// Whether it only reads.
    #[cfg(feature = "sqlite")]
    pub(crate) fn reads_only(self) -> bool {
        matches!(
            self,
            Stmt::Get | Stmt::Unresolved | Stmt::All | Stmt::KnownOrders | Stmt::Awaiting
        )
    }

    /// Whether it answers with the number of rows it changed (no rows returned): the
    /// caller knows what it wrote, and `RETURNING` costs SQLite a temporary table.
    pub(crate) fn counts_changes(self) -> bool {
        matches!(
            self,
            Stmt::Insert
                | Stmt::Record
                | Stmt::Renew
                | Stmt::Release
                | Stmt::TrackRenew
                | Stmt::TrackRelease
                | Stmt::Settle
                | Stmt::Reported
                | Stmt::ReportedByBuyer
                | Stmt::ReportFailed
        )
    }

    /// Its text in `dialect`.
    pub(crate) fn text(self, dialect: &Statements) -> &'static str {
        match self {
            Stmt::Insert => dialect.insert,
            Stmt::Reclaim => dialect.reclaim,
            Stmt::Get => dialect.get,
            Stmt::Unresolved => dialect.unresolved,
            Stmt::All => dialect.all,
            Stmt::KnownOrders => dialect.known_orders,
            Stmt::Record => dialect.record,
            Stmt::Take => dialect.take,
            Stmt::Renew => dialect.renew,
            Stmt::Release => dialect.release,
            Stmt::Awaiting => dialect.awaiting,
            Stmt::TrackClaim => dialect.track_claim,
            Stmt::TrackRenew => dialect.track_renew,
            Stmt::TrackRelease => dialect.track_release,
            Stmt::Settle => dialect.settle,
            Stmt::Reported => dialect.reported,
            Stmt::ReportedByBuyer => dialect.reported_by_buyer,
            Stmt::ReportFailed => dialect.report_failed,
        }
    }
}

/// A statement parameter, bound by position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(Option<String>),
    Int(i64),
    Time(Option<DateTime<Utc>>),
}

impl From<&str> for Param {
    fn from(text: &str) -> Self {
        Param::Text(Some(text.to_owned()))
    }
}

impl From<&String> for Param {
    fn from(text: &String) -> Self {
        Param::Text(Some(text.clone()))
    }
}

impl From<&Option<String>> for Param {
    fn from(text: &Option<String>) -> Self {
        Param::Text(text.clone())
    }
}

impl From<Option<String>> for Param {
    fn from(text: Option<String>) -> Self {
        Param::Text(text)
    }
}

impl From<Option<&str>> for Param {
    fn from(text: Option<&str>) -> Self {
        Param::Text(text.map(str::to_owned))
    }
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Param::Int(value)
    }
}

impl From<DateTime<Utc>> for Param {
    fn from(time: DateTime<Utc>) -> Self {
        Param::Time(Some(time))
    }
}

/// What a statement answers, whichever the driver.
pub(crate) enum Answer {
    Entries(Vec<Entry>),
    KnownOrders(Vec<(String, DateTime<Utc>)>),
    /// Rows changed, for [`Stmt::counts_changes`] statements.
    Changed(u64),
    /// A flush, done.
    #[cfg(feature = "sqlite")]
    Done,
}

/// The driver that runs the statements.
enum Driver {
    #[cfg(feature = "sqlite")]
    Sqlite(crate::sqlite::Sqlite),
    #[cfg(feature = "postgres")]
    Postgres(crate::postgres::Postgres),
}

/// A [`JournalStore`] on the journal's own schema, one statement per operation.
pub(crate) struct SqlStore {
    driver: Driver,
    /// Where, without a password: in every error.
    location: String,
}

impl SqlStore {
    /// Opens the SQLite journal at `path` (`None`: in memory), applying missing
    /// migrations.
    #[cfg(feature = "sqlite")]
    pub(crate) async fn sqlite(
        path: Option<std::path::PathBuf>,
        location: String,
    ) -> Result<Self, JournalError> {
        let (db, version) = crate::sqlite::Sqlite::open(path)
            .await
            .map_err(|message| database(&location, message))?;
        crate::migrate::check_version(version, crate::sql::SQLITE_MIGRATIONS, &location)?;
        Ok(Self {
            driver: Driver::Sqlite(db),
            location,
        })
    }

    /// Connects to the PostgreSQL journal at `url`, applying missing migrations.
    #[cfg(feature = "postgres")]
    pub(crate) async fn postgres(url: &str, location: String) -> Result<Self, JournalError> {
        let (db, version) = crate::postgres::Postgres::open(url)
            .await
            .map_err(|message| database(&location, message))?;
        crate::migrate::check_version(version, crate::sql::POSTGRES_MIGRATIONS, &location)?;
        Ok(Self {
            driver: Driver::Postgres(db),
            location,
        })
    }

    async fn run(&self, stmt: Stmt, params: Vec<Param>) -> Result<Answer, JournalError> {
        let answer = match &self.driver {
            #[cfg(feature = "sqlite")]
            Driver::Sqlite(db) => db.run(stmt, params).await,
            #[cfg(feature = "postgres")]
            Driver::Postgres(db) => db.run(stmt, params).await,
        };
        answer.map_err(|message| database(&self.location, message))
    }

    async fn entries(&self, stmt: Stmt, params: Vec<Param>) -> Result<Vec<Entry>, JournalError> {
        match self.run(stmt, params).await? {
            Answer::Entries(entries) => Ok(entries),
            _ => Err(self.wrong_shape()),
        }
    }

    async fn one(&self, stmt: Stmt, params: Vec<Param>) -> Result<Option<Entry>, JournalError> {
        Ok(self.entries(stmt, params).await?.into_iter().next())
    }

    async fn changed(&self, stmt: Stmt, params: Vec<Param>) -> Result<u64, JournalError> {
        match self.run(stmt, params).await? {
            Answer::Changed(rows) => Ok(rows),
            _ => Err(self.wrong_shape()),
        }
    }

    /// Whether the statement changed the one row its key names.
    async fn changed_one(&self, stmt: Stmt, params: Vec<Param>) -> Result<bool, JournalError> {
        Ok(self.changed(stmt, params).await? == 1)
    }

    fn wrong_shape(&self) -> JournalError {
        JournalError::Corrupt {
            location: self.location.clone(),
            message: "a statement answered the wrong shape".into(),
        }
    }
}

fn database(location: &str, message: String) -> JournalError {
    JournalError::Database {
        location: location.to_owned(),
        message,
    }
}

/// `insert`'s and `reclaim`'s parameters.
fn claim_params(claim: &NewClaim<'_>) -> Vec<Param> {
    let purchase = claim.purchase;
    let (balance, currency) = match &purchase.balance_before {
        Some((amount, currency)) => (Some(amount.to_string()), Some(currency.clone())),
        None => (None, None),
    };
    vec![
        Param::from(&purchase.supplier),
        Param::from(&purchase.reference),
        Param::from(&purchase.product_id),
        Param::from(to_i64(purchase.quantity)),
        Param::Text(Some(purchase.facts.to_string())),
        Param::from(&purchase.idempotency_key),
        Param::from(balance),
        Param::from(currency),
        Param::from(claim.owner),
        Param::from(claim.lease_until),
        Param::from(claim.now),
    ]
}

/// `record`'s parameters.
fn record_params(record: &ProgressRecord<'_>) -> Vec<Param> {
    let progress = record.progress;
    vec![
        Param::from(record.supplier),
        Param::from(record.reference),
        Param::from(progress.state.as_str()),
        Param::from(&progress.order_id),
        Param::from(&progress.detail),
        Param::from(record.now),
        Param::from(record.owner),
        Param::from(i64::from(progress.state.is_resolved())),
    ]
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl JournalStore for SqlStore {
    fn location(&self) -> String {
        self.location.clone()
    }

    async fn insert(&self, claim: &NewClaim<'_>) -> Result<bool, JournalError> {
        self.changed_one(Stmt::Insert, claim_params(claim)).await
    }

    async fn reclaim(&self, claim: &NewClaim<'_>) -> Result<Option<Entry>, JournalError> {
        self.one(Stmt::Reclaim, claim_params(claim)).await
    }

    async fn get(&self, supplier: &str, reference: &str) -> Result<Option<Entry>, JournalError> {
        self.one(Stmt::Get, vec![supplier.into(), reference.into()])
            .await
    }

    async fn unresolved(&self) -> Result<Vec<Entry>, JournalError> {
        self.entries(Stmt::Unresolved, Vec::new()).await
    }

    async fn all_entries(&self) -> Result<Vec<Entry>, JournalError> {
        self.entries(Stmt::All, Vec::new()).await
    }

    async fn known_orders(
        &self,
        supplier: &str,
    ) -> Result<Vec<(String, DateTime<Utc>)>, JournalError> {
        match self.run(Stmt::KnownOrders, vec![supplier.into()]).await? {
            Answer::KnownOrders(orders) => Ok(orders),
            _ => Err(self.wrong_shape()),
        }
    }

    async fn record(&self, record: &ProgressRecord<'_>) -> Result<bool, JournalError> {
        self.changed_one(Stmt::Record, record_params(record)).await
    }

    async fn record_without_waiting(
        &self,
        record: &ProgressRecord<'_>,
    ) -> Result<(), JournalError> {
        match &self.driver {
            // The writer thread commits it with the next group and logs what fails.
            #[cfg(feature = "sqlite")]
            Driver::Sqlite(db) => db
                .queue(Stmt::Record, record_params(record))
                .map_err(|message| database(&self.location, message)),
            #[cfg(feature = "postgres")]
            Driver::Postgres(_) => match self.record(record).await? {
                true => Ok(()),
                false => Err(record.not_held()),
            },
        }
    }

    async fn flush(&self) -> Result<(), JournalError> {
        match &self.driver {
            #[cfg(feature = "sqlite")]
            Driver::Sqlite(db) => db
                .flush()
                .await
                .map_err(|message| database(&self.location, message)),
            #[cfg(feature = "postgres")]
            Driver::Postgres(_) => Ok(()),
        }
    }

    async fn take(&self, takeover: &Takeover<'_>) -> Result<Option<Entry>, JournalError> {
        let seen = takeover.seen;
        let params = vec![
            Param::from(&seen.supplier),
            Param::from(&seen.reference),
            Param::from(takeover.owner),
            Param::from(takeover.lease_until),
            Param::from(takeover.now),
            Param::from(seen.state.as_str()),
            Param::from(&seen.owner),
            Param::from(to_i64(seen.attempt)),
        ];
        self.one(Stmt::Take, params).await
    }

    async fn renew(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        let params = vec![
            supplier.into(),
            reference.into(),
            owner.into(),
            lease_until.into(),
        ];
        self.changed_one(Stmt::Renew, params).await
    }

    async fn release(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
    ) -> Result<bool, JournalError> {
        let params = vec![supplier.into(), reference.into(), owner.into()];
        self.changed_one(Stmt::Release, params).await
    }

    async fn awaiting_report(&self) -> Result<Vec<Entry>, JournalError> {
        self.entries(Stmt::Awaiting, Vec::new()).await
    }

    async fn claim_for_tracking(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Entry>, JournalError> {
        let params = vec![
            owner.into(),
            lease_until.into(),
            now.into(),
            to_i64(limit as u64).into(),
        ];
        self.entries(Stmt::TrackClaim, params).await
    }

    async fn renew_tracking(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<u64, JournalError> {
        let params = vec![owner.into(), lease_until.into()];
        self.changed(Stmt::TrackRenew, params).await
    }

    async fn release_tracking(&self, owner: &str) -> Result<u64, JournalError> {
        self.changed(Stmt::TrackRelease, vec![owner.into()]).await
    }

    async fn settle(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        settlement: Settlement<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        let params = vec![
            supplier.into(),
            reference.into(),
            settlement.fulfilment.as_str().into(),
            settlement.detail.into(),
            now.into(),
            owner.into(),
        ];
        self.changed_one(Stmt::Settle, params).await
    }

    async fn mark_reported(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        let params = vec![supplier.into(), reference.into(), now.into(), owner.into()];
        self.changed_one(Stmt::Reported, params).await
    }

    async fn record_reported(
        &self,
        supplier: &str,
        reference: &str,
        settlement: Settlement<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        let params = vec![
            supplier.into(),
            reference.into(),
            settlement.fulfilment.as_str().into(),
            settlement.detail.into(),
            now.into(),
        ];
        self.changed_one(Stmt::ReportedByBuyer, params).await
    }

    async fn record_report_failure(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        error: &str,
    ) -> Result<bool, JournalError> {
        let params = vec![
            supplier.into(),
            reference.into(),
            error.into(),
            owner.into(),
        ];
        self.changed_one(Stmt::ReportFailed, params).await
    }
}
