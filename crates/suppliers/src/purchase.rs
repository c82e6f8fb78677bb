//! Exactly-once purchases: [`Suppliers::buy`] claims the caller's reference in the
//! purchase journal before the first byte is sent, records each step, and settles an
//! unknown outcome from what the supplier can tell ([`crate::reconcile`]) before the
//! caller sees it.
//!
//! The same reference never buys twice: once bought, buying again returns the recorded
//! order, fetched again from the supplier; while another live process is buying with
//! it, it is [`Error::PurchaseInProgress`]; an interrupted purchase is reconciled first
//! and, if the supplier shows it never happened, bought then.

use std::collections::BTreeMap;

use suppliers_journal::{Claim, Entry, Journal, NewPurchase, Progress, State};

use crate::adapters::{cryptorefills, foxreload, mousacard};
use crate::error::Error;
use crate::facade::Suppliers;
use crate::model::{Balance, Order, SupplierId};
use crate::supplier::{BuyRequest, Supplier, fox_line, mousa_purchase};

/// The longest reference accepted.
pub const MAX_REFERENCE_LEN: usize = 200;

/// What [`Suppliers::buy`] returns: the order and the reference it is journaled under.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The purchase's reference (the caller's, or a fresh one).
    pub reference: String,
    /// The order as the supplier shows it now.
    pub order: Order,
    /// True when this reference had bought already and nothing was sent now.
    pub replayed: bool,
}

/// A fresh reference: a random UUID.
pub fn new_reference() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// What is sent, ready after every check and read that comes before a purchase.
enum Prepared {
    FoxReload {
        items: Vec<::foxreload::types::CreateOrderItem>,
        idempotency_key: String,
    },
    MousaCard {
        purchase: mousacard::Purchase,
        balance: Balance,
    },
    Cryptorefills {
        purchase: cryptorefills::Purchase,
    },
}

/// What to do once an existing entry has been looked at.
enum Resumed {
    Done(Box<Receipt>),
    /// Known not bought: this reference may buy now.
    BuyAgain,
}

impl Suppliers {
    /// The purchase journal.
    pub fn journal(&self) -> Result<&Journal, Error> {
        self.journal_ref()
            .ok_or(Error::Config(crate::config::ConfigError::NoJournal))
    }

    /// Buys once per `request.reference` (a fresh reference when `None`; read it from
    /// the [`Receipt`], or set one first to be able to retry). Every check happens
    /// before anything is sent: the request's own rules, the product's limits and
    /// fields, the reference (a different product or quantity under a used reference
    /// is [`Error::ReferenceConflict`]). A Cryptorefills purchase is made for
    /// `request.end_user` when there is one (see [`Self::for_end_user`]).
    pub async fn buy(&self, supplier: SupplierId, request: &BuyRequest) -> Result<Receipt, Error> {
        let result = match &request.end_user {
            Some(end_user) => {
                self.for_end_user(end_user.clone())
                    .buy_once(supplier, request)
                    .await
            }
            None => self.buy_once(supplier, request).await,
        };
        if let Err(Error::Journal(_)) = &result {
            crate::metrics::record_journal_error();
        }
        result
    }

    async fn buy_once(&self, supplier: SupplierId, request: &BuyRequest) -> Result<Receipt, Error> {
        let journal = self.journal()?;
        let handle = self.get(supplier)?;
        let reference = match &request.reference {
            Some(reference) => checked_reference(supplier, reference)?,
            None => new_reference(),
        };
        if let Some(entry) = journal.get(supplier.as_str(), &reference).await? {
            check_same(&entry, request, supplier)?;
            if !entry.state.may_buy_again() {
                match self.resume(handle, entry).await? {
                    Resumed::Done(receipt) => return Ok(*receipt),
                    Resumed::BuyAgain => {}
                }
            }
        }
        let prepared = prepare(handle, request).await?;
        let new = NewPurchase {
            supplier: supplier.as_str().to_owned(),
            reference: reference.clone(),
            product_id: request.product_id.clone(),
            quantity: request.quantity,
            facts: facts(request),
            idempotency_key: match &prepared {
                Prepared::FoxReload {
                    idempotency_key, ..
                } => Some(idempotency_key.clone()),
                _ => None,
            },
            balance_before: match &prepared {
                Prepared::MousaCard { balance, .. } => {
                    Some((balance.amount, balance.currency.clone()))
                }
                _ => None,
            },
        };
        match journal.claim(&new).await? {
            Claim::Claimed(entry, _hold) => observed(
                supplier,
                &reference,
                self.send(handle, entry, prepared).await,
            ),
            Claim::Existing(entry) => {
                check_same(&entry, request, supplier)?;
                match self.resume(handle, entry).await? {
                    Resumed::Done(receipt) => Ok(*receipt),
                    // Another process's attempt ended between our two looks.
                    Resumed::BuyAgain => Err(Error::PurchaseInProgress {
                        supplier,
                        reference,
                        owner: "another process, which just finished an attempt".into(),
                    }),
                }
            }
        }
    }

    /// An entry that exists: bought (return it), unresolved (settle it first), or held
    /// by another live process (in progress).
    async fn resume(&self, handle: Supplier<'_>, entry: Entry) -> Result<Resumed, Error> {
        let journal = self.journal()?;
        let supplier = handle.id();
        if entry.state == State::Bought {
            return Ok(Resumed::Done(Box::new(replay(handle, &entry).await?)));
        }
        if entry.state.may_buy_again() {
            return Ok(Resumed::BuyAgain);
        }
        let in_progress = |entry: &Entry| Error::PurchaseInProgress {
            supplier,
            reference: entry.reference.clone(),
            owner: entry.owner.clone().unwrap_or_default(),
        };
        if journal.held_elsewhere(&entry) {
            return Err(in_progress(&entry));
        }
        let Some((entry, _hold)) = journal.take(&entry).await? else {
            return Err(in_progress(&entry));
        };
        let entry = self.settle(handle, entry).await;
        match entry.state {
            State::Bought => Ok(Resumed::Done(Box::new(replay(handle, &entry).await?))),
            State::Created => {
                let Supplier::FoxReload(fox) = handle else {
                    return Err(unresolved(&entry, supplier));
                };
                let reference = entry.reference.clone();
                observed(supplier, &reference, self.pay_created(fox, entry).await)
                    .map(|r| Resumed::Done(Box::new(r)))
            }
            State::NotBought | State::Failed => Ok(Resumed::BuyAgain),
            State::Sending | State::Unknown => {
                let err = unresolved(&entry, supplier);
                journal.release(&entry).await?;
                Err(err)
            }
        }
    }

    /// Sends a claimed purchase and records what happened.
    async fn send(
        &self,
        handle: Supplier<'_>,
        entry: Entry,
        prepared: Prepared,
    ) -> Result<Receipt, Error> {
        match (handle, prepared) {
            (
                Supplier::FoxReload(fox),
                Prepared::FoxReload {
                    items,
                    idempotency_key,
                },
            ) => {
                let entry = match fox.create(items, &idempotency_key).await {
                    Ok(order) => {
                        self.record_answered(
                            &entry,
                            Progress::to(State::Created).order_id(&order.id),
                        )
                        .await
                    }
                    Err(err) => match self.after_failure(handle, &entry, err).await? {
                        entry if entry.state == State::Created => entry,
                        entry => return self.finish(handle, entry).await,
                    },
                };
                self.pay_created(fox, entry).await
            }
            (Supplier::MousaCard(mousa), Prepared::MousaCard { purchase, .. }) => {
                match mousa.buy(&purchase).await {
                    Ok(order) => self.bought(&entry, order).await,
                    Err(err) => self.failed(handle, &entry, err).await,
                }
            }
            (Supplier::Cryptorefills(cr), Prepared::Cryptorefills { purchase }) => {
                match cr.create(&purchase).await {
                    Ok(order) => self.bought(&entry, order).await,
                    Err(err) => self.failed(handle, &entry, err).await,
                }
            }
            _ => unreachable!("prepared for the same supplier"),
        }
    }

    /// Pays a FoxReload order the journal holds as `created`.
    async fn pay_created(
        &self,
        fox: &foxreload::FoxReload,
        entry: Entry,
    ) -> Result<Receipt, Error> {
        let handle = Supplier::FoxReload(fox);
        let order_id = entry.order_id.clone().unwrap_or_default();
        match fox.pay(&order_id).await {
            Ok(mut order) => {
                order.idempotency_key = entry.idempotency_key.clone();
                self.bought(&entry, order).await
            }
            Err(err) => self.failed(handle, &entry, err).await,
        }
    }

    /// A purchase request failed: records and settles it, then answers the caller.
    async fn failed(
        &self,
        handle: Supplier<'_>,
        entry: &Entry,
        err: Error,
    ) -> Result<Receipt, Error> {
        let entry = self.after_failure(handle, entry, err).await?;
        self.finish(handle, entry).await
    }

    /// A purchase request failed. A refusal is recorded as it is (`failed`, or still
    /// `created` for a FoxReload order whose payment was refused) and returned; an
    /// unknown outcome is recorded `unknown` and settled at once. Returns the entry to
    /// finish from.
    async fn after_failure(
        &self,
        handle: Supplier<'_>,
        entry: &Entry,
        err: Error,
    ) -> Result<Entry, Error> {
        if let Error::AmbiguousPurchase { cause, .. } = &err {
            let entry = self
                .record_sent(entry, Progress::to(State::Unknown).detail(cause.clone()))
                .await;
            return Ok(self.settle_after(handle, entry, Some(cause)).await);
        }
        let state = match entry.state {
            State::Created => State::Created,
            _ => State::Failed,
        };
        let detail = format!("refused: {err}");
        self.record_sent(entry, Progress::to(state).detail(detail))
            .await;
        if state == State::Created {
            self.journal()?.release(entry).await?;
        }
        Err(err)
    }

    /// The caller's answer for a settled entry.
    async fn finish(&self, handle: Supplier<'_>, entry: Entry) -> Result<Receipt, Error> {
        let supplier = handle.id();
        match entry.state {
            State::Bought => {
                let order = replay(handle, &entry).await?;
                Ok(Receipt {
                    replayed: false,
                    ..order
                })
            }
            State::NotBought | State::Failed | State::Created => {
                if !entry.state.is_resolved() {
                    self.journal()?.release(&entry).await?;
                }
                Err(Error::NotBought {
                    supplier,
                    reference: entry.reference.clone(),
                    order_id: entry.order_id.clone(),
                    reason: entry.detail.clone().unwrap_or_default(),
                })
            }
            State::Sending | State::Unknown => {
                self.journal()?.release(&entry).await?;
                Err(unresolved(&entry, supplier))
            }
        }
    }

    async fn bought(&self, entry: &Entry, order: Order) -> Result<Receipt, Error> {
        self.record_answered(entry, Progress::to(State::Bought).order_id(&order.id))
            .await;
        Ok(Receipt {
            reference: entry.reference.clone(),
            order,
            replayed: false,
        })
    }

    /// Records what a purchase request's answer showed, without waiting for the write
    /// (see [`Journal::record_without_waiting`]): the answer is in hand, so a record
    /// lost to a crash leaves an unresolved entry that a reconcile settles.
    async fn record_answered(&self, entry: &Entry, progress: Progress) -> Entry {
        match self.journal() {
            Ok(journal) => journal.record_without_waiting(entry, progress).await,
            Err(_) => entry.with_progress(&progress, chrono::Utc::now()),
        }
    }

    /// Records progress after a purchase request was sent and waits for it (see
    /// [`Journal::record_or_log`]: a journal failure is logged, never returned).
    async fn record_sent(&self, entry: &Entry, progress: Progress) -> Entry {
        match self.journal() {
            Ok(journal) => journal.record_or_log(entry, progress).await,
            Err(_) => entry.with_progress(&progress, chrono::Utc::now()),
        }
    }

    /// Reconciles one held entry and records the finding; an entry that cannot be
    /// settled now (the supplier did not answer) stays as it was, with why.
    pub(crate) async fn settle(&self, handle: Supplier<'_>, entry: Entry) -> Entry {
        self.settle_after(handle, entry, None).await
    }

    /// [`Self::settle`] right after a failure: an outcome still unknown keeps the
    /// failure's `cause` in front of what the reconcile found.
    async fn settle_after(&self, handle: Supplier<'_>, entry: Entry, cause: Option<&str>) -> Entry {
        let mut finding = match crate::reconcile::find(self, handle, &entry).await {
            Ok(finding) => finding,
            Err(err) => crate::reconcile::Finding {
                state: entry.state,
                order_id: None,
                detail: format!("reconcile failed: {err}"),
            },
        };
        if let Some(cause) = cause.filter(|_| !finding.state.is_resolved()) {
            finding.detail = format!("{cause}; {}", finding.detail);
        }
        self.record_sent(&entry, finding.into_progress()).await
    }
}

/// A sent purchase's result, counted by outcome; an unknown outcome is logged (an
/// operator settles it with `reconcile`).
fn observed(
    supplier: SupplierId,
    reference: &str,
    result: Result<Receipt, Error>,
) -> Result<Receipt, Error> {
    let outcome = match &result {
        Ok(_) => "bought",
        Err(Error::AmbiguousPurchase {
            operation, cause, ..
        }) => {
            tracing::error!(
                supplier = supplier.as_str(),
                operation = *operation,
                reference,
                cause = %cause,
                "purchase outcome unknown: journaled, settle it with `suppliers reconcile`; never buy it again under a new reference"
            );
            "ambiguous"
        }
        Err(err) if err.is_refusal() => "refused",
        Err(_) => "failed",
    };
    crate::metrics::record_purchase(supplier, outcome);
    result
}

/// The recorded order, fetched again from the supplier.
async fn replay(handle: Supplier<'_>, entry: &Entry) -> Result<Receipt, Error> {
    let order_id = entry.order_id.as_deref().ok_or_else(|| {
        Error::Journal(suppliers_journal::JournalError::Corrupt {
            location: String::new(),
            message: format!(
                "reference {} is bought but has no order id",
                entry.reference
            ),
        })
    })?;
    let mut order = handle.order(order_id).await?;
    if order.idempotency_key.is_none() {
        order.idempotency_key = entry.idempotency_key.clone();
    }
    Ok(Receipt {
        reference: entry.reference.clone(),
        order,
        replayed: true,
    })
}

fn unresolved(entry: &Entry, supplier: SupplierId) -> Error {
    let reconcile = match supplier {
        SupplierId::FoxReload => crate::error::Reconcile::FoxReloadRecentOrders {
            order_id: entry.order_id.clone(),
            idempotency_key: entry.idempotency_key.clone(),
        },
        SupplierId::MousaCard => crate::error::Reconcile::MousaCardOrderStatus,
        SupplierId::Cryptorefills => crate::error::Reconcile::CryptorefillsOrders,
    };
    Error::AmbiguousPurchase {
        supplier,
        operation: "buy",
        cause: entry
            .detail
            .clone()
            .unwrap_or_else(|| "no answer".to_owned()),
        reconcile,
        reference: Some(entry.reference.clone()),
    }
}

fn checked_reference(supplier: SupplierId, reference: &str) -> Result<String, Error> {
    let reference = reference.trim();
    if reference.is_empty()
        || reference.len() > MAX_REFERENCE_LEN
        || reference.chars().any(char::is_control)
    {
        return Err(Error::rejected(
            supplier,
            "reference",
            format!("a reference is 1 to {MAX_REFERENCE_LEN} printable characters"),
        ));
    }
    Ok(reference.to_owned())
}

fn check_same(entry: &Entry, request: &BuyRequest, supplier: SupplierId) -> Result<(), Error> {
    if entry.product_id == request.product_id && entry.quantity == request.quantity {
        return Ok(());
    }
    Err(Error::ReferenceConflict {
        supplier,
        reference: entry.reference.clone(),
        product_id: entry.product_id.clone(),
        quantity: entry.quantity,
    })
}

/// Every check and read before a purchase; nothing is bought here.
async fn prepare(handle: Supplier<'_>, request: &BuyRequest) -> Result<Prepared, Error> {
    Ok(match handle {
        Supplier::FoxReload(fox) => Prepared::FoxReload {
            items: fox.checked_items(&[fox_line(request)]).await?,
            idempotency_key: uuid::Uuid::new_v4().to_string(),
        },
        Supplier::MousaCard(mousa) => {
            let purchase = mousa_purchase(request)?;
            let product = mousa.product(&request.product_id).await?;
            mousacard::MousaCard::check(&purchase, &product)?;
            Prepared::MousaCard {
                purchase,
                balance: mousa.balance().await?,
            }
        }
        Supplier::Cryptorefills(cr) => {
            let purchase = request.cryptorefills()?;
            cr.check_purchase(&purchase).await?;
            Prepared::Cryptorefills { purchase }
        }
    })
}

/// Field names that may hold a secret: never journaled.
const SECRET_WORDS: [&str; 6] = ["pass", "secret", "token", "pin", "cvv", "otp"];

/// The request's stable facts, for the journal: no secrets.
fn facts(request: &BuyRequest) -> serde_json::Value {
    let fields: BTreeMap<&String, &String> = request
        .fields
        .iter()
        .filter(|(name, _)| {
            let name = name.to_lowercase();
            !SECRET_WORDS.iter().any(|word| name.contains(word))
        })
        .collect();
    let mut facts = serde_json::json!({ "fields": fields });
    let optional = [
        ("beneficiary", request.beneficiary.clone()),
        ("email", request.email.clone()),
        ("coin", request.coin.clone()),
        ("network", request.network.clone()),
        ("amount", request.amount.map(|a| a.to_string())),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            facts[name] = serde_json::Value::String(value);
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_keep_what_identifies_a_purchase_and_drop_secrets() {
        let mut request = BuyRequest::new("12310", 1);
        request.fields.insert("playerid".into(), "12345678".into());
        request
            .fields
            .insert("account_password".into(), "hunter2".into());
        request.fields.insert("PIN".into(), "0000".into());
        request.email = Some("user@example.com".into());
        let facts = facts(&request);
        assert_eq!(
            facts,
            serde_json::json!({"fields": {"playerid": "12345678"}, "email": "user@example.com"})
        );
    }

    #[test]
    fn references_are_printable_and_bounded() {
        let supplier = SupplierId::MousaCard;
        assert_eq!(checked_reference(supplier, " inv-1 ").unwrap(), "inv-1");
        for bad in ["", "  ", "a\nb", &"x".repeat(MAX_REFERENCE_LEN + 1)] {
            assert!(checked_reference(supplier, bad).is_err(), "{bad:?}");
        }
    }
}
