//! The journal's SQL, once per dialect. Parameters are numbered the same way in both
//! (`$1`...; SQLite takes `$N` as the N-th parameter), so one binding order serves both.

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
    /// `$1` supplier.
    pub(crate) known_orders: &'static str,
    /// `$1` supplier, `$2` reference, `$3` state, `$4` order_id, `$5` detail, `$6` now,
    /// `$7` owner (who must hold it).
    pub(crate) record: &'static str,
    /// `$1` supplier, `$2` reference, `$3` new owner, `$4` lease_until, `$5` now,
    /// `$6` expected state, `$7` expected owner (may be NULL), `$8` expected attempt.
    pub(crate) take: &'static str,
    /// `$1` supplier, `$2` reference, `$3` owner, `$4` lease_until.
    pub(crate) renew: &'static str,
    /// `$1` supplier, `$2` reference, `$3` owner.
    pub(crate) release: &'static str,
}

macro_rules! statements {
    (columns: $cols:literal, facts: $facts:literal, balance: $balance:literal, is: $is:literal, state: $state:literal) => {
        Statements {
            insert: concat!(
                "INSERT INTO purchases (supplier, reference, product_id, quantity, facts, state, ",
                "idempotency_key, balance_before, balance_currency, owner, lease_until, started_at, updated_at) ",
                "VALUES ($1, $2, $3, $4, ", $facts, ", 'sending', $6, ", $balance, ", $8, $9, $10, $11, $11) ",
                "ON CONFLICT (supplier, reference) DO NOTHING RETURNING ", $cols
            ),
            reclaim: concat!(
                "UPDATE purchases SET state = 'sending', facts = ", $facts, ", idempotency_key = $6, ",
                "balance_before = ", $balance, ", balance_currency = $8, owner = $9, lease_until = $10, ",
                "started_at = $11, updated_at = $11, order_id = NULL, detail = NULL, attempt = attempt + 1 ",
                "WHERE supplier = $1 AND reference = $2 AND product_id = $3 AND quantity = $4 ",
                "AND state IN ('not_bought', 'failed') RETURNING ", $cols
            ),
            get: concat!("SELECT ", $cols, " FROM purchases WHERE supplier = $1 AND reference = $2"),
            unresolved: concat!(
                "SELECT ", $cols, " FROM purchases WHERE state IN ('sending', 'unknown', 'created')"
            ),
            known_orders: "SELECT order_id, started_at FROM purchases WHERE supplier = $1 AND order_id IS NOT NULL",
            record: concat!(
                "UPDATE purchases SET state = ", $state, ", order_id = COALESCE($4, order_id), ",
                "detail = COALESCE($5, detail), updated_at = $6, ",
                "owner = CASE WHEN ", $state, " IN ('bought', 'not_bought', 'failed') THEN NULL ELSE owner END, ",
                "lease_until = CASE WHEN ", $state, " IN ('bought', 'not_bought', 'failed') THEN NULL ELSE lease_until END ",
                "WHERE supplier = $1 AND reference = $2 AND owner = $7 RETURNING ", $cols
            ),
            take: concat!(
                "UPDATE purchases SET owner = $3, lease_until = $4, updated_at = $5 ",
                "WHERE supplier = $1 AND reference = $2 AND state = $6 AND owner ", $is, " $7 ",
                "AND attempt = $8 RETURNING ", $cols
            ),
            renew: "UPDATE purchases SET lease_until = $4 WHERE supplier = $1 AND reference = $2 AND owner = $3",
            release: "UPDATE purchases SET owner = NULL, lease_until = NULL WHERE supplier = $1 AND reference = $2 AND owner = $3",
        }
    };
}

pub(crate) const SQLITE: Statements = statements!(
    columns: "supplier, reference, product_id, quantity, facts, state, order_id, idempotency_key, balance_before, balance_currency, detail, attempt, owner, lease_until, started_at, updated_at",
    facts: "$5",
    balance: "$7",
    is: "IS",
    state: "$3"
);

pub(crate) const POSTGRES: Statements = statements!(
    columns: "supplier, reference, product_id, quantity, facts::text AS facts, state, order_id, idempotency_key, balance_before::text AS balance_before, balance_currency, detail, attempt, owner, lease_until, started_at, updated_at",
    facts: "$5::jsonb",
    balance: "$7::numeric",
    is: "IS NOT DISTINCT FROM",
    state: "$3::text"
);
