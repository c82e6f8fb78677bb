//! A journal store over the shop's own rusqlite: the SDK's SQLite statements
//! (`suppliers::journal::sql::SQLITE`) run on a connection the shop opened, as the
//! `JournalStore` trait documents for a store over plain SQL.

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};
use rust_decimal::Decimal;
use suppliers::journal::sql::{SQLITE, SQLITE_MIGRATIONS};
use suppliers::journal::{
    Entry, Fulfilment, JournalError, JournalStore, NewClaim, ProgressRecord, Settlement, State,
    Takeover, async_trait,
};

/// The store: one connection, one statement at a time (each statement is atomic, which is
/// what the trait asks).
pub struct ShopStore {
    conn: Arc<Mutex<Connection>>,
    location: String,
}

/// A rusqlite error as the journal's.
fn store_error(err: rusqlite::Error) -> JournalError {
    JournalError::store(err)
}

/// Times as the SQL compares them: RFC 3339 to the microsecond, `Z`.
fn time(at: DateTime<Utc>) -> Value {
    Value::Text(at.to_rfc3339_opts(SecondsFormat::Micros, true))
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

fn optional(value: Option<impl Into<String>>) -> Value {
    value.map_or(Value::Null, |v| Value::Text(v.into()))
}

fn parse_time(text: Option<String>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
            })
    })
    .transpose()
}

fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unreadable {what}").into(),
    )
}

/// A `purchases` row, columns in the statements' order.
fn entry(row: &Row<'_>) -> rusqlite::Result<Entry> {
    let facts: String = row.get(4)?;
    let state: String = row.get(5)?;
    let balance: Option<String> = row.get(8)?;
    let fulfilment: Option<String> = row.get(16)?;
    Ok(Entry {
        supplier: row.get(0)?,
        reference: row.get(1)?,
        product_id: row.get(2)?,
        quantity: row.get::<_, i64>(3)? as u64,
        facts: serde_json::from_str(&facts).map_err(|_| corrupt("facts"))?,
        state: State::parse(&state).ok_or_else(|| corrupt("state"))?,
        order_id: row.get(6)?,
        idempotency_key: row.get(7)?,
        balance_before: balance
            .map(|b| Decimal::from_str(&b).map_err(|_| corrupt("balance")))
            .transpose()?,
        balance_currency: row.get(9)?,
        detail: row.get(10)?,
        attempt: row.get::<_, i64>(11)? as u64,
        owner: row.get(12)?,
        lease_until: parse_time(row.get(13)?)?,
        started_at: parse_time(row.get(14)?)?.ok_or_else(|| corrupt("started_at"))?,
        updated_at: parse_time(row.get(15)?)?.ok_or_else(|| corrupt("updated_at"))?,
        fulfilment: fulfilment
            .map(|f| Fulfilment::parse(&f).ok_or_else(|| corrupt("fulfilment")))
            .transpose()?,
        fulfilment_detail: row.get(17)?,
        settled_at: parse_time(row.get(18)?)?,
        reported_at: parse_time(row.get(19)?)?,
        report_attempts: row.get::<_, i64>(20)? as u64,
        report_error: row.get(21)?,
        taken_over_from: row.get(22)?,
    })
}

/// The claim's parameters, `$1..$11`, as `insert` and `reclaim` take them.
fn claim_params(claim: &NewClaim<'_>) -> Vec<Value> {
    let purchase = claim.purchase;
    let (balance, currency) = match &purchase.balance_before {
        Some((amount, currency)) => (text(amount.to_string()), text(currency.clone())),
        None => (Value::Null, Value::Null),
    };
    vec![
        text(purchase.supplier.clone()),
        text(purchase.reference.clone()),
        text(purchase.product_id.clone()),
        Value::Integer(purchase.quantity as i64),
        text(purchase.facts.to_string()),
        optional(purchase.idempotency_key.clone()),
        balance,
        currency,
        text(claim.owner),
        time(claim.lease_until),
        time(claim.now),
    ]
}

impl ShopStore {
    /// Opens (creating it) the shop's database at `path` and brings the journal's schema
    /// up to date.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let conn = Connection::open(path).map_err(store_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(store_error)?;
        Self::with(conn, path.display().to_string())
    }

    /// A store in memory, for tests.
    pub fn in_memory() -> Result<Self, JournalError> {
        Self::with(
            Connection::open_in_memory().map_err(store_error)?,
            ":memory:".into(),
        )
    }

    fn with(conn: Connection, location: String) -> Result<Self, JournalError> {
        // One process migrates at a time; the others wait on the lock, then see it done.
        conn.execute_batch(
            "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS journal_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .map_err(store_error)?;
        let current: Option<i64> = conn
            .query_row("SELECT MAX(version) FROM journal_migrations", [], |row| {
                row.get(0)
            })
            .map_err(store_error)?;
        for migration in SQLITE_MIGRATIONS
            .iter()
            .filter(|m| m.version > current.unwrap_or(0))
        {
            conn.execute_batch(migration.sql).map_err(store_error)?;
            conn.execute(
                "INSERT INTO journal_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![migration.version, migration.description, Utc::now().to_rfc3339()],
            )
            .map_err(store_error)?;
        }
        conn.execute_batch("COMMIT").map_err(store_error)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            location,
        })
    }

    /// Runs `sql` (the SDK's, `$N` bound by index as `?N`) on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, JournalError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || work(&conn.lock().expect("connection lock")))
            .await
            .map_err(JournalError::store)?
            .map_err(store_error)
    }

    async fn changed(&self, sql: &'static str, params: Vec<Value>) -> Result<u64, JournalError> {
        self.with_conn(move |conn| {
            conn.execute(&sql.replace('$', "?"), params_from_iter(params))
                .map(|n| n as u64)
        })
        .await
    }

    async fn rows(
        &self,
        sql: &'static str,
        params: Vec<Value>,
    ) -> Result<Vec<Entry>, JournalError> {
        self.with_conn(move |conn| {
            let mut statement = conn.prepare_cached(&sql.replace('$', "?"))?;
            let rows = statement.query_map(params_from_iter(params), entry)?;
            rows.collect()
        })
        .await
    }
}

#[async_trait]
impl JournalStore for ShopStore {
    fn location(&self) -> String {
        self.location.clone()
    }

    async fn insert(&self, claim: &NewClaim<'_>) -> Result<bool, JournalError> {
        Ok(self.changed(SQLITE.insert, claim_params(claim)).await? == 1)
    }

    async fn reclaim(&self, claim: &NewClaim<'_>) -> Result<Option<Entry>, JournalError> {
        Ok(self.rows(SQLITE.reclaim, claim_params(claim)).await?.pop())
    }

    async fn get(&self, supplier: &str, reference: &str) -> Result<Option<Entry>, JournalError> {
        Ok(self
            .rows(SQLITE.get, vec![text(supplier), text(reference)])
            .await?
            .pop())
    }

    async fn unresolved(&self) -> Result<Vec<Entry>, JournalError> {
        self.rows(SQLITE.unresolved, Vec::new()).await
    }

    async fn all_entries(&self) -> Result<Vec<Entry>, JournalError> {
        self.rows(SQLITE.all, Vec::new()).await
    }

    async fn known_orders(
        &self,
        supplier: &str,
    ) -> Result<Vec<(String, DateTime<Utc>)>, JournalError> {
        let supplier = supplier.to_owned();
        let rows: Vec<(String, Option<String>)> = self
            .with_conn(move |conn| {
                let mut statement = conn.prepare_cached(&SQLITE.known_orders.replace('$', "?"))?;
                let rows = statement.query_map([supplier], |row| Ok((row.get(0)?, row.get(1)?)))?;
                rows.collect()
            })
            .await?;
        rows.into_iter()
            .map(|(id, started)| {
                let started = parse_time(started).map_err(store_error)?;
                Ok((
                    id,
                    started.ok_or_else(|| store_error(corrupt("started_at")))?,
                ))
            })
            .collect()
    }

    async fn record(&self, record: &ProgressRecord<'_>) -> Result<bool, JournalError> {
        let progress = record.progress;
        let params = vec![
            text(record.supplier),
            text(record.reference),
            text(progress.state.as_str()),
            optional(progress.order_id.clone()),
            optional(progress.detail.clone()),
            time(record.now),
            text(record.owner),
            Value::Integer(i64::from(progress.state.is_resolved())),
        ];
        Ok(self.changed(SQLITE.record, params).await? == 1)
    }

    async fn take(&self, takeover: &Takeover<'_>) -> Result<Option<Entry>, JournalError> {
        let seen = takeover.seen;
        let params = vec![
            text(seen.supplier.clone()),
            text(seen.reference.clone()),
            text(takeover.owner),
            time(takeover.lease_until),
            time(takeover.now),
            text(seen.state.as_str()),
            optional(seen.owner.clone()),
            Value::Integer(seen.attempt as i64),
        ];
        Ok(self.rows(SQLITE.take, params).await?.pop())
    }

    async fn renew(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        let params = vec![
            text(supplier),
            text(reference),
            text(owner),
            time(lease_until),
        ];
        Ok(self.changed(SQLITE.renew, params).await? == 1)
    }

    async fn release(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
    ) -> Result<bool, JournalError> {
        let params = vec![text(supplier), text(reference), text(owner)];
        Ok(self.changed(SQLITE.release, params).await? == 1)
    }

    async fn awaiting_report(&self) -> Result<Vec<Entry>, JournalError> {
        self.rows(SQLITE.awaiting, Vec::new()).await
    }

    async fn claim_for_tracking(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Entry>, JournalError> {
        let params = vec![
            text(owner),
            time(lease_until),
            time(now),
            Value::Integer(limit as i64),
        ];
        self.rows(SQLITE.track_claim, params).await
    }

    async fn renew_tracking(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<u64, JournalError> {
        self.changed(SQLITE.track_renew, vec![text(owner), time(lease_until)])
            .await
    }

    async fn release_tracking(&self, owner: &str) -> Result<u64, JournalError> {
        self.changed(SQLITE.track_release, vec![text(owner)]).await
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
            text(supplier),
            text(reference),
            text(settlement.fulfilment.as_str()),
            optional(settlement.detail),
            time(now),
            text(owner),
        ];
        Ok(self.changed(SQLITE.settle, params).await? == 1)
    }

    async fn mark_reported(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        let params = vec![text(supplier), text(reference), time(now), text(owner)];
        Ok(self.changed(SQLITE.reported, params).await? == 1)
    }

    async fn record_reported(
        &self,
        supplier: &str,
        reference: &str,
        settlement: Settlement<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, JournalError> {
        let params = vec![
            text(supplier),
            text(reference),
            text(settlement.fulfilment.as_str()),
            optional(settlement.detail),
            time(now),
        ];
        Ok(self.changed(SQLITE.reported_by_buyer, params).await? == 1)
    }

    async fn record_report_failure(
        &self,
        supplier: &str,
        reference: &str,
        owner: &str,
        error: &str,
    ) -> Result<bool, JournalError> {
        let params = vec![text(supplier), text(reference), text(error), text(owner)];
        Ok(self.changed(SQLITE.report_failed, params).await? == 1)
    }
}
