//! Buying: [`OrderLine`]s checked against their products before anything is sent,
//! then the order created and paid from the balance, each request sent once.

use std::collections::BTreeMap;

use foxreload::types;
use rust_decimal::Decimal;

use super::{FoxReload, SUPPLIER, normalise, op};
use crate::error::{Error, Reconcile};
use crate::model::{Delivery, Order, OrderStatus};
use crate::retry::Idempotency;

/// Items per order the API accepts.
pub const MAX_ITEMS: usize = 10;

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

impl FoxReload {
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
                op("create_order", "POST", Idempotency::Purchase),
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
            op("pay_order", "POST", Idempotency::Purchase),
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
}
