//! Reconcile: settle journal entries whose outcome is unknown, from what each supplier
//! can tell, and say how it is known.
//!
//! - FoxReload charges at `pay`. A known order is read (`paid`, `processing`,
//!   `completed`: bought; `active`: created, not paid); an unknown create is looked for
//!   among the orders created since the purchase began (same items, an id the journal
//!   does not know): none, not created; one, and no identical purchase in flight, that
//!   order; otherwise, if none of them is paid, not bought (only the purchase that got
//!   an order's id can pay it, so this one charged nothing and its order expires
//!   unpaid), else unknown.
//! - MousaCard charges at create and has no order list. Its order ids are sequential
//!   and other accounts' orders answer `not_found`, so the batch status endpoint is
//!   probed over the ids the journal's own orders leave possible (see `mousacard_ids`)
//!   for an order of this product and quantity. Found: bought. Not found among every id
//!   it could have: not bought. Otherwise the outcome stays unknown, with the balance
//!   change since the purchase began.
//! - Cryptorefills charges only when the customer pays the order's wallet address. A
//!   create whose answer never arrived cannot be paid: not bought.

mod mousacard_ids;

use std::collections::HashSet;

use serde::Serialize;
use suppliers_journal::{Entry, Progress, State};

use crate::adapters::foxreload;
use crate::error::Error;
use crate::facade::Suppliers;
use crate::model::{Order, OrderStatus, SupplierId};
use crate::supplier::Supplier;

/// Clock difference tolerated between this machine and FoxReload's `createdAt`.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// What a reconcile found about one purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The state it is in.
    pub state: State,
    /// The supplier's order, when one was found.
    pub order_id: Option<String>,
    /// What was found and how it is known.
    pub detail: String,
}

impl Finding {
    fn new(state: State, order_id: Option<String>, detail: impl Into<String>) -> Self {
        Self {
            state,
            order_id,
            detail: detail.into(),
        }
    }

    pub(crate) fn into_progress(self) -> Progress {
        let progress = Progress::to(self.state).detail(self.detail);
        match self.order_id {
            Some(id) => progress.order_id(id),
            None => progress,
        }
    }
}

/// One line of [`Suppliers::reconcile`]'s report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconciled {
    /// The state before.
    pub before: State,
    /// The entry as it is now (its `detail` says what was found and how).
    pub entry: Entry,
    /// False when the entry was left alone: another live process holds it, or its
    /// supplier is not configured here (`detail` says which).
    pub settled: bool,
}

impl Suppliers {
    /// Journal entries not yet `bought`, `not_bought` or `failed`, oldest first.
    pub async fn pending(&self) -> Result<Vec<Entry>, Error> {
        Ok(self.journal()?.unresolved().await?)
    }

    /// Whether another live process is working on `entry` now.
    pub fn held_elsewhere(&self, entry: &Entry) -> bool {
        self.journal().is_ok_and(|j| j.held_elsewhere(entry))
    }

    /// Settles every pending entry the supplier can tell about; see the module docs for
    /// each supplier's rule. Nothing is bought here: a FoxReload order found `created`
    /// is paid by buying again with its reference.
    pub async fn reconcile(&self) -> Result<Vec<Reconciled>, Error> {
        let journal = self.journal()?;
        let mut report = Vec::new();
        for entry in journal.unresolved().await? {
            let before = entry.state;
            let left = |mut entry: Entry, why: String| {
                entry.detail = Some(why);
                Reconciled {
                    before,
                    entry,
                    settled: false,
                }
            };
            let handle = match entry.supplier.parse::<SupplierId>() {
                Ok(id) => match self.get(id) {
                    Ok(handle) => handle,
                    Err(err) => {
                        report.push(left(entry, err.to_string()));
                        continue;
                    }
                },
                Err(_) => {
                    let why = format!("unknown supplier {:?}", entry.supplier);
                    report.push(left(entry, why));
                    continue;
                }
            };
            let owner = entry.owner.clone().unwrap_or_default();
            let (taken, _hold) = match journal.take(&entry).await? {
                Some(taken) => taken,
                None => {
                    report.push(left(entry, format!("in progress in {owner}")));
                    continue;
                }
            };
            let settled = self.settle(handle, taken).await;
            if !settled.state.is_resolved() {
                journal.release(&settled).await?;
            }
            report.push(Reconciled {
                before,
                entry: settled,
                settled: true,
            });
        }
        Ok(report)
    }
}

/// What the supplier says about `entry`'s purchase.
pub(crate) async fn find(
    suppliers: &Suppliers,
    handle: Supplier<'_>,
    entry: &Entry,
) -> Result<Finding, Error> {
    let journal = suppliers.journal()?;
    match handle {
        Supplier::FoxReload(fox) => {
            if let Some(id) = &entry.order_id {
                let order = fox.order(id).await?;
                return Ok(fox_finding(&order, entry, "read the order"));
            }
            let known: HashSet<String> = journal
                .known_orders(SupplierId::FoxReload.as_str())
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            let since = entry.started_at - CLOCK_SKEW;
            let recent = fox.orders_since(since, None).await?;
            let looked_at = recent.len();
            let matching: Vec<_> = recent
                .into_iter()
                .filter(|order| !known.contains(&order.id) && same_items(order, entry))
                .collect();
            match matching.as_slice() {
                [] => Ok(Finding::new(
                    State::NotBought,
                    None,
                    format!(
                        "no order of {} x {} was created since {} ({looked_at} orders looked at): the create never reached FoxReload",
                        entry.quantity,
                        entry.product_id,
                        since.to_rfc3339()
                    ),
                )),
                [order] if !identical_in_flight(journal, entry).await? => {
                    let order = foxreload::normalise(order.clone());
                    Ok(fox_finding(
                        &order,
                        entry,
                        "found among the recent orders (same items, created after the purchase began)",
                    ))
                }
                candidates => {
                    let ids = candidates
                        .iter()
                        .map(|o| o.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    let paid = candidates.iter().any(|order| {
                        !matches!(
                            foxreload::normalise(order.clone()).status,
                            OrderStatus::AwaitingPayment
                                | OrderStatus::Cancelled
                                | OrderStatus::Expired
                        )
                    });
                    Ok(if paid {
                        Finding::new(
                            State::Unknown,
                            None,
                            format!(
                                "{} recent orders match these items ({ids}), one of them paid; cannot tell which is this purchase",
                                candidates.len()
                            ),
                        )
                    } else {
                        // Only the purchase that got an order's id can pay it, and this
                        // one never got one: whichever order is its own expires unpaid.
                        Finding::new(
                            State::NotBought,
                            None,
                            format!(
                                "the create's answer never arrived, and the {} unpaid orders of these items the journal does not know ({ids}) may be another purchase's; none was paid for this one, which never got an order id, so nothing was charged (its order, if one of them, expires unpaid)",
                                candidates.len()
                            ),
                        )
                    })
                }
            }
        }
        Supplier::MousaCard(mousa) => {
            if let Some(id) = &entry.order_id {
                let order = handle.order(id).await?;
                return Ok(Finding::new(
                    State::Bought,
                    Some(order.id.clone()),
                    format!("order {} exists ({})", order.id, order.supplier_status),
                ));
            }
            let balance = balance_change(mousa, entry).await;
            // Where to look, from the journal as it is now.
            let before = mousacard_entries(journal).await?;
            let Some(own) = mousacard_ids::bounds(entry, &before) else {
                return Ok(Finding::new(
                    State::Unknown,
                    None,
                    format!("the journal knows no earlier MousaCard order to count from{balance}"),
                ));
            };
            let (first, end) = mousacard_ids::span(&mousacard_ids::group(
                (entry, own),
                &mousacard_ids::peers(entry, &before),
            ));
            if end - first > mousacard_ids::MAX_SPAN {
                return Ok(Finding::new(
                    State::Unknown,
                    None,
                    format!(
                        "ids {first} to {} could hold this order, more than {} to look at{balance}",
                        end - 1,
                        mousacard_ids::MAX_SPAN
                    ),
                ));
            }
            let ids: Vec<u64> = (first..end).collect();
            let matching: Vec<u64> = mousa
                .statuses(&ids)
                .await?
                .iter()
                .filter(|item| {
                    item.status != ::mousacard::types::OrderStatusItemStatus::NotFound
                        && item.product_id.as_deref() == Some(entry.product_id.as_str())
                        && item.quantity.and_then(|q| u64::try_from(q).ok()) == Some(entry.quantity)
                })
                .filter_map(|item| u64::try_from(item.order_id).ok())
                .collect();
            // Whose they are, from the journal read after the probe: a purchase whose
            // order the probe saw had claimed its entry before, so it is in there (in
            // flight, or with its order id).
            let entries = mousacard_entries(journal).await?;
            let own = mousacard_ids::bounds(entry, &entries).unwrap_or(own);
            let peers = mousacard_ids::peers(entry, &entries);
            let group = mousacard_ids::group((entry, own), &peers);
            if let Some((busy, _)) = group
                .iter()
                .skip(1)
                .find(|(peer, _)| journal.held_elsewhere(peer))
            {
                return Ok(Finding::new(
                    State::Unknown,
                    None,
                    format!(
                        "purchase {} of the same {} x {} is in flight; reconcile once it ends{balance}",
                        busy.reference, entry.quantity, entry.product_id
                    ),
                ));
            }
            if group.len() > 1 && entry.state == State::Sending {
                return Ok(Finding::new(
                    State::Unknown,
                    None,
                    format!(
                        "{} purchases of {} x {} lost their answers together; `suppliers reconcile` settles them together{balance}",
                        group.len(),
                        entry.quantity,
                        entry.product_id
                    ),
                ));
            }
            let (group_first, group_end) = mousacard_ids::span(&group);
            if group_first < first || group_end > end {
                return Ok(Finding::new(
                    State::Unknown,
                    None,
                    format!(
                        "the journal changed while MousaCard was asked; reconcile again{balance}"
                    ),
                ));
            }
            let known: HashSet<u64> = entries
                .iter()
                .filter_map(|e| e.order_id.as_deref()?.parse().ok())
                .collect();
            let found: Vec<u64> = matching
                .into_iter()
                .filter(|id| !known.contains(id))
                .collect();
            let bounds: Vec<mousacard_ids::Bounds> = group.iter().map(|(_, b)| *b).collect();
            let got = mousacard_ids::matched(&bounds, &found)[0];
            let range = format!(
                "ids {} to {} the journal does not know",
                own.floor + 1,
                own.end() - 1
            );
            let together = match group.len() {
                1 => String::new(),
                n => format!(
                    "; {n} purchases of these goods lost their answers together and were matched to the {} orders found in id order",
                    found.len()
                ),
            };
            Ok(match (got, own.ceiling) {
                (Some(id), _) => Finding::new(
                    State::Bought,
                    Some(id.to_string()),
                    format!(
                        "order {id} of {} x {} found by probing {range}{together}",
                        entry.quantity, entry.product_id
                    ),
                ),
                (None, Some(_)) => Finding::new(
                    State::NotBought,
                    None,
                    format!(
                        "no order of {} x {} among {range}, which are all the ids it could have{together}: the create never reached MousaCard{balance}",
                        entry.quantity, entry.product_id
                    ),
                ),
                (None, None) => Finding::new(
                    State::Unknown,
                    None,
                    format!(
                        "no order of {} x {} among {range}{together}, and no later purchase bounds the ids it could have{balance}",
                        entry.quantity, entry.product_id
                    ),
                ),
            })
        }
        Supplier::Cryptorefills(_) => {
            if let Some(id) = &entry.order_id {
                let order = handle.order(id).await?;
                return Ok(Finding::new(
                    State::Bought,
                    Some(order.id.clone()),
                    format!("order {} exists ({})", order.id, order.supplier_status),
                ));
            }
            Ok(Finding::new(
                State::NotBought,
                None,
                "the create's answer never arrived, so the order's wallet address is unknown and it cannot be paid; an unpaid Cryptorefills order costs nothing and expires at the supplier",
            ))
        }
    }
}

/// Whether another purchase of the same items whose order is not yet known is in flight
/// (held by a live process): its order may be the one a search finds.
async fn identical_in_flight(
    journal: &suppliers_journal::Journal,
    entry: &Entry,
) -> Result<bool, Error> {
    Ok(journal.unresolved().await?.iter().any(|other| {
        other.supplier == entry.supplier
            && other.reference != entry.reference
            && other.product_id == entry.product_id
            && other.quantity == entry.quantity
            && other.order_id.is_none()
            && journal.held_elsewhere(other)
    }))
}

/// The journal's MousaCard entries.
async fn mousacard_entries(journal: &suppliers_journal::Journal) -> Result<Vec<Entry>, Error> {
    Ok(journal
        .all_entries()
        .await?
        .into_iter()
        .filter(|e| e.supplier == SupplierId::MousaCard.as_str())
        .collect())
}

/// A FoxReload order's state, as the journal records it.
fn fox_finding(order: &Order, entry: &Entry, how: &str) -> Finding {
    let id = Some(order.id.clone());
    let status = &order.supplier_status;
    match order.status {
        OrderStatus::Processing | OrderStatus::Completed => Finding::new(
            State::Bought,
            id,
            format!("order {} is {status}: paid ({how})", order.id),
        ),
        OrderStatus::AwaitingPayment => Finding::new(
            State::Created,
            id,
            format!(
                "order {} is active: created, not paid ({how}); `suppliers buy --reference {}` pays it",
                order.id, entry.reference
            ),
        ),
        OrderStatus::Cancelled | OrderStatus::Expired => Finding::new(
            State::NotBought,
            id,
            format!("order {} is {status}: never paid ({how})", order.id),
        ),
        OrderStatus::Failed | OrderStatus::Refunded => Finding::new(
            State::Failed,
            id,
            format!("order {} is {status} ({how})", order.id),
        ),
        OrderStatus::Pending | OrderStatus::Unknown => Finding::new(
            State::Unknown,
            id,
            format!(
                "order {} is {status}, a state this SDK cannot read ({how})",
                order.id
            ),
        ),
    }
}

/// One line of this product and quantity, as the journal's purchases are.
fn same_items(order: &::foxreload::types::Order, entry: &Entry) -> bool {
    matches!(order.items.as_slice(), [item]
        if item.product.id == entry.product_id
            && u64::try_from(item.quantity).ok() == Some(entry.quantity))
}

/// `; balance 100 -> 95 USD (-5) since the purchase began`, or empty.
async fn balance_change(mousa: &crate::adapters::mousacard::MousaCard, entry: &Entry) -> String {
    let Some(before) = entry.balance_before else {
        return String::new();
    };
    match mousa.balance().await {
        Ok(now) => format!(
            "; balance {before} -> {} {} ({:+}) since the purchase began",
            now.amount,
            now.currency,
            now.amount - before
        ),
        Err(err) => format!("; balance before was {before}, now unreadable ({err})"),
    }
}
