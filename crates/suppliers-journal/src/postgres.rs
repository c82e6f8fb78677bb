//! The PostgreSQL driver of [`crate::sql_store`], on sqlx: several workers or machines on
//! one supplier account.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};

use crate::entry::{Columns, Entry};
use crate::migrate;
use crate::sql;
use crate::sql_store::{Answer, Param, Stmt};

/// A pool on the journal's database.
#[derive(Clone)]
pub(crate) struct Postgres {
    pool: PgPool,
}

impl Postgres {
    /// Connects to `url`, applies missing migrations and returns the schema version.
    pub(crate) async fn open(url: &str) -> Result<(Self, Option<i64>), String> {
        let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| e.to_string())?;
        let version = migrate::postgres(&pool).await.map_err(|e| e.to_string())?;
        Ok((Self { pool }, version))
    }

    /// Runs one statement (autocommit).
    pub(crate) async fn run(&self, stmt: Stmt, params: Vec<Param>) -> Result<Answer, String> {
        let mut query = sqlx::query(stmt.text(&sql::POSTGRES));
        for param in params {
            query = match param {
                Param::Text(text) => query.bind(text),
                Param::Int(value) => query.bind(value),
                Param::Time(time) => query.bind(time),
            };
        }
        let fail = |e: sqlx::Error| e.to_string();
        Ok(match stmt {
            stmt if stmt.counts_changes() => Answer::Changed(
                query
                    .execute(&self.pool)
                    .await
                    .map_err(fail)?
                    .rows_affected(),
            ),
            Stmt::KnownOrders => Answer::KnownOrders(
                query
                    .fetch_all(&self.pool)
                    .await
                    .map_err(fail)?
                    .iter()
                    .map(|row| Ok((row.try_get(0)?, row.try_get::<DateTime<Utc>, _>(1)?)))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(fail)?,
            ),
            _ => Answer::Entries(
                query
                    .fetch_all(&self.pool)
                    .await
                    .map_err(fail)?
                    .iter()
                    .map(entry)
                    .collect::<Result<_, String>>()?,
            ),
        })
    }
}

fn entry(row: &PgRow) -> Result<Entry, String> {
    let columns = || -> Result<Columns, sqlx::Error> {
        Ok(Columns {
            supplier: row.try_get("supplier")?,
            reference: row.try_get("reference")?,
            product_id: row.try_get("product_id")?,
            quantity: row.try_get("quantity")?,
            facts: row.try_get("facts")?,
            state: row.try_get("state")?,
            order_id: row.try_get("order_id")?,
            idempotency_key: row.try_get("idempotency_key")?,
            balance_before: row.try_get("balance_before")?,
            balance_currency: row.try_get("balance_currency")?,
            detail: row.try_get("detail")?,
            attempt: row.try_get("attempt")?,
            owner: row.try_get("owner")?,
            lease_until: row.try_get("lease_until")?,
            started_at: row.try_get("started_at")?,
            updated_at: row.try_get("updated_at")?,
            fulfilment: row.try_get("fulfilment")?,
            fulfilment_detail: row.try_get("fulfilment_detail")?,
            settled_at: row.try_get("settled_at")?,
            reported_at: row.try_get("reported_at")?,
            report_attempts: row.try_get("report_attempts")?,
            report_error: row.try_get("report_error")?,
            taken_over_from: row.try_get("taken_over_from")?,
        })
    };
    columns()
        .map_err(|e| format!("unreadable entry: {e}"))?
        .decode()
}
