//! Versioned schema migrations, run on open.
//!
//! Hand-run rather than `sqlx::migrate::Migrator` because several processes open a new
//! journal at the same moment (workers starting together): sqlx's migrator takes no lock
//! on SQLite, so two of them would both apply version 1 (and the SQLite backend is not
//! on sqlx). Here each backend applies its missing versions under one exclusive lock
//! (`BEGIN IMMEDIATE` on SQLite, a transaction advisory lock on PostgreSQL), in one
//! transaction.

use crate::JournalError;
use crate::sql::Migration;
#[cfg(feature = "postgres")]
use crate::sql::POSTGRES_MIGRATIONS;
#[cfg(feature = "sqlite")]
use crate::sql::SQLITE_MIGRATIONS;

const VERSIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS journal_migrations (
    version     BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  TEXT NOT NULL
)";

/// A constant key for PostgreSQL's advisory lock: "suppliers journal".
#[cfg(feature = "postgres")]
const PG_LOCK_KEY: i64 = 0x5355_5050_4a4e_4c31;

/// Applies SQLite's missing versions under `BEGIN IMMEDIATE`; returns the version now.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite(conn: &rusqlite::Connection) -> rusqlite::Result<Option<i64>> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let applied = (|| {
        conn.execute_batch(VERSIONS_TABLE)?;
        let current: Option<i64> =
            conn.query_row("SELECT MAX(version) FROM journal_migrations", [], |row| {
                row.get(0)
            })?;
        for migration in SQLITE_MIGRATIONS
            .iter()
            .filter(|m| m.version > current.unwrap_or(0))
        {
            conn.execute_batch(migration.sql)?;
            conn.execute(
                "INSERT INTO journal_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![migration.version, migration.description, chrono::Utc::now().to_rfc3339()],
            )?;
        }
        conn.query_row("SELECT MAX(version) FROM journal_migrations", [], |row| {
            row.get(0)
        })
    })();
    match applied {
        Ok(version) => conn.execute_batch("COMMIT").map(|()| version),
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(err)
        }
    }
}

/// Applies PostgreSQL's missing versions under a transaction advisory lock; returns the
/// version now.
#[cfg(feature = "postgres")]
pub(crate) async fn postgres(pool: &sqlx::PgPool) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    sqlx::Executor::execute(&mut *tx, VERSIONS_TABLE).await?;
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM journal_migrations")
        .fetch_one(&mut *tx)
        .await?;
    let current = current.unwrap_or(0);
    // A plain loop: an iterator adapter's closure held across the awaits makes the
    // future not `Send` (rust-lang/rust#102211).
    for migration in POSTGRES_MIGRATIONS.iter() {
        if migration.version <= current {
            continue;
        }
        sqlx::Executor::execute(&mut *tx, migration.sql).await?;
        sqlx::query(
            "INSERT INTO journal_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.description)
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(&mut *tx)
        .await?;
    }
    let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM journal_migrations")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(version)
}

/// Refuses a schema `found` newer than the newest of `known`: a later SDK wrote it.
pub(crate) fn check_version(
    found: Option<i64>,
    known: &[Migration],
    location: &str,
) -> Result<(), JournalError> {
    let known = known.last().map_or(0, |m| m.version);
    match found {
        Some(found) if found > known => Err(JournalError::NewerSchema {
            location: location.to_owned(),
            found,
            known,
        }),
        _ => Ok(()),
    }
}
