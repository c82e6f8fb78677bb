//! Buying: the request's checks against the product, the purchase (the balance is
//! debited at once), and the balance itself.

use std::collections::BTreeMap;

use mousacard::types;

use super::{MousaCard, SUPPLIER, op};
use crate::error::Error;
use crate::model::{Balance, Delivery, Order, OrderStatus};
use crate::retry::Idempotency;

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

impl MousaCard {
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
}
