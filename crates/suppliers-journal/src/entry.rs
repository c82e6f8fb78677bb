//! What the journal records about one purchase.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

/// Where a purchase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Claimed; the purchase request is being sent or its answer awaited.
    Sending,
    /// The purchase request may have reached the supplier; its outcome is not known.
    Unknown,
    /// FoxReload: the order exists, unpaid (`active`); nothing has been charged.
    Created,
    /// The supplier has the purchase (codes are fetched again by order id).
    Bought,
    /// Known not to have happened: nothing was charged.
    NotBought,
    /// The supplier refused the purchase; nothing was charged.
    Failed,
}

impl State {
    /// Every state, in the order a purchase moves through them.
    pub const ALL: [State; 6] = [
        State::Sending,
        State::Unknown,
        State::Created,
        State::Bought,
        State::NotBought,
        State::Failed,
    ];

    /// The name stored in the journal and printed by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Sending => "sending",
            State::Unknown => "unknown",
            State::Created => "created",
            State::Bought => "bought",
            State::NotBought => "not_bought",
            State::Failed => "failed",
        }
    }

    /// `bought`, `not_bought` and `failed`: nothing more will happen to the purchase.
    pub fn is_resolved(self) -> bool {
        matches!(self, State::Bought | State::NotBought | State::Failed)
    }

    /// `not_bought` and `failed`: the same reference may buy again.
    pub fn may_buy_again(self) -> bool {
        matches!(self, State::NotBought | State::Failed)
    }

    /// The state stored as `text` ([`State::as_str`]), if it is one.
    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of a bought purchase's goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fulfilment {
    /// Bought; the goods are not there yet.
    Awaiting,
    /// Codes, account details or redemption data are ready at the supplier.
    Delivered,
    /// Failed, rejected, cancelled, expired or refunded after the purchase.
    Undelivered,
}

impl Fulfilment {
    /// Every value.
    pub const ALL: [Fulfilment; 3] = [
        Fulfilment::Awaiting,
        Fulfilment::Delivered,
        Fulfilment::Undelivered,
    ];

    /// The name stored in the journal and printed by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Fulfilment::Awaiting => "awaiting",
            Fulfilment::Delivered => "delivered",
            Fulfilment::Undelivered => "undelivered",
        }
    }

    /// The fulfilment stored as `text` ([`Fulfilment::as_str`]), if it is one.
    pub fn parse(text: &str) -> Option<Fulfilment> {
        Fulfilment::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

impl std::fmt::Display for Fulfilment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A purchase about to be sent: what the journal claims before the first byte.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPurchase {
    /// `foxreload`, `mousacard` or `cryptorefills`.
    pub supplier: String,
    /// The caller's reference: at most one purchase per supplier and reference.
    pub reference: String,
    /// The supplier's product id.
    pub product_id: String,
    /// How many.
    pub quantity: u64,
    /// The request's stable facts (fields, beneficiary, coin...), never a secret.
    pub facts: serde_json::Value,
    /// FoxReload: the `idempotencyKey` the order is created with.
    pub idempotency_key: Option<String>,
    /// MousaCard: the balance read just before the purchase, and its currency.
    pub balance_before: Option<(Decimal, String)>,
}

/// A journal row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Supplier name.
    pub supplier: String,
    /// The caller's reference.
    pub reference: String,
    /// The product bought.
    pub product_id: String,
    /// How many.
    pub quantity: u64,
    /// The request's stable facts.
    pub facts: serde_json::Value,
    /// Where it stands.
    pub state: State,
    /// The supplier's order id, once known.
    pub order_id: Option<String>,
    /// FoxReload's `idempotencyKey`.
    pub idempotency_key: Option<String>,
    /// MousaCard: the balance before the purchase.
    pub balance_before: Option<Decimal>,
    /// Its currency.
    pub balance_currency: Option<String>,
    /// What happened last, in a sentence (the cause of an unknown outcome, how a
    /// reconcile decided...).
    pub detail: Option<String>,
    /// How many times this reference was claimed (a failed purchase may be bought
    /// again under the same reference).
    pub attempt: u64,
    /// The process holding the entry (`host:pid:token`), while it works on it.
    pub owner: Option<String>,
    /// Until when the owner's hold counts without a heartbeat.
    pub lease_until: Option<DateTime<Utc>>,
    /// When this attempt was claimed.
    pub started_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Once bought: what became of the goods.
    pub fulfilment: Option<Fulfilment>,
    /// Why the goods were not delivered (the supplier's status and reason).
    pub fulfilment_detail: Option<String>,
    /// When the supplier was seen to settle the order.
    pub settled_at: Option<DateTime<Utc>>,
    /// When the caller took the report of the settled order.
    pub reported_at: Option<DateTime<Utc>>,
    /// How many times the settled order's report was handed over and not accepted.
    pub report_attempts: u64,
    /// Why the last of those was not accepted (e.g. the webhook receiver's answer).
    pub report_error: Option<String>,
    /// The holder (`host:pid:token`) whose lease had lapsed when a tracker last took
    /// this entry over; `None` when it was free.
    pub taken_over_from: Option<String>,
}

/// An entry's columns as a backend reads them, before the journal's own checks (the
/// state is one it knows, the facts are JSON, the balance a decimal).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) struct Columns {
    pub(crate) supplier: String,
    pub(crate) reference: String,
    pub(crate) product_id: String,
    pub(crate) quantity: i64,
    pub(crate) facts: String,
    pub(crate) state: String,
    pub(crate) order_id: Option<String>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) balance_before: Option<String>,
    pub(crate) balance_currency: Option<String>,
    pub(crate) detail: Option<String>,
    pub(crate) attempt: i64,
    pub(crate) owner: Option<String>,
    pub(crate) lease_until: Option<DateTime<Utc>>,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) fulfilment: Option<String>,
    pub(crate) fulfilment_detail: Option<String>,
    pub(crate) settled_at: Option<DateTime<Utc>>,
    pub(crate) reported_at: Option<DateTime<Utc>>,
    pub(crate) report_attempts: i64,
    pub(crate) report_error: Option<String>,
    pub(crate) taken_over_from: Option<String>,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl Columns {
    /// The entry these columns hold, or what is wrong with them.
    pub(crate) fn decode(self) -> Result<Entry, String> {
        let bad = |what: String| format!("unreadable entry {:?}: {what}", self.reference);
        let state = State::parse(&self.state)
            .ok_or_else(|| bad(format!("unknown state {:?}", self.state)))?;
        let facts = serde_json::from_str(&self.facts).map_err(|e| bad(format!("facts: {e}")))?;
        let balance_before = match &self.balance_before {
            Some(b) => Some(b.parse().map_err(|_| bad(format!("balance {b:?}")))?),
            None => None,
        };
        let fulfilment = match &self.fulfilment {
            Some(f) => {
                Some(Fulfilment::parse(f).ok_or_else(|| bad(format!("unknown fulfilment {f:?}")))?)
            }
            None => None,
        };
        Ok(Entry {
            quantity: u64::try_from(self.quantity).unwrap_or(0),
            facts,
            state,
            balance_before,
            attempt: u64::try_from(self.attempt).unwrap_or(0),
            supplier: self.supplier,
            reference: self.reference,
            product_id: self.product_id,
            order_id: self.order_id,
            idempotency_key: self.idempotency_key,
            balance_currency: self.balance_currency,
            detail: self.detail,
            owner: self.owner,
            lease_until: self.lease_until,
            started_at: self.started_at,
            updated_at: self.updated_at,
            fulfilment,
            fulfilment_detail: self.fulfilment_detail,
            settled_at: self.settled_at,
            reported_at: self.reported_at,
            report_attempts: u64::try_from(self.report_attempts).unwrap_or(0),
            report_error: self.report_error,
            taken_over_from: self.taken_over_from,
        })
    }
}

impl Entry {
    /// Bought, and its settled order not yet reported to the caller: what a tracker
    /// follows.
    pub fn awaits_report(&self) -> bool {
        self.fulfilment.is_some() && self.reported_at.is_none()
    }

    /// The entry as `progress` recorded at `now` leaves it (what the journal's record
    /// statement writes): a resolved state lets go of the owner and its lease, and a
    /// bought one awaits its goods.
    pub fn with_progress(&self, progress: &Progress, now: DateTime<Utc>) -> Entry {
        let resolved = progress.state.is_resolved();
        let fulfilment = match progress.state {
            State::Bought => self.fulfilment.or(Some(Fulfilment::Awaiting)),
            _ => self.fulfilment,
        };
        Entry {
            fulfilment,
            state: progress.state,
            order_id: progress.order_id.clone().or_else(|| self.order_id.clone()),
            detail: progress.detail.clone().or_else(|| self.detail.clone()),
            updated_at: now,
            owner: if resolved { None } else { self.owner.clone() },
            lease_until: if resolved { None } else { self.lease_until },
            ..self.clone()
        }
    }
}

/// The answer to [`crate::Journal::claim`].
#[derive(Debug)]
pub enum Claim {
    /// This process now holds the reference, until the [`crate::Hold`] drops: send the
    /// purchase.
    Claimed(Entry, crate::Hold),
    /// The reference is already taken: never send the purchase again blindly.
    Existing(Entry),
}

/// A change to an entry held by this process.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The new state.
    pub state: State,
    /// The supplier's order id, when it became known (kept when `None`).
    pub order_id: Option<String>,
    /// What happened, in a sentence (kept when `None`).
    pub detail: Option<String>,
}

impl Progress {
    /// A move to `state`.
    pub fn to(state: State) -> Self {
        Self {
            state,
            order_id: None,
            detail: None,
        }
    }

    /// With the supplier's order id.
    pub fn order_id(mut self, id: impl Into<String>) -> Self {
        self.order_id = Some(id.into());
        self
    }

    /// With a sentence on what happened.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}
