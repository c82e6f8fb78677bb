//! FoxReload through the facade: catalog streams, orders created and paid exactly once,
//! waiting by polling (FoxReload has no webhooks), balances.

use std::sync::Arc;

use foxreload::types;
use futures::Stream;
use rust_decimal::Decimal;

use crate::error::{Error, Reconcile};
use crate::failure::{Failure, text_at};
use crate::model::{Balance, Delivery, Order, OrderStatus, Product, SupplierId};
use crate::paging::{next_offset, walk};
use crate::retry::{self, Idempotency, Operation, RetryPolicy};
use crate::waiter::{self, Acceptance, Clock, WaitError, WaiterConfig};

const SUPPLIER: SupplierId = SupplierId::FoxReload;
/// Items per order the API accepts.
pub const MAX_ITEMS: usize = 10;
const PAGE_SIZE: u64 = 100;

/// One line of a FoxReload order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// Product id (`product_<ulid>`), the `itemId`.
    pub product_id: String,
    /// Quantity, at least 1.
    pub quantity: u64,
}

/// FoxReload's waiting cadence: poll every 2-10 s, for up to 10 minutes.
pub const DEFAULT_WAIT: WaiterConfig = WaiterConfig {
    min_delay: std::time::Duration::from_secs(2),
    max_delay: std::time::Duration::from_secs(10),
    max_wait: std::time::Duration::from_secs(600),
};

/// FoxReload, with the facade's retries and error model.
#[derive(Clone)]
pub struct FoxReload {
    client: foxreload::Client,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for FoxReload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoxReload")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

fn op(name: &'static str, idempotency: Idempotency) -> Operation {
    Operation {
        supplier: SUPPLIER,
        name,
        idempotency,
    }
}

impl FoxReload {
    /// Wraps a generated client.
    pub fn new(client: foxreload::Client, retry: RetryPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            retry,
            clock,
        }
    }

    /// The generated client, for calls the facade does not wrap.
    pub fn client(&self) -> &foxreload::Client {
        &self.client
    }

    /// Every product of a category (or of the whole catalog), page by page, lazily.
    pub fn products(
        &self,
        category: Option<String>,
    ) -> impl Stream<Item = Result<Product, Error>> + use<> {
        let this = self.clone();
        walk(0u64, move |offset| {
            let this = this.clone();
            let category = category.clone();
            async move {
                let page = this
                    .send(op("list_products", Idempotency::Safe), || {
                        let request = this.client.list_products().limit(PAGE_SIZE).offset(offset);
                        match &category {
                            Some(c) => request.category_id_or_slug(c.clone()).send(),
                            None => request.send(),
                        }
                    })
                    .await?;
                let next = next_offset(offset, page.items.len(), u64::try_from(page.total).ok());
                Ok((page.items.into_iter().map(product).collect(), next))
            }
        })
    }

    /// Every product matching `query`, lazily.
    pub fn search(&self, query: String) -> impl Stream<Item = Result<Product, Error>> + use<> {
        let this = self.clone();
        walk(0u64, move |offset| {
            let this = this.clone();
            let query = query.clone();
            async move {
                let page = this
                    .send(op("search_products", Idempotency::Safe), || {
                        this.client
                            .search_products()
                            .query(query.clone())
                            .limit(PAGE_SIZE)
                            .offset(offset)
                            .send()
                    })
                    .await?;
                let next = next_offset(offset, page.items.len(), u64::try_from(page.total).ok());
                Ok((page.items.into_iter().map(product).collect(), next))
            }
        })
    }

    /// One product by id. FoxReload has no product endpoint: this searches for the id
    /// and keeps the exact match.
    pub async fn product(&self, id: &str) -> Result<Product, Error> {
        use futures::TryStreamExt;
        let found = self
            .search(id.to_owned())
            .try_filter(|p| std::future::ready(p.id == id));
        futures::pin_mut!(found);
        found.try_next().await?.ok_or_else(|| Error::NotFound {
            supplier: SUPPLIER,
            message: format!("no product {id}"),
        })
    }

    /// The order as it is now.
    pub async fn order(&self, id: &str) -> Result<Order, Error> {
        let order = self
            .send(op("get_order", Idempotency::Safe), || {
                self.client.get_order().order_id(id).send()
            })
            .await?;
        Ok(normalise(order))
    }

    /// Recent orders, newest first, optionally with one status.
    pub async fn orders(
        &self,
        status: Option<types::OrderStatus>,
        limit: u64,
    ) -> Result<Vec<Order>, Error> {
        let page = self
            .send(op("list_orders", Idempotency::Safe), || {
                let request = self.client.list_orders().limit(limit);
                match &status {
                    Some(s) => request.status(s.clone()).send(),
                    None => request.send(),
                }
            })
            .await?;
        Ok(page.items.into_iter().map(normalise).collect())
    }

    /// Creates the order and pays it from the balance. Each request is sent once; if
    /// either may have reached FoxReload without an answer, the error is
    /// [`Error::AmbiguousPurchase`] (with the order id once it is known).
    pub async fn buy(
        &self,
        lines: &[OrderLine],
        note: Option<String>,
        total_price: Option<Decimal>,
    ) -> Result<Order, Error> {
        validate(lines)?;
        let body = types::CreateOrderRequest {
            items: lines
                .iter()
                .map(|line| types::CreateOrderItem {
                    item_id: line.product_id.clone(),
                    quantity: std::num::NonZeroU64::new(line.quantity).expect("validated"),
                })
                .collect(),
            note,
            total_price,
        };
        let created = self
            .send(op("create_order", Idempotency::Purchase), || {
                self.client.create_order().body(body.clone()).send()
            })
            .await?;
        if OrderStatus::from_foxreload(&created.status) != OrderStatus::AwaitingPayment {
            return Ok(normalise(created));
        }
        let order_id = created.id.clone();
        self.send_with(
            op("pay_order", Idempotency::Purchase),
            Reconcile::FoxReloadRecentOrders {
                order_id: Some(order_id.clone()),
            },
            || {
                self.client
                    .pay_order()
                    .order_id(&order_id)
                    .body(types::PayOrderRequest {
                        payment_provider: None,
                    })
                    .send()
            },
        )
        .await?;
        self.order(&order_id).await
    }

    /// Polls the order until it is completed or failed, with FoxReload's cadence
    /// ([`DEFAULT_WAIT`] unless given).
    pub async fn wait_for_order(&self, id: &str, config: WaiterConfig) -> Result<Order, Error> {
        let result = waiter::wait(
            config,
            self.clock.as_ref(),
            || self.order(id),
            |order: &Order| match order.status {
                OrderStatus::Completed => Acceptance::Success,
                status if status.is_terminal() => Acceptance::Failure,
                _ => Acceptance::Retry,
            },
            |err: &Error| matches!(err, Error::Transport { .. } | Error::RateLimited { .. }),
        )
        .await;
        match result {
            Ok(order) | Err(WaitError::Failed(order)) => Ok(order),
            Err(WaitError::Poll(err)) => Err(err),
            Err(WaitError::TimedOut { last, .. }) => Err(Error::WaitTimedOut {
                supplier: SUPPLIER,
                order_id: id.to_owned(),
                waited: config.max_wait,
                last_status: last.map(|o| o.status),
            }),
        }
    }

    /// The account's balances, one per currency.
    pub async fn balances(&self) -> Result<Vec<Balance>, Error> {
        let balances = self
            .send(op("list_balances", Idempotency::Safe), || {
                self.client.list_balances().send()
            })
            .await?;
        Ok(balances
            .into_iter()
            .map(|b| Balance {
                supplier: SUPPLIER,
                amount: b.amount,
                currency: b.currency,
            })
            .collect())
    }

    async fn send<T, E, F, Fut>(&self, operation: Operation, call: F) -> Result<T, Error>
    where
        E: serde::Serialize,
        F: FnMut() -> Fut,
        Fut: std::future::Future<
                Output = Result<progenitor_client::ResponseValue<T>, foxreload::Error<E>>,
            >,
    {
        self.send_with(
            operation,
            Reconcile::FoxReloadRecentOrders { order_id: None },
            call,
        )
        .await
    }

    async fn send_with<T, E, F, Fut>(
        &self,
        operation: Operation,
        reconcile: Reconcile,
        call: F,
    ) -> Result<T, Error>
    where
        E: serde::Serialize,
        F: FnMut() -> Fut,
        Fut: std::future::Future<
                Output = Result<progenitor_client::ResponseValue<T>, foxreload::Error<E>>,
            >,
    {
        match retry::send(&self.retry, operation, call).await {
            Ok(response) => Ok(response.into_inner()),
            Err(failure) => Err(interpret(failure, operation, reconcile)),
        }
    }
}

/// Checks an order before anything is sent: 1-10 lines, each quantity at least 1.
pub fn validate(lines: &[OrderLine]) -> Result<(), Error> {
    if lines.is_empty() || lines.len() > MAX_ITEMS {
        return Err(Error::rejected(
            SUPPLIER,
            "items",
            format!("an order holds 1 to {MAX_ITEMS} items, not {}", lines.len()),
        ));
    }
    if let Some(line) = lines.iter().find(|l| l.quantity == 0) {
        return Err(Error::rejected(
            SUPPLIER,
            "quantity",
            format!("quantity of {} must be at least 1", line.product_id),
        ));
    }
    Ok(())
}

/// FoxReload's FastAPI errors: `{"detail": "..."}`, or a list of `{loc, msg}` on 422.
fn interpret(failure: Failure, operation: Operation, reconcile: Reconcile) -> Error {
    let Failure::Http { status, body, .. } = &failure else {
        return failure.into_error(operation, reconcile);
    };
    let message = text_at(body, "/detail/0/msg")
        .or_else(|| text_at(body, "/detail"))
        .unwrap_or_else(|| format!("HTTP {status}"));
    let lower = message.to_lowercase();
    match status {
        401 | 403 | 404 => {
            Error::for_status(SUPPLIER, *status, message).expect("an auth or not-found status")
        }
        400 if lower.contains("balance") => Error::InsufficientBalance {
            supplier: SUPPLIER,
            required: None,
            available: None,
            currency: None,
        },
        400 if lower.contains("stock") => Error::OutOfStock {
            supplier: SUPPLIER,
            message,
        },
        400 if lower.contains("unavailable") || lower.contains("not available") => {
            Error::Unavailable {
                supplier: SUPPLIER,
                message,
            }
        }
        400 | 409 | 422 => Error::InvalidRequest {
            supplier: SUPPLIER,
            field: validation_field(body),
            message,
            sent: true,
        },
        _ => failure.into_error(operation, reconcile),
    }
}

/// The field a FastAPI validation error points at: `loc` without its leading `body`.
fn validation_field(body: &Option<serde_json::Value>) -> Option<String> {
    let loc = body.as_ref()?.pointer("/detail/0/loc")?.as_array()?;
    let parts: Vec<String> = loc
        .iter()
        .skip_while(|part| matches!(part.as_str(), Some("body" | "query" | "path")))
        .map(|part| match part {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

fn product(p: types::Product) -> Product {
    Product {
        supplier: SUPPLIER,
        id: p.id,
        name: p.name,
        price: Some(p.price),
        currency: p.currency,
        available: p.in_stock,
        min_quantity: u64::try_from(p.min_quantity).ok(),
        max_quantity: p.max_quantity.and_then(|q| u64::try_from(q).ok()),
    }
}

/// The normalised order; codes are every item's `externalData`.
pub fn normalise(order: types::Order) -> Order {
    let codes = order
        .items
        .into_iter()
        .flat_map(|item| item.external_data.unwrap_or_default())
        .collect();
    Order {
        supplier: SUPPLIER,
        status: OrderStatus::from_foxreload(&order.status),
        supplier_status: order.status.to_string(),
        id: order.id,
        total: order.total_price,
        currency: order.currency,
        delivery: Delivery {
            codes,
            account: None,
        },
        payment: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: u64) -> OrderLine {
        OrderLine {
            product_id: "product_01krgfgww8eth9xvvysd6y7r4j".into(),
            quantity,
        }
    }

    #[test]
    fn orders_of_one_to_ten_lines_pass_and_others_are_rejected() {
        assert!(validate(&vec![line(1); 1]).is_ok());
        assert!(validate(&vec![line(5); 10]).is_ok());
        for bad in [vec![], vec![line(1); 11], vec![line(0)]] {
            let err = validate(&bad).unwrap_err();
            assert!(
                matches!(err, Error::InvalidRequest { sent: false, .. }),
                "{err:?}"
            );
        }
    }

    #[test]
    fn validation_errors_name_the_field() {
        let body = Some(serde_json::json!({"detail": [
            {"loc": ["body", "items", 0, "quantity"], "msg": "too big", "type": "x"}
        ]}));
        assert_eq!(validation_field(&body).as_deref(), Some("items.0.quantity"));
    }
}
