//! The journal's SQL, once per dialect. Parameters are numbered the same way in both
//! (`$1`...; the SQLite backend runs them as `?1`...), so one binding order serves both.

use chrono::{DateTime, Utc};

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

/// Every statement the journal runs.
pub(crate) struct Statements {
    /// `$1..$11`: supplier, reference, product_id, quantity, facts, idempotency_key,
    /// balance_before, balance_currency, owner, lease_until, now.
    pub(crate) insert: &'static str,
    /// The same parameters: claims a `not_bought` or `failed` entry of the same product
    /// and quantity for another attempt.
    pub(crate) reclaim: &'static str,
    /// `$1` supplier, `$2` reference.
    pub(crate) get: &'static str,
    pub(crate) unresolved: &'static str,
    /// Every entry.
    pub(crate) all: &'static str,
    /// `$1` supplier.
    pub(crate) known_orders: &'static str,
    /// `$1` supplier, `$2` reference, `$3` state, `$4` order_id, `$5` detail, `$6` now,
    /// `$7` owner (who must hold it), `$8` 1 if the state is resolved (the hold ends).
    pub(crate) record: &'static str,
    /// `$1` supplier, `$2` reference, `$3` new owner, `$4` lease_until, `$5` now,
    /// `$6` expected state, `$7` expected owner (may be NULL), `$8` expected attempt.
    pub(crate) take: &'static str,
    /// `$1` supplier, `$2` reference, `$3` owner, `$4` lease_until.
    pub(crate) renew: &'static str,
    /// `$1` supplier, `$2` reference, `$3` owner.
    pub(crate) release: &'static str,
    /// Bought and not yet reported.
    pub(crate) awaiting: &'static str,
    /// `$1` owner, `$2` lease_until, `$3` now, `$4` most rows: takes bought, unreported
    /// entries nobody holds (or whose holder's lease lapsed) for a tracker.
    pub(crate) track_claim: &'static str,
    /// `$1` owner, `$2` lease_until: renews every entry a tracker holds.
    pub(crate) track_renew: &'static str,
    /// `$1` owner: lets go of every entry a tracker holds.
    pub(crate) track_release: &'static str,
    /// `$1` supplier, `$2` reference, `$3` fulfilment, `$4` detail, `$5` now, `$6` owner.
    pub(crate) settle: &'static str,
    /// `$1` supplier, `$2` reference, `$3` now, `$4` owner.
    pub(crate) reported: &'static str,
    /// `$1` supplier, `$2` reference, `$3` fulfilment, `$4` detail, `$5` now: the buyer
    /// itself showed the settled order (no hold needed).
    pub(crate) reported_by_buyer: &'static str,
    /// `$1` supplier, `$2` reference, `$3` error, `$4` owner: one more report attempt
    /// that was not accepted.
    pub(crate) report_failed: &'static str,
}

impl Statements {
    pub(crate) fn text(&self, stmt: Stmt) -> &'static str {
        match stmt {
            Stmt::Insert => self.insert,
            Stmt::Reclaim => self.reclaim,
            Stmt::Get => self.get,
            Stmt::Unresolved => self.unresolved,
            Stmt::All => self.all,
            Stmt::KnownOrders => self.known_orders,
            Stmt::Record => self.record,
            Stmt::Take => self.take,
            Stmt::Renew => self.renew,
            Stmt::Release => self.release,
            Stmt::Awaiting => self.awaiting,
            Stmt::TrackClaim => self.track_claim,
            Stmt::TrackRenew => self.track_renew,
            Stmt::TrackRelease => self.track_release,
            Stmt::Settle => self.settle,
            Stmt::Reported => self.reported,
            Stmt::ReportedByBuyer => self.reported_by_buyer,
            Stmt::ReportFailed => self.report_failed,
        }
    }
}

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

pub(crate) const SQLITE: Statements = statements!(
    columns: "supplier, reference, product_id, quantity, facts, state, order_id, idempotency_key, balance_before, balance_currency, detail, attempt, owner, lease_until, started_at, updated_at, fulfilment, fulfilment_detail, settled_at, reported_at, report_attempts, report_error, taken_over_from",
    facts: "$5",
    balance: "$7",
    is: "IS",
    state: "$3",
    skip_locked: ""
);

pub(crate) const POSTGRES: Statements = statements!(
    columns: "supplier, reference, product_id, quantity, facts::text AS facts, state, order_id, idempotency_key, balance_before::text AS balance_before, balance_currency, detail, attempt, owner, lease_until, started_at, updated_at, fulfilment, fulfilment_detail, settled_at, reported_at, report_attempts, report_error, taken_over_from",
    facts: "$5::jsonb",
    balance: "$7::numeric",
    is: "IS NOT DISTINCT FROM",
    state: "$3::text",
    skip_locked: " FOR UPDATE SKIP LOCKED"
);
