//! Following orders: reads, [`Cryptorefills::track`] over Server-Sent Events with its
//! polling fallback ([`crate::order_stream`]), waits, and the normalised order.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cryptorefills::types;
use futures::{Stream, StreamExt, TryStreamExt};
use rust_decimal::Decimal;

use super::{Cryptorefills, SUPPLIER, interpret, op};
use crate::error::Error;
use crate::model::{CryptoPayment, Delivery, Order, OrderStatus, Redemption};
use crate::order_stream::{self, EventBytes, OrderSource};
use crate::retry::{Idempotency, RetryPolicy};

/// How long Cryptorefills waits for the payment of an order.
pub const PAYMENT_WINDOW: Duration = Duration::from_secs(30 * 60);

impl Cryptorefills {
    /// The order as it is now.
    pub async fn order(&self, id: &str) -> Result<Order, Error> {
        Ok(normalise(self.raw_order(id).await?))
    }

    async fn raw_order(&self, id: &str) -> Result<types::Order, Error> {
        let order = self
            .send(op("get_order", "GET", Idempotency::Safe), || {
                self.as_end_user(self.client.get_order())
                    .order_id(id)
                    .send()
            })
            .await?;
        identified(order)
    }

    /// Every update of the order: from `GET /v5/orders/{id}/subscribe` while it can be
    /// opened (reconnecting 1 s doubling to 30 s), else by polling every 5-10 s. Ends
    /// at `stop` or a terminal state.
    pub fn track(&self, id: &str) -> impl Stream<Item = Result<Order, Error>> + Send + use<> {
        let source = Arc::new(Source {
            adapter: self.clone(),
            id: id.to_owned(),
        });
        order_stream::track(
            source,
            |order: &types::Order| {
                state_of(order).is_some_and(|s| OrderStatus::from_cryptorefills(s).is_terminal())
            },
            self.track,
            self.clock.clone(),
        )
        // An event that names no order is not an update of this one.
        .try_filter(|order| std::future::ready(names_an_order(order)))
        .map_ok(normalise)
    }

    /// Follows the order until a terminal state or `timeout`, whichever is first.
    pub async fn wait_for_order(&self, id: &str, timeout: Duration) -> Result<Order, Error> {
        let updates = self.track(id);
        futures::pin_mut!(updates);
        let mut last: Option<Order> = None;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                update = updates.next() => match update {
                    Some(Ok(order)) if order.status.is_terminal() => return Ok(order),
                    Some(Ok(order)) => last = Some(order),
                    Some(Err(err)) => return Err(err),
                    // `stop` before a terminal message: ask once more.
                    None => return self.order(id).await,
                },
                () = &mut deadline => return Err(Error::WaitTimedOut {
                    supplier: SUPPLIER,
                    order_id: id.to_owned(),
                    waited: timeout,
                    last_status: last.map(|o| o.status),
                }),
            }
        }
    }
}

struct Source {
    adapter: Cryptorefills,
    id: String,
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

impl OrderSource<types::Order, Error> for Source {
    fn open(&self) -> BoxFuture<'_, Result<EventBytes, Error>> {
        Box::pin(async move {
            let operation = op("subscribe_order", "GET", Idempotency::Safe);
            // Opening is not retried here: a stream that cannot be opened falls back to
            // polling, which retries on its own. The attempt's deadline bounds the open.
            let once = RetryPolicy {
                max_attempts: 1,
                ..self.adapter.retry
            };
            let opened = crate::failure::send(&once, &self.adapter.pacer, operation, || {
                self.adapter
                    .as_end_user(self.adapter.client.subscribe_order())
                    .order_id(&self.id)
                    .send()
            })
            .await;
            match opened {
                Ok(stream) => Ok(Box::pin(stream.into_inner().into_inner()) as EventBytes),
                Err(failure) => Err(interpret(failure, operation)),
            }
        })
    }

    fn poll(&self) -> BoxFuture<'_, Result<types::Order, Error>> {
        Box::pin(self.adapter.raw_order(&self.id))
    }

    fn event_too_large(&self, limit: usize) -> Error {
        Error::UnexpectedResponse {
            supplier: SUPPLIER,
            status: 200,
            excerpt: format!("an order event is larger than the {limit}-byte limit"),
        }
    }
}

/// The order, if it names itself: every field is optional in the spec (production and
/// the seed disagree on all of them), so a body of another kind would decode too.
pub(super) fn identified(order: types::Order) -> Result<types::Order, Error> {
    if names_an_order(&order) {
        return Ok(order);
    }
    Err(Error::UnexpectedResponse {
        supplier: SUPPLIER,
        status: 200,
        excerpt: "the answer is not an order: it has neither order_id nor id".into(),
    })
}

/// Whether an answer names its order: production's `order_id` or the seed's `id`.
fn names_an_order(order: &types::Order) -> bool {
    order.order_id.is_some() || order.id.is_some()
}

/// Production's `order_state`, else the seed's `status`.
fn state_of(order: &types::Order) -> Option<&types::OrderState> {
    order.order_state.as_ref().or(order.status.as_ref())
}

/// Epoch seconds (fractions dropped) as a time.
fn epoch(seconds: Option<Decimal>) -> Option<DateTime<Utc>> {
    let whole = i64::try_from(seconds?.trunc()).ok()?;
    DateTime::from_timestamp(whole, 0)
}

/// The normalised order: codes and redemption data from every delivery's deliverable,
/// payment instructions from the wallet address, amount, coin and network.
pub fn normalise(order: types::Order) -> Order {
    let state = state_of(&order).cloned();
    let redemptions: Vec<Redemption> = order
        .deliveries
        .iter()
        .filter_map(|d| d.deliverable.as_ref())
        .filter_map(|d| {
            Some(Redemption {
                code: d.pin_code.clone()?,
                serial: d.pin_serial.clone(),
                security_code: d.security_code.clone(),
                barcode_url: d.barcode_image_url.clone(),
                instructions: d
                    .redeem_instructions
                    .clone()
                    .or_else(|| d.how_to_redeem.clone()),
            })
        })
        .collect();
    let states = order
        .deliveries
        .iter()
        .map(|d| {
            d.delivery_state
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect();
    let opened = epoch(order.payment_requested_at.or(order.created_at));
    let payment = order.wallet_address.clone().map(|address| CryptoPayment {
        address,
        amount: order.coin_amount,
        coin: order.coin.clone(),
        network: order.network.clone(),
        qr_text: order.qr_text.clone(),
        state: order.payment_state.as_ref().map(ToString::to_string),
        pay_before: opened.and_then(|at| {
            chrono::TimeDelta::from_std(PAYMENT_WINDOW)
                .ok()
                .map(|window| at + window)
        }),
    });
    Order {
        supplier: SUPPLIER,
        status: state
            .as_ref()
            .map_or(OrderStatus::Unknown, OrderStatus::from_cryptorefills),
        supplier_status: state.map(|s| s.to_string()).unwrap_or_default(),
        id: order.order_id.or(order.id).unwrap_or_default(),
        total: order.coin_amount,
        currency: order.coin,
        delivery: Delivery {
            codes: redemptions.iter().map(|r| r.code.clone()).collect(),
            redemptions,
            states,
            ..Delivery::default()
        },
        payment,
        idempotency_key: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_production_order_normalises_from_order_state_and_deliverables() {
        let order: types::Order = serde_json::from_value(serde_json::json!({
            "order_id": "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f", "created_at": "1791000000.5",
            "order_state": "Done", "payment_state": "PaymentCompleted",
            "wallet_address": "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM", "coin": "USDC",
            "coin_amount": "10.1200", "network": "Solana", "qr_text": "solana:9WzD?amount=10.12",
            "deliveries": [{"delivery_state": "Done", "kind": "giftcard", "deliverable": {
                "brand_name": "Target", "denomination": "10 USD", "pin_code": "TGT-1234",
                "pin_serial": "S-9", "redeem_instructions": "<p>Redeem online</p>"}}]
        }))
        .unwrap();
        let order = normalise(order);
        assert_eq!(order.id, "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f");
        assert_eq!(
            (order.status, order.supplier_status.as_str()),
            (OrderStatus::Completed, "Done")
        );
        assert_eq!(order.delivery.codes, ["TGT-1234"]);
        assert_eq!(order.delivery.redemptions[0].serial.as_deref(), Some("S-9"));
        assert_eq!(order.delivery.states, ["Done"]);
        let payment = order.payment.unwrap();
        assert_eq!(payment.state.as_deref(), Some("PaymentCompleted"));
        assert_eq!(payment.amount, Some(Decimal::new(101200, 4)));
        assert_eq!(
            payment.pay_before,
            DateTime::from_timestamp(1_791_000_000 + 1800, 0)
        );
        assert!(!format!("{:?}", order.delivery).contains("TGT-1234"));
    }
}
