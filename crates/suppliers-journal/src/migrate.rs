//! Versioned schema migrations, run on open.
//!
//! Hand-run rather than `sqlx::migrate::Migrator` because several processes open a new
//! journal at the same moment (workers starting together): sqlx's migrator takes no lock
//! on SQLite, so two of them would both apply version 1. Here each backend applies its
//! missing versions under one exclusive lock (`BEGIN IMMEDIATE` on SQLite, a transaction
//! advisory lock on PostgreSQL), in one transaction.

use sqlx::{PgPool, SqlitePool};

/// One schema version.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) description: &'static str,
    pub(crate) sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[Migration {
    version: 1,
    description: "purchases",
    sql: include_str!("../migrations/sqlite/0001_purchases.sql"),
}];

pub(crate) const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    description: "purchases",
    sql: include_str!("../migrations/postgres/0001_purchases.sql"),
}];

const VERSIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS journal_migrations (
    version     BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  TEXT NOT NULL
)";

/// A constant key for PostgreSQL's advisory lock: "suppliers journal".
const PG_LOCK_KEY: i64 = 0x5355_5050_4a4e_4c31;

/// Applies the versions `$conn`'s journal lacks; the caller holds the lock. A macro
/// because sqlx's executor bounds make the generic function unreadable.
macro_rules! apply {
    ($conn:expr, $all:expr) => {{
        sqlx::Executor::execute(&mut *$conn, VERSIONS_TABLE).await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM journal_migrations")
                .fetch_one(&mut *$conn)
                .await?;
        let current = current.unwrap_or(0);
        // A plain loop: an iterator adapter's closure held across the awaits makes the
        // future not `Send` (rust-lang/rust#102211).
        for migration in $all.iter() {
            if migration.version <= current {
                continue;
            }
            sqlx::Executor::execute(&mut *$conn, migration.sql).await?;
            sqlx::query(
                "INSERT INTO journal_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(migration.version)
            .bind(migration.description)
            .bind(chrono::Utc::now().to_rfc3339())
            .execute(&mut *$conn)
            .await?;
        }
        Ok::<(), sqlx::Error>(())
    }};
}

pub(crate) async fn sqlite(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    sqlx::Executor::execute(&mut *conn, "BEGIN IMMEDIATE").await?;
    let applied = async { apply!(conn, SQLITE) }.await;
    let end = if applied.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    let ended = sqlx::Executor::execute(&mut *conn, end).await;
    applied.and(ended.map(drop))
}

pub(crate) async fn postgres(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    apply!(tx, POSTGRES)?;
    tx.commit().await
}
