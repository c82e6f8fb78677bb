//! MousaCard through the facade: catalog, orders paid from the balance, batch status
//! tracking (at most 50 ids a request), and `success: false` treated as the error it is.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use mousacard::types;
use rust_decimal::Decimal;

use crate::error::{Error, Reconcile};
use crate::failure::{Failure, text_at};
use crate::model::{
    Balance, Delivery, Order, OrderStatus, Product, SubscriptionAccount, SupplierId,
};
use crate::pacer::Pacer;
use crate::retry::{self, Idempotency, Operation, RetryPolicy};
use crate::waiter::{Clock, WaiterConfig};

const SUPPLIER: SupplierId = SupplierId::MousaCard;
/// Order ids one `POST /orders/status` accepts.
pub const MAX_BATCH: usize = 50;

/// MousaCard's documented cadence: 2-5 s between polls; give up after 10 minutes.
pub const DEFAULT_WAIT: WaiterConfig = WaiterConfig {
    min_delay: Duration::from_secs(2),
    max_delay: Duration::from_secs(5),
    max_wait: Duration::from_secs(600),
};

fn op(name: &'static str, method: &'static str, idempotency: Idempotency) -> Operation {
    Operation {
        supplier: SUPPLIER,
        name,
        method,
        idempotency,
    }
}

/// What to buy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// Product or variation id.
    pub product_id: u64,
    /// Quantity (the product's `min_quantity`..=`max_quantity`).
    pub quantity: u64,
    /// Custom field values by key (e.g. `playerid`).
    pub custom_fields: BTreeMap<String, String>,
}

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

/// MousaCard, with the facade's retries and error model.
#[derive(Clone)]
pub struct MousaCard {
    client: mousacard::Client,
    retry: RetryPolicy,
    /// Shared by every clone: one pace and one `Retry-After` pause per supplier.
    pacer: Arc<Pacer>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MousaCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MousaCard")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl MousaCard {
    /// Wraps a generated client.
    pub fn new(client: mousacard::Client, retry: RetryPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            retry,
            pacer: Arc::default(),
            clock,
        }
    }

    /// The generated client, for calls the facade does not wrap.
    pub fn client(&self) -> &mousacard::Client {
        &self.client
    }

    /// Sends every request of this adapter (and its clones) at `pacer`'s pace.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    /// Every product (each variation is its own item), optionally of one category.
    /// The store answers the whole list at once.
    pub fn products(
        &self,
        category: Option<String>,
    ) -> impl Stream<Item = Result<Product, Error>> + use<> {
        use futures::TryStreamExt;
        let this = self.clone();
        futures::stream::once(async move {
            let list = this
                .send(op("list_products", "GET", Idempotency::Safe), || {
                    let request = this.client.list_products();
                    match &category {
                        Some(c) => request.category(c.clone()).send(),
                        None => request.send(),
                    }
                })
                .await?;
            Ok::<_, Error>(futures::stream::iter(
                list.data.products.into_iter().map(|p| Ok(summary(p))),
            ))
        })
        .try_flatten()
    }

    /// One product with its variations and custom fields.
    pub async fn product(&self, id: &str) -> Result<types::Product, Error> {
        let response = self
            .send(op("get_product", "GET", Idempotency::Safe), || {
                self.client.get_product().id(id).send()
            })
            .await?;
        Ok(response.data)
    }

    /// Checks quantity bounds and required custom fields against the product, before
    /// anything is sent.
    pub fn check(purchase: &Purchase, product: &types::Product) -> Result<(), Error> {
        let (min, max) = (product.min_quantity, product.max_quantity);
        let quantity = i64::try_from(purchase.quantity).unwrap_or(i64::MAX);
        if quantity < min || quantity > max {
            return Err(Error::rejected(
                SUPPLIER,
                "quantity",
                format!(
                    "quantity must be between {min} and {max}, not {}",
                    purchase.quantity
                ),
            ));
        }
        // A field that does not say whether it is required is required: integrations
        // against the plugin treat it so.
        if let Some(field) = product.custom_fields.iter().find(|f| {
            f.required != Some(false)
                && purchase
                    .custom_fields
                    .get(&f.key)
                    .is_none_or(|v| v.trim().is_empty())
        }) {
            return Err(Error::rejected(
                SUPPLIER,
                &field.key,
                format!("{} ({}) is required", field.label, field.key),
            ));
        }
        Ok(())
    }

    /// Buys from the balance (sent once). Check the purchase with [`Self::check`]
    /// against the product first; [`crate::Suppliers`] does.
    pub async fn buy(&self, purchase: &Purchase) -> Result<Order, Error> {
        let quantity = std::num::NonZeroU64::new(purchase.quantity)
            .ok_or_else(|| Error::rejected(SUPPLIER, "quantity", "quantity must be at least 1"))?;
        let product_id = i64::try_from(purchase.product_id)
            .map_err(|_| Error::rejected(SUPPLIER, "product_id", "product id out of range"))?;
        let body = types::CreateOrderRequest {
            product_id,
            quantity,
            custom_fields: purchase.custom_fields.clone().into_iter().collect(),
        };
        let created = self
            .send(op("create_order", "POST", Idempotency::Purchase), || {
                self.client.create_order().body(body.clone()).send()
            })
            .await?
            .data;
        Ok(Order {
            supplier: SUPPLIER,
            id: created.order_id.to_string(),
            status: OrderStatus::from_mousacard(created.status.as_str()),
            supplier_status: created.status.to_string(),
            total: Some(created.total),
            currency: Some(created.currency_name),
            delivery: Delivery {
                codes: created.codes,
                ..Delivery::default()
            },
            payment: None,
            idempotency_key: None,
        })
    }

    /// The order as it is now.
    pub async fn order(&self, id: u64) -> Result<Order, Error> {
        let response = self
            .send(op("get_order", "GET", Idempotency::Safe), || {
                self.client.get_order().id(id as i64).send()
            })
            .await?;
        Ok(normalise(response.data))
    }

    /// The account balance.
    pub async fn balance(&self) -> Result<Balance, Error> {
        let balance = self
            .send(op("get_balance", "GET", Idempotency::Safe), || {
                self.client.get_balance().send()
            })
            .await?
            .data;
        Ok(Balance {
            supplier: SUPPLIER,
            amount: balance.balance,
            currency: balance.currency_name,
        })
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

    async fn send<T, E, F, Fut>(&self, operation: Operation, call: F) -> Result<T, Error>
    where
        T: Envelope,
        E: serde::Serialize,
        F: FnMut() -> Fut,
        Fut: std::future::Future<
                Output = Result<progenitor_client::ResponseValue<T>, mousacard::Error<E>>,
            >,
    {
        match retry::send(&self.retry, &self.pacer, operation, call).await {
            Ok(response) if response.succeeded() => Ok(response.into_inner()),
            // `success: false` next to a decodable `data`: the store says it failed
            // without saying why.
            Ok(response) => Err(interpret(
                Failure::Undecodable {
                    status: Some(response.status().as_u16()),
                    message: "the store answered success: false without an error".into(),
                    body: bytes::Bytes::new(),
                },
                operation,
            )),
            Err(failure) => Err(interpret(failure, operation)),
        }
    }
}

/// Every MousaCard answer is an envelope whose `success` must be true.
trait Envelope {
    fn succeeded(&self) -> bool;
}

macro_rules! envelopes {
    ($($envelope:ty),* $(,)?) => {
        $(impl Envelope for $envelope {
            fn succeeded(&self) -> bool {
                self.success
            }
        })*
    };
}

envelopes!(
    types::ProductListResponse,
    types::ProductResponse,
    types::CategoryListResponse,
    types::CreateOrderResponse,
    types::OrderResponse,
    types::OrdersStatusResponse,
    types::BalanceResponse,
);

/// MousaCard's `{"success": false, "error": {code, message, ...}}`, whatever the HTTP
/// status (it is sometimes 200, which the generated client sees as an undecodable body).
fn interpret(failure: Failure, operation: Operation) -> Error {
    let reconcile = Reconcile::MousaCardOrderStatus;
    let body = match &failure {
        Failure::Http { body, .. } => body.clone(),
        Failure::Undecodable { body, .. } => serde_json::from_slice(body).ok(),
        Failure::Transport { .. } | Failure::TooLarge(_) => None,
    };
    let is_error_envelope = body
        .as_ref()
        .is_some_and(|b| b.get("success") == Some(&serde_json::Value::Bool(false)));
    let code = text_at(&body, "/error/code");
    if !is_error_envelope || code.is_none() {
        return wordpress_error(&body).unwrap_or_else(|| failure.into_error(operation, reconcile));
    }
    let message = text_at(&body, "/error/message").unwrap_or_default();
    let amount = |pointer| {
        body.as_ref()?
            .pointer(pointer)
            .and_then(|v| serde_json::from_value::<Decimal>(v.clone()).ok())
    };
    let code = code.expect("checked above");
    match types::ErrorCode::from(code.as_str()) {
        types::ErrorCode::Unauthorized => Error::Unauthorized {
            supplier: SUPPLIER,
            message,
        },
        types::ErrorCode::Forbidden | types::ErrorCode::PurchaseDisabled => Error::Forbidden {
            supplier: SUPPLIER,
            code: Some(code),
            message,
        },
        types::ErrorCode::NotFound => Error::NotFound {
            supplier: SUPPLIER,
            message,
        },
        types::ErrorCode::InvalidRequest => Error::InvalidRequest {
            supplier: SUPPLIER,
            field: None,
            message,
            sent: true,
        },
        types::ErrorCode::InsufficientBalance => Error::InsufficientBalance {
            supplier: SUPPLIER,
            required: amount("/error/required"),
            available: amount("/error/available"),
            currency: text_at(&body, "/error/currency"),
        },
        types::ErrorCode::Unavailable => Error::Unavailable {
            supplier: SUPPLIER,
            message,
        },
        types::ErrorCode::InsufficientStock => Error::OutOfStock {
            supplier: SUPPLIER,
            message,
        },
        types::ErrorCode::StoreClosed => Error::StoreClosed {
            supplier: SUPPLIER,
            message,
        },
        // `ErrorCode` is non-exhaustive: a code the spec adds later lands here too.
        types::ErrorCode::SystemError | types::ErrorCode::Unknown(_) | _ => {
            failure.into_error(operation, reconcile)
        }
    }
}

/// WordPress's own error body, `{code, message, data: {status}}` (unknown routes,
/// `rest_forbidden`...), which the store's envelope does not cover. It may arrive on a
/// status the spec declares, so the generated client could not decode it.
fn wordpress_error(body: &Option<serde_json::Value>) -> Option<Error> {
    let status = body.as_ref()?.pointer("/data/status")?.as_u64()?;
    let code = text_at(body, "/code")?;
    let message = format!("{} ({code})", text_at(body, "/message").unwrap_or_default());
    if let Some(error) = Error::for_status(SUPPLIER, status as u16, message.clone()) {
        return Some(match error {
            Error::Forbidden {
                supplier, message, ..
            } => Error::Forbidden {
                supplier,
                code: Some(code),
                message,
            },
            other => other,
        });
    }
    Some(match status {
        400 => Error::InvalidRequest {
            supplier: SUPPLIER,
            field: None,
            message,
            sent: true,
        },
        status => Error::UnexpectedResponse {
            supplier: SUPPLIER,
            status: status as u16,
            excerpt: message,
        },
    })
}

fn summary(p: types::ProductSummary) -> Product {
    Product {
        supplier: SUPPLIER,
        id: p.id,
        name: p.name,
        price: Some(p.price),
        currency: Some(p.currency_name),
        available: p.available,
        min_quantity: u64::try_from(p.min_quantity).ok(),
        max_quantity: u64::try_from(p.max_quantity).ok(),
        required_fields: Vec::new(),
        amount_range: None,
    }
}

/// The normalised form of a single product (`GET /products/{id}`).
pub fn product_of(p: types::Product) -> Product {
    Product {
        supplier: SUPPLIER,
        id: p.id,
        name: p.name,
        price: Some(p.price),
        currency: Some(p.currency_name),
        available: p.available,
        min_quantity: u64::try_from(p.min_quantity).ok(),
        max_quantity: u64::try_from(p.max_quantity).ok(),
        required_fields: p
            .custom_fields
            .into_iter()
            .filter(|f| f.required != Some(false))
            .map(|f| f.key)
            .collect(),
        amount_range: None,
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
