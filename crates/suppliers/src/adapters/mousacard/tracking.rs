//! Following orders: one read, the 50-id batch status, waits (one order or many,
//! sharing batch requests), and the normalised order.

use std::collections::{BTreeMap, BTreeSet};

use mousacard::types;
use rust_decimal::Decimal;

use super::{MAX_BATCH, MousaCard, SUPPLIER, op};
use crate::error::Error;
use crate::model::{Delivery, Order, OrderStatus, SubscriptionAccount};
use crate::retry::Idempotency;
use crate::waiter::WaiterConfig;

/// One order's outcome in a batch wait.
#[derive(Debug, Clone, PartialEq)]
pub enum Tracked {
    /// The order reached a terminal state (completed, rejected, cancelled).
    Finished(Order),
    /// The store does not know the order (or it is not this account's).
    NotFound {
        /// The order id.
        order_id: u64,
        /// The store's message.
        message: String,
    },
    /// Still not finished at the deadline; the last state seen.
    TimedOut(Order),
}

/// Counts of a batch wait, for benchmarks and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Polling rounds made.
    pub rounds: u32,
    /// Orders still open at the start of each round.
    pub open_per_round: Vec<usize>,
    /// Requests sent in each round.
    pub requests_per_round: Vec<usize>,
}

impl MousaCard {
    /// The order as it is now.
    pub async fn order(&self, id: u64) -> Result<Order, Error> {
        let response = self
            .send(op("get_order", "GET", Idempotency::Safe), || {
                self.client.get_order().id(id as i64).send()
            })
            .await?;
        Ok(normalise(response.data))
    }

    /// Any number of orders as they are now (codes included), 50 ids per request;
    /// an id MousaCard does not answer for is left out.
    pub async fn orders_now(&self, ids: &[u64]) -> Result<Vec<Order>, Error> {
        let items = self.statuses(ids).await?;
        Ok(items.into_iter().map(normalise_item).collect())
    }

    /// Statuses of any number of orders, 50 ids per request.
    pub async fn statuses(&self, ids: &[u64]) -> Result<Vec<types::OrderStatusItem>, Error> {
        let mut items = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BATCH) {
            let body = types::OrdersStatusRequest {
                order_ids: chunk.iter().map(|id| *id as i64).collect(),
            };
            let response = self
                .send(op("get_orders_status", "POST", Idempotency::Safe), || {
                    self.client.get_orders_status().body(body.clone()).send()
                })
                .await?;
            items.extend(response.data.orders);
        }
        Ok(items)
    }

    /// Waits for one order (completed, rejected or cancelled) with MousaCard's cadence.
    pub async fn wait_for_order(&self, id: u64, config: WaiterConfig) -> Result<Order, Error> {
        let (mut outcome, _) = self.wait_for_orders(&[id], config).await?;
        match outcome.pop() {
            Some(Tracked::Finished(order)) => Ok(order),
            Some(Tracked::NotFound { message, .. }) => Err(Error::NotFound {
                supplier: SUPPLIER,
                message,
            }),
            Some(Tracked::TimedOut(order)) => Err(Error::WaitTimedOut {
                supplier: SUPPLIER,
                order_id: id.to_string(),
                waited: config.max_wait,
                last_status: Some(order.status),
            }),
            None => unreachable!("one id in, one outcome out"),
        }
    }

    /// Tracks many orders with the batch endpoint: each round asks only for orders not
    /// yet finished, 50 per request (N open orders cost ceil(N/50) requests a round);
    /// `not_found` orders are reported individually and dropped. Outcomes come back in
    /// the order of `ids`.
    pub async fn wait_for_orders(
        &self,
        ids: &[u64],
        config: WaiterConfig,
    ) -> Result<(Vec<Tracked>, BatchStats), Error> {
        let deadline = self.clock.now() + config.max_wait;
        let mut open: BTreeSet<u64> = ids.iter().copied().collect();
        let mut done: BTreeMap<u64, Tracked> = BTreeMap::new();
        let mut last: BTreeMap<u64, Order> = BTreeMap::new();
        let mut stats = BatchStats::default();
        loop {
            let round: Vec<u64> = open.iter().copied().collect();
            stats.rounds += 1;
            stats.open_per_round.push(round.len());
            stats
                .requests_per_round
                .push(round.len().div_ceil(MAX_BATCH));
            for item in self.statuses(&round).await? {
                let id = item.order_id as u64;
                if item.status.as_str() == "not_found" {
                    open.remove(&id);
                    let message = item
                        .error
                        .clone()
                        .unwrap_or_else(|| "order not found".into());
                    done.insert(
                        id,
                        Tracked::NotFound {
                            order_id: id,
                            message,
                        },
                    );
                    continue;
                }
                let order = normalise_item(item);
                if order.status.is_terminal() {
                    open.remove(&id);
                    done.insert(id, Tracked::Finished(order));
                } else {
                    last.insert(id, order);
                }
            }
            let now = self.clock.now();
            if open.is_empty() || now >= deadline {
                break;
            }
            let delay = config
                .delay(stats.rounds, fastrand::f64())
                .min(deadline - now);
            self.clock.sleep(delay).await;
        }
        for id in open {
            let order = last.remove(&id).unwrap_or_else(|| Order {
                supplier: SUPPLIER,
                id: id.to_string(),
                status: OrderStatus::Unknown,
                supplier_status: String::new(),
                total: None,
                currency: None,
                delivery: Delivery::default(),
                payment: None,
                idempotency_key: None,
            });
            done.insert(id, Tracked::TimedOut(order));
        }
        let outcomes = ids.iter().filter_map(|id| done.get(id).cloned()).collect();
        Ok((outcomes, stats))
    }
}

fn account(details: Option<types::SubscriptionDetails>) -> Option<SubscriptionAccount> {
    details.map(|d| SubscriptionAccount {
        email: d.email,
        password: d.password,
        url: d.url,
        notes: d.notes,
    })
}

/// The normalised order.
pub fn normalise(order: types::Order) -> Order {
    normalised(
        order.order_id,
        order.status.as_str(),
        Some(order.total),
        Some(order.currency_name),
        order.codes,
        order.subscription_details,
    )
}

fn normalise_item(item: types::OrderStatusItem) -> Order {
    normalised(
        item.order_id,
        item.status.as_str(),
        item.total,
        item.currency_name,
        item.codes,
        item.subscription_details,
    )
}

fn normalised(
    id: i64,
    status: &str,
    total: Option<Decimal>,
    currency: Option<String>,
    codes: Vec<String>,
    details: Option<types::SubscriptionDetails>,
) -> Order {
    Order {
        supplier: SUPPLIER,
        id: id.to_string(),
        status: OrderStatus::from_mousacard(status),
        supplier_status: status.to_owned(),
        total,
        currency,
        delivery: Delivery {
            codes,
            account: account(details),
            ..Delivery::default()
        },
        payment: None,
        idempotency_key: None,
    }
}
