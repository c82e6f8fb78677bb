//! The journal's SQL, once per dialect: the schema ([`Migration`]s) and one statement per
//! [`crate::JournalStore`] operation. The shipped stores run these texts; an application
//! writing its own store over another driver on the same schema may run them too.
//!
//! Parameters are numbered the same way in both dialects (`$1`...; a driver that binds
//! SQLite parameters by index runs them as `?1`..., as the shipped SQLite store does), so
//! one binding order serves both. Times are bound as RFC 3339 text to the microsecond with
//! a `Z` (SQLite: fixed width, so text compares as time) or as `timestamptz`
//! (PostgreSQL); a resolved flag as the integer 1 or 0.

#[cfg(doc)]
use crate::JournalStore;

/// Every statement the journal runs, in one dialect: [`SQLITE`] or [`POSTGRES`]. Each
/// field names its parameters and the [`JournalStore`] method it serves (whose docs say
/// what it promises). A statement that changes rows without `RETURNING` answers with the
/// number it changed; the others return rows of every `purchases` column (PostgreSQL's
/// `facts` and `balance_before` as text).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Statements {
    /// [`JournalStore::insert`]. `$1..$11`: supplier, reference, product_id, quantity,
    /// facts (JSON text), idempotency_key, balance_before (decimal text),
    /// balance_currency, owner, lease_until, now. Changes 1 row, or 0 when the key exists.
    pub insert: &'static str,
    /// [`JournalStore::reclaim`]. The same parameters as `insert`; returns the row it
    /// claimed for another attempt, if any.
    pub reclaim: &'static str,
    /// [`JournalStore::get`]. `$1` supplier, `$2` reference.
    pub get: &'static str,
    /// [`JournalStore::unresolved`]. No parameters.
    pub unresolved: &'static str,
    /// [`JournalStore::all_entries`]. No parameters.
    pub all: &'static str,
    /// [`JournalStore::known_orders`]. `$1` supplier; returns `order_id, started_at`.
    pub known_orders: &'static str,
    /// [`JournalStore::record`]. `$1` supplier, `$2` reference, `$3` state, `$4`
    /// order_id, `$5` detail, `$6` now, `$7` owner (who must hold it), `$8` 1 if the
    /// state is resolved (the hold ends), else 0.
    pub record: &'static str,
    /// [`JournalStore::take`]. `$1` supplier, `$2` reference, `$3` new owner, `$4`
    /// lease_until, `$5` now, `$6` expected state, `$7` expected owner (may be NULL),
    /// `$8` expected attempt.
    pub take: &'static str,
    /// [`JournalStore::renew`]. `$1` supplier, `$2` reference, `$3` owner, `$4`
    /// lease_until.
    pub renew: &'static str,
    /// [`JournalStore::release`]. `$1` supplier, `$2` reference, `$3` owner.
    pub release: &'static str,
    /// [`JournalStore::awaiting_report`]. No parameters.
    pub awaiting: &'static str,
    /// [`JournalStore::claim_for_tracking`]. `$1` owner, `$2` lease_until, `$3` now,
    /// `$4` most rows.
    pub track_claim: &'static str,
    /// [`JournalStore::renew_tracking`]. `$1` owner, `$2` lease_until.
    pub track_renew: &'static str,
    /// [`JournalStore::release_tracking`]. `$1` owner.
    pub track_release: &'static str,
    /// [`JournalStore::settle`]. `$1` supplier, `$2` reference, `$3` fulfilment, `$4`
    /// detail, `$5` now, `$6` owner.
    pub settle: &'static str,
    /// [`JournalStore::mark_reported`]. `$1` supplier, `$2` reference, `$3` now, `$4`
    /// owner.
    pub reported: &'static str,
    /// [`JournalStore::record_reported`]. `$1` supplier, `$2` reference, `$3`
    /// fulfilment, `$4` detail, `$5` now.
    pub reported_by_buyer: &'static str,
    /// [`JournalStore::record_report_failure`]. `$1` supplier, `$2` reference, `$3`
    /// error, `$4` owner.
    pub report_failed: &'static str,
}

/// One schema version: `sql` run once, in order, on a database at an older version.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Migration {
    /// The version this migration brings the schema to (1, 2, ...).
    pub version: i64,
    /// What it adds, in a word or two.
    pub description: &'static str,
    /// The statements, `;`-separated.
    pub sql: &'static str,
}

/// SQLite's schema, oldest first.
pub const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "purchases",
        sql: include_str!("../migrations/sqlite/0001_purchases.sql"),
    },
    Migration {
        version: 2,
        description: "fulfilment",
        sql: include_str!("../migrations/sqlite/0002_fulfilment.sql"),
    },
    Migration {
        version: 3,
        description: "report attempts",
        sql: include_str!("../migrations/sqlite/0003_report_attempts.sql"),
    },
];

/// PostgreSQL's schema, oldest first.
pub const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "purchases",
        sql: include_str!("../migrations/postgres/0001_purchases.sql"),
    },
    Migration {
        version: 2,
        description: "fulfilment",
        sql: include_str!("../migrations/postgres/0002_fulfilment.sql"),
    },
    Migration {
        version: 3,
        description: "report attempts",
        sql: include_str!("../migrations/postgres/0003_report_attempts.sql"),
    },
];

macro_rules! statements {
    (columns: $cols:literal, facts: $facts:literal, balance: $balance:literal, is: $is:literal, state: $state:literal, skip_locked: $skip:literal) => {
        Statements {
            insert: concat!(
                "INSERT INTO purchases (supplier, reference, product_id, quantity, facts, state, ",
                "idempotency_key, balance_before, balance_currency, owner, lease_until, started_at, updated_at) ",
                "VALUES ($1, $2, $3, $4, ", $facts, ", 'sending', $6, ", $balance, ", $8, $9, $10, $11, $11) ",
                "ON CONFLICT (supplier, reference) DO NOTHING"
            ),
            reclaim: concat!(
                "UPDATE purchases SET state = 'sending', facts = ", $facts, ", idempotency_key = $6, ",
                "balance_before = ", $balance, ", balance_currency = $8, owner = $9, lease_until = $10, ",
                "started_at = $11, updated_at = $11, order_id = NULL, detail = NULL, attempt = attempt + 1, ",
                "fulfilment = NULL, fulfilment_detail = NULL, settled_at = NULL, reported_at = NULL, ",
                "report_attempts = 0, report_error = NULL, taken_over_from = NULL ",
                "WHERE supplier = $1 AND reference = $2 AND product_id = $3 AND quantity = $4 ",
                "AND (state = 'not_bought' OR state = 'failed') RETURNING ", $cols
            ),
            get: concat!("SELECT ", $cols, " FROM purchases WHERE supplier = $1 AND reference = $2"),
            unresolved: concat!(
                "SELECT ", $cols, " FROM purchases WHERE state = 'sending' OR state = 'unknown' OR state = 'created'"
            ),
            all: concat!("SELECT ", $cols, " FROM purchases"),
            known_orders: "SELECT order_id, started_at FROM purchases WHERE supplier = $1 AND order_id IS NOT NULL",
            record: concat!(
                "UPDATE purchases SET state = ", $state, ", order_id = COALESCE($4, order_id), ",
                "detail = COALESCE($5, detail), updated_at = $6, ",
                "fulfilment = CASE WHEN ", $state, " = 'bought' THEN COALESCE(fulfilment, 'awaiting') ELSE fulfilment END, ",
                "owner = CASE WHEN $8 = 1 THEN NULL ELSE owner END, ",
                "lease_until = CASE WHEN $8 = 1 THEN NULL ELSE lease_until END ",
                "WHERE supplier = $1 AND reference = $2 AND owner = $7"
            ),
            take: concat!(
                "UPDATE purchases SET owner = $3, lease_until = $4, updated_at = $5 ",
                "WHERE supplier = $1 AND reference = $2 AND state = $6 AND owner ", $is, " $7 ",
                "AND attempt = $8 RETURNING ", $cols
            ),
            renew: "UPDATE purchases SET lease_until = $4 WHERE supplier = $1 AND reference = $2 AND owner = $3",
            release: "UPDATE purchases SET owner = NULL, lease_until = NULL WHERE supplier = $1 AND reference = $2 AND owner = $3",
            awaiting: concat!(
                "SELECT ", $cols, " FROM purchases WHERE fulfilment IS NOT NULL AND reported_at IS NULL"
            ),
            track_claim: concat!(
                "UPDATE purchases SET owner = $1, lease_until = $2, taken_over_from = owner ",
                "WHERE (supplier, reference) IN (",
                "SELECT supplier, reference FROM purchases ",
                "WHERE fulfilment IS NOT NULL AND reported_at IS NULL ",
                "AND (owner IS NULL OR lease_until IS NULL OR lease_until <= $3) ",
                "ORDER BY started_at LIMIT $4", $skip, ") RETURNING ", $cols
            ),
            track_renew: concat!(
                "UPDATE purchases SET lease_until = $2 ",
                "WHERE owner = $1 AND fulfilment IS NOT NULL AND reported_at IS NULL"
            ),
            track_release: concat!(
                "UPDATE purchases SET owner = NULL, lease_until = NULL ",
                "WHERE owner = $1 AND fulfilment IS NOT NULL AND reported_at IS NULL"
            ),
            settle: concat!(
                "UPDATE purchases SET fulfilment = $3, fulfilment_detail = $4, settled_at = $5, updated_at = $5 ",
                "WHERE supplier = $1 AND reference = $2 AND owner = $6 AND fulfilment = 'awaiting'"
            ),
            reported: concat!(
                "UPDATE purchases SET reported_at = $3, updated_at = $3, owner = NULL, lease_until = NULL ",
                "WHERE supplier = $1 AND reference = $2 AND owner = $4 AND reported_at IS NULL"
            ),
            reported_by_buyer: concat!(
                "UPDATE purchases SET fulfilment = $3, fulfilment_detail = COALESCE($4, fulfilment_detail), ",
                "settled_at = COALESCE(settled_at, $5), reported_at = $5, updated_at = $5 ",
                "WHERE supplier = $1 AND reference = $2 AND fulfilment IS NOT NULL AND reported_at IS NULL"
            ),
            report_failed: concat!(
                "UPDATE purchases SET report_attempts = report_attempts + 1, report_error = $3 ",
                "WHERE supplier = $1 AND reference = $2 AND owner = $4 AND reported_at IS NULL"
            ),
        }
    };
}

/// The SQLite dialect (the shipped SQLite store runs these, `$` read as `?`).
pub const SQLITE: Statements = statements!(
    columns: "supplier, reference, product_id, quantity, facts, state, order_id, idempotency_key, balance_before, balance_currency, detail, attempt, owner, lease_until, started_at, updated_at, fulfilment, fulfilment_detail, settled_at, reported_at, report_attempts, report_error, taken_over_from",
    facts: "$5",
    balance: "$7",
    is: "IS",
    state: "$3",
    skip_locked: ""
);

/// The PostgreSQL dialect (the shipped PostgreSQL store runs these).
pub const POSTGRES: Statements = statements!(
    columns: "supplier, reference, product_id, quantity, facts::text AS facts, state, order_id, idempotency_key, balance_before::text AS balance_before, balance_currency, detail, attempt, owner, lease_until, started_at, updated_at, fulfilment, fulfilment_detail, settled_at, reported_at, report_attempts, report_error, taken_over_from",
    facts: "$5::jsonb",
    balance: "$7::numeric",
    is: "IS NOT DISTINCT FROM",
    state: "$3::text",
    skip_locked: " FOR UPDATE SKIP LOCKED"
);
