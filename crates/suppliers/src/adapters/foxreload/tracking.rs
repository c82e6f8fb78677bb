//! Following orders: reads, waits by polling (FoxReload has no webhooks), the orders
//! created since a time, and the normalised order.

use foxreload::types;

use super::{FoxReload, SUPPLIER, op};
use crate::error::Error;
use crate::model::{Delivery, Order, OrderStatus};
use crate::retry::Idempotency;
use crate::waiter::{self, Acceptance, WaitError, WaiterConfig};

/// FoxReload's waiting cadence: poll every 2-10 s, for up to 10 minutes.
pub const DEFAULT_WAIT: WaiterConfig = WaiterConfig {
    min_delay: std::time::Duration::from_secs(2),
    max_delay: std::time::Duration::from_secs(10),
    max_wait: std::time::Duration::from_secs(600),
};

impl FoxReload {
    /// The order as it is now.
    pub async fn order(&self, id: &str) -> Result<Order, Error> {
        let order = self
            .send(op("get_order", "GET", Idempotency::Safe), || {
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
            .send(op("list_orders", "GET", Idempotency::Safe), || {
                let request = self.client.list_orders().limit(limit);
                match &status {
                    Some(s) => request.status(s.clone()).send(),
                    None => request.send(),
                }
            })
            .await?;
        Ok(page.items.into_iter().map(normalise).collect())
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
                .send(op("list_orders", "GET", Idempotency::Safe), || {
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
        supplier_status: order.status.as_str().to_owned(),
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
}
