//! FoxReload through the facade: catalog streams, orders created and paid exactly once,
//! waiting by polling (FoxReload has no webhooks), balances.

mod catalog;

use std::collections::BTreeMap;
use std::sync::Arc;

use foxreload::types;
use futures::Stream;
use rust_decimal::Decimal;

use crate::catalog_walk::CatalogLimit;
use crate::error::{Error, Reconcile};
use crate::failure::{Failure, text_at};
use crate::model::{Balance, Delivery, Order, OrderStatus, Product, SupplierId};
use crate::pacer::Pacer;
use crate::paging::walk;
use crate::retry::{self, Idempotency, Operation, RetryPolicy};
use crate::waiter::{self, Acceptance, Clock, WaitError, WaiterConfig};

const SUPPLIER: SupplierId = SupplierId::FoxReload;
/// Items per order the API accepts.
pub const MAX_ITEMS: usize = 10;
/// Page size of catalog walks (the API takes 1 to 200).
const PAGE_SIZE: u64 = 100;
/// Most results one search answers (it is not paginated).
const SEARCH_LIMIT: u64 = 200;

/// One line of a FoxReload order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderLine {
    /// Product id (`product_<ulid>`), the `itemId`.
    pub product_id: String,
    /// Quantity (for top-ups, the amount), within the product's `orderMinQuantity` and
    /// `orderMaxQuantity`.
    pub quantity: u64,
    /// The line's `note`: a value for each of the product's `requiredNoteFields`
    /// (e.g. `login`), typed by its `noteFieldTypes` when sent.
    pub note: BTreeMap<String, String>,
}

impl OrderLine {
    /// `quantity` of `product_id`, with no note fields.
    pub fn new(product_id: impl Into<String>, quantity: u64) -> Self {
        Self {
            product_id: product_id.into(),
            quantity,
            note: BTreeMap::new(),
        }
    }
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
    /// Shared by every clone: one pace and one `Retry-After` pause per supplier.
    pacer: Arc<Pacer>,
    /// Shared by every clone: catalog requests in flight at once.
    catalog: CatalogLimit,
    clock: Arc<dyn Clock>,
    test_orders: bool,
}

impl std::fmt::Debug for FoxReload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FoxReload")
            .field("client", &self.client)
            .field("test_orders", &self.test_orders)
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
            pacer: Arc::default(),
            catalog: CatalogLimit::default(),
            clock,
            test_orders: false,
        }
    }

    /// Places every order as a test order (`isMock: true`): FoxReload records it and
    /// charges nothing. `FOXRELOAD_TEST_ORDERS=1` sets it from the environment.
    pub fn with_test_orders(mut self, test_orders: bool) -> Self {
        self.test_orders = test_orders;
        self
    }

    /// The generated client, for calls the facade does not wrap.
    pub fn client(&self) -> &foxreload::Client {
        &self.client
    }

    /// Sends every request of this adapter (and its clones) at `pacer`'s pace.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    /// The products matching `query` (one answer of at most 200: search is not paged).
    pub fn search(&self, query: String) -> impl Stream<Item = Result<Product, Error>> + use<> {
        let this = self.clone();
        walk((), move |()| {
            let this = this.clone();
            let query = query.clone();
            async move {
                let found = this
                    .send(op("search_products", Idempotency::Safe), || {
                        this.client
                            .search_products()
                            .query(query.clone())
                            .limit(std::num::NonZeroU64::new(SEARCH_LIMIT).expect("not zero"))
                            .send()
                    })
                    .await?;
                Ok((found.into_iter().map(product).collect(), None))
            }
        })
    }

    /// One product by id.
    pub async fn product(&self, id: &str) -> Result<Product, Error> {
        Ok(product(self.raw_product(id).await?))
    }

    async fn raw_product(&self, id: &str) -> Result<types::Product, Error> {
        self.send(op("get_product", Idempotency::Safe), || {
            self.client.get_product().product_id(id).send()
        })
        .await
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

    /// Checks an order without buying: 1 to 10 lines, and each line against its product
    /// ([`check`]). Returns the order items as they would be sent.
    pub async fn checked_items(
        &self,
        lines: &[OrderLine],
    ) -> Result<Vec<types::CreateOrderItem>, Error> {
        validate(lines)?;
        let mut items = Vec::with_capacity(lines.len());
        for line in lines {
            let product = self.raw_product(&line.product_id).await?;
            items.push(check(line, &product)?);
        }
        Ok(items)
    }

    /// Buys `lines` from the balance. Each product is read first and every line checked
    /// against it ([`check`]): nothing is sent for a quantity outside
    /// `orderMinQuantity..=orderMaxQuantity` or a missing required note field. The order
    /// is created with a fresh `idempotencyKey` (kept on the order and on an ambiguous
    /// error) and paid; each request is sent once. FoxReload does not deduplicate on the
    /// key (each create makes a new order), so it is never a reason to send a purchase
    /// again. Not journaled: [`crate::Suppliers::buy`] is.
    pub async fn buy(&self, lines: &[OrderLine]) -> Result<Order, Error> {
        let items = self.checked_items(lines).await?;
        let key = uuid::Uuid::new_v4().to_string();
        let order = self.create(items, &key).await?;
        if order.status != OrderStatus::AwaitingPayment {
            return Ok(order);
        }
        let mut paid = self.pay(&order.id).await?;
        paid.idempotency_key = Some(key);
        Ok(paid)
    }

    /// Creates an unpaid order (`active`) of items from [`Self::checked_items`], sent
    /// once with `idempotency_key`. Nothing is charged until [`Self::pay`].
    pub async fn create(
        &self,
        items: Vec<types::CreateOrderItem>,
        idempotency_key: &str,
    ) -> Result<Order, Error> {
        let body = types::CreateOrderRequest {
            items,
            idempotency_key: Some(idempotency_key.to_owned()),
            is_mock: self.test_orders,
            note: None,
            total_price: None,
        };
        let created = self
            .send_with(
                op("create_order", Idempotency::Purchase),
                Reconcile::FoxReloadRecentOrders {
                    order_id: None,
                    idempotency_key: Some(idempotency_key.to_owned()),
                },
                || self.client.create_order().body(body.clone()).send(),
            )
            .await?;
        let mut order = normalise(created);
        order.idempotency_key = Some(idempotency_key.to_owned());
        Ok(order)
    }

    /// Pays a created order from the balance (sent once; FoxReload refuses to pay an
    /// order twice, `ORDER_PAYMENT_NOT_POSSIBLE`), then reads it back.
    pub async fn pay(&self, order_id: &str) -> Result<Order, Error> {
        self.send_with(
            op("pay_order", Idempotency::Purchase),
            Reconcile::FoxReloadRecentOrders {
                order_id: Some(order_id.to_owned()),
                idempotency_key: None,
            },
            || {
                self.client
                    .pay_order()
                    .order_id(order_id)
                    .body(types::PayOrderRequest {
                        payment_provider: None,
                        payment_return_url: None,
                    })
                    .send()
            },
        )
        .await?;
        // Paid: a failed read afterwards must not hide the purchase.
        match self.order(order_id).await {
            Ok(paid) => Ok(paid),
            Err(_) => Ok(Order {
                supplier: SUPPLIER,
                id: order_id.to_owned(),
                status: OrderStatus::Processing,
                supplier_status: types::OrderStatus::Paid.to_string(),
                total: None,
                currency: None,
                delivery: Delivery::default(),
                payment: None,
                idempotency_key: None,
            }),
        }
    }

    /// Every order created at or after `since` (only those in `status`, when given), as
    /// FoxReload sends them (items, codes and `createdAt` included), newest first, 100 a
    /// page until an older one. An order that changes status while the pages are read
    /// may be missing from a status's pages.
    pub async fn orders_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        status: Option<types::OrderStatus>,
    ) -> Result<Vec<types::Order>, Error> {
        const PAGE: u64 = 100;
        let mut found = Vec::new();
        for page_number in 0u64.. {
            let page = self
                .send(op("list_orders", Idempotency::Safe), || {
                    let request = self
                        .client
                        .list_orders()
                        .limit(PAGE)
                        .offset(page_number * PAGE);
                    match &status {
                        Some(status) => request.status(status.clone()).send(),
                        None => request.send(),
                    }
                })
                .await?;
            let full = page.items.len() as u64 == PAGE;
            let mut older = false;
            for order in page.items {
                match order.created_at {
                    Some(at) if at < since => older = true,
                    _ => found.push(order),
                }
            }
            if older || !full {
                break;
            }
        }
        Ok(found)
    }

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
                amount: b.available,
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
            Reconcile::FoxReloadRecentOrders {
                order_id: None,
                idempotency_key: None,
            },
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
        match retry::send(&self.retry, &self.pacer, operation, call).await {
            Ok(response) => Ok(response.into_inner()),
            Err(failure) => Err(interpret(failure, operation, reconcile)),
        }
    }
}

/// `limit` of every catalog page.
fn page_limit() -> std::num::NonZeroU64 {
    std::num::NonZeroU64::new(PAGE_SIZE).expect("not zero")
}

/// Checks one line against its product before anything is sent, and builds the order
/// item: the quantity within `orderMinQuantity..=orderMaxQuantity` (1 and unbounded when
/// absent), a value for every `requiredNoteFields` entry, each note value of the form its
/// `noteFieldTypes` entry asks (sent as a JSON number for `integer` and `number`).
pub fn check(line: &OrderLine, product: &types::Product) -> Result<types::CreateOrderItem, Error> {
    let min = product
        .order_min_quantity
        .and_then(|q| u64::try_from(q).ok())
        .unwrap_or(1)
        .max(1);
    let max = product
        .order_max_quantity
        .and_then(|q| u64::try_from(q).ok());
    if line.quantity < min || max.is_some_and(|max| line.quantity > max) {
        let range = match max {
            Some(max) => format!("{min} to {max}"),
            None => format!("at least {min}"),
        };
        return Err(Error::rejected(
            SUPPLIER,
            "quantity",
            format!(
                "{} takes a quantity of {range}, not {}",
                product.id, line.quantity
            ),
        ));
    }
    let required = product.required_note_fields.as_deref().unwrap_or_default();
    if let Some(missing) = required
        .iter()
        .find(|field| line.note.get(*field).is_none_or(|v| v.trim().is_empty()))
    {
        return Err(Error::rejected(
            SUPPLIER,
            missing,
            format!(
                "{} needs the note field {missing} (--field {missing}=VALUE)",
                product.id
            ),
        ));
    }
    let mut note = serde_json::Map::new();
    for (field, value) in &line.note {
        let kind = product
            .note_field_types
            .as_ref()
            .and_then(|types| types.get(field));
        note.insert(field.clone(), note_value(field, value, kind)?);
    }
    Ok(types::CreateOrderItem {
        item_id: line.product_id.clone(),
        quantity: std::num::NonZeroU64::new(line.quantity).expect("at least 1, checked"),
        note: (!note.is_empty()).then_some(note),
    })
}

/// One note value as its declared type asks.
fn note_value(
    field: &str,
    value: &str,
    kind: Option<&types::NoteFieldType>,
) -> Result<serde_json::Value, Error> {
    use types::NoteFieldType as T;
    let wrong = |what: &str| {
        Error::rejected(
            SUPPLIER,
            field,
            format!("{field} must be {what}, not {value:?}"),
        )
    };
    match kind {
        Some(T::Integer) => value
            .trim()
            .parse::<i64>()
            .map(serde_json::Value::from)
            .map_err(|_| wrong("a whole number")),
        Some(T::Number) => value
            .trim()
            .parse::<Decimal>()
            .ok()
            .and_then(|n| {
                serde_json::from_str::<serde_json::Number>(&n.normalize().to_string()).ok()
            })
            .map(serde_json::Value::Number)
            .ok_or_else(|| wrong("a number")),
        Some(T::Email) if !email_address::EmailAddress::is_valid(value.trim()) => {
            Err(wrong("an email address"))
        }
        _ => Ok(serde_json::Value::String(value.to_owned())),
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

/// FoxReload's FastAPI errors: `{"detail": "...", "code": "..."}`, or a list of
/// `{loc, msg}` on 422. The code decides where there is one; older answers without it are
/// read by their wording.
fn interpret(failure: Failure, operation: Operation, reconcile: Reconcile) -> Error {
    let Failure::Http { status, body, .. } = &failure else {
        return failure.into_error(operation, reconcile);
    };
    let message = text_at(body, "/detail/0/msg")
        .or_else(|| text_at(body, "/detail"))
        .unwrap_or_else(|| format!("HTTP {status}"));
    let code = text_at(body, "/code").map(|c| types::ErrorCode::from(c.as_str()));
    let lower = message.to_lowercase();
    let insufficient = || Error::InsufficientBalance {
        supplier: SUPPLIER,
        required: None,
        available: None,
        currency: None,
    };
    let invalid = |field| Error::InvalidRequest {
        supplier: SUPPLIER,
        field,
        message: message.clone(),
        sent: true,
    };
    match (code, *status) {
        (Some(types::ErrorCode::BalanceNotEnough), _) => insufficient(),
        (Some(types::ErrorCode::NotFound), _) => Error::NotFound {
            supplier: SUPPLIER,
            message,
        },
        (Some(types::ErrorCode::OrderPaymentNotPossible), _) => Error::Unavailable {
            supplier: SUPPLIER,
            message: format!("{message} (ORDER_PAYMENT_NOT_POSSIBLE)"),
        },
        (Some(types::ErrorCode::OfferPriceNotMatched), _) => Error::Unavailable {
            supplier: SUPPLIER,
            message: format!("{message} (OFFER_PRICE_NOT_MATCHED)"),
        },
        // A refusal of this request, never the earlier order: the answer does not say
        // which order that was, and FoxReload does not deduplicate on the key.
        (Some(types::ErrorCode::OrderAlreadyExists), _) => Error::InvalidRequest {
            supplier: SUPPLIER,
            field: Some("idempotencyKey".into()),
            message: format!("{message} (ORDER_ALREADY_EXISTS)"),
            sent: true,
        },
        (_, 401 | 403 | 404) => {
            Error::for_status(SUPPLIER, *status, message).expect("an auth or not-found status")
        }
        (_, 400) if lower.contains("balance") => insufficient(),
        (_, 400) if lower.contains("stock") => Error::OutOfStock {
            supplier: SUPPLIER,
            message,
        },
        (_, 400) if lower.contains("unavailable") || lower.contains("not available") => {
            Error::Unavailable {
                supplier: SUPPLIER,
                message,
            }
        }
        (_, 400 | 409 | 422) => invalid(validation_field(body)),
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
        price: p.price,
        currency: p.currency,
        // `quantity` is the stock; absent or null means unknown, not none.
        available: p.quantity.is_none_or(|stock| stock > 0),
        min_quantity: p.order_min_quantity.and_then(|q| u64::try_from(q).ok()),
        max_quantity: p.order_max_quantity.and_then(|q| u64::try_from(q).ok()),
        required_fields: p.required_note_fields.unwrap_or_default(),
        amount_range: None,
    }
}

/// The normalised order: what every item's `externalData` delivered.
pub fn normalise(order: types::Order) -> Order {
    let mut delivery = Delivery::default();
    for item in order.items {
        if let Some(delivered) = item.external_data {
            add_delivered(&mut delivery, delivered);
        }
    }
    Order {
        supplier: SUPPLIER,
        status: OrderStatus::from_foxreload(&order.status),
        supplier_status: order.status.to_string(),
        id: order.id,
        total: order.total_price,
        currency: order.currency,
        delivery,
        payment: None,
        idempotency_key: None,
    }
}

/// One item's `externalData`, normally an array: strings (and numbers) are codes,
/// anything else (activation data objects) is kept as sent; nulls are nothing.
fn add_delivered(delivery: &mut Delivery, delivered: serde_json::Value) {
    use serde_json::Value;
    let entries = match delivered {
        Value::Array(entries) => entries,
        single => vec![single],
    };
    for entry in entries {
        match entry {
            Value::Null => {}
            Value::String(code) => delivery.codes.push(code),
            Value::Number(code) => delivery.codes.push(code.to_string()),
            data => delivery.activation_data.push(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: u64) -> OrderLine {
        OrderLine::new("product_01krgfgww8eth9xvvysd6y7r4j", quantity)
    }

    fn steam_top_up() -> types::Product {
        serde_json::from_value(serde_json::json!({
            "id": "product_01kq2w3e4r5t6y7u8i9o0p1a2s", "name": "$5 Steam top up",
            "price": null, "quantity": null, "orderMinQuantity": 1, "orderMaxQuantity": 300,
            "requiredNoteFields": ["login"],
            "noteFieldTypes": {"login": "string", "age": "integer", "mail": "email"}
        }))
        .unwrap()
    }

    #[test]
    fn a_line_is_checked_against_its_product() {
        let product = steam_top_up();
        let mut good = line(300);
        good.note.insert("login".into(), "steam_user".into());
        good.note.insert("age".into(), "42".into());
        let item = check(&good, &product).unwrap();
        assert_eq!(
            serde_json::to_value(&item.note).unwrap(),
            serde_json::json!({"login": "steam_user", "age": 42})
        );
        for (quantity, field) in [(301, "quantity"), (0, "quantity")] {
            let mut bad = good.clone();
            bad.quantity = quantity;
            let err = check(&bad, &product).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidRequest { sent: false, field: Some(f), .. } if f == field),
                "{err:?}"
            );
        }
        let err = check(&line(5), &product).unwrap_err();
        assert!(err.to_string().contains("--field login=VALUE"), "{err}");
        for (field, value) in [("age", "forty"), ("mail", "not-an-email")] {
            let mut bad = good.clone();
            bad.note.insert(field.into(), value.into());
            let err = check(&bad, &product).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidRequest { field: Some(f), .. } if f == field),
                "{err:?}"
            );
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
    fn external_data_codes_and_activation_data_are_told_apart() {
        let order: types::Order = serde_json::from_value(serde_json::json!({
            "id": "o-1", "status": "completed", "items": [
                {"product": {"id": "p", "name": "eSIM"}, "quantity": 1,
                 "externalData": [{"code": "LPA:1$smdp.example$AB12", "pin": "1234"}, null]},
                {"product": {"id": "p", "name": "Steam"}, "quantity": 3,
                 "externalData": ["STEAM-1", 123456, {"codes": ["STEAM-2"]}]},
                {"product": {"id": "p", "name": "one object"}, "quantity": 1,
                 "externalData": {"iccid": "8944"}},
                {"product": {"id": "p", "name": "not yet"}, "quantity": 1, "externalData": null},
                {"product": {"id": "p", "name": "absent"}, "quantity": 1}
            ]
        }))
        .expect("any externalData decodes");
        let delivery = normalise(order).delivery;
        assert_eq!(delivery.codes, ["STEAM-1", "123456"]);
        assert_eq!(
            delivery.activation_data,
            [
                serde_json::json!({"code": "LPA:1$smdp.example$AB12", "pin": "1234"}),
                serde_json::json!({"codes": ["STEAM-2"]}),
                serde_json::json!({"iccid": "8944"}),
            ]
        );
        assert!(!format!("{delivery:?}").contains("LPA"));
    }

    #[test]
    fn validation_errors_name_the_field() {
        let body = Some(serde_json::json!({"detail": [
            {"loc": ["body", "items", 0, "quantity"], "msg": "too big", "type": "x"}
        ]}));
        assert_eq!(validation_field(&body).as_deref(), Some("items.0.quantity"));
    }
}
