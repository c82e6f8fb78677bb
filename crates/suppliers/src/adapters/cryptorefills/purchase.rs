//! Buying: the [`Purchase`] and its checks before anything is sent, price quotes,
//! validation by Cryptorefills, and order creation.

use std::str::FromStr;

use cryptorefills::types;
use rust_decimal::Decimal;

use super::tracking::identified;
use super::{Cryptorefills, MAX_UNITS, RANGE, SUPPLIER, normalise, op, problems_error};
use crate::error::{Error, Reconcile};
use crate::model::Order;
use crate::retry::Idempotency;

/// A gift card, top-up or eSIM to buy, delivered to `beneficiary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// Product kind: decides the beneficiary format.
    pub kind: types::ProductKind,
    /// Brand, e.g. `Target`.
    pub brand_name: String,
    /// ISO 3166-1 alpha-2 country, e.g. `US`.
    pub country_code: String,
    /// The product's own denomination string (`10 USD`), or [`RANGE`].
    pub denomination: String,
    /// The face value of a range product (`product_value`).
    pub amount: Option<Decimal>,
    /// How many, 1 to [`MAX_UNITS`].
    pub quantity: std::num::NonZeroU32,
    /// Where Cryptorefills delivers: the end user's email for gift cards and eSIMs,
    /// an E.164 phone number (`+14155551234`) for mobile top-ups.
    pub beneficiary: String,
    /// The end user's email.
    pub email: String,
    /// Stablecoin to pay with, e.g. `USDC`.
    pub coin: String,
    /// Network, e.g. `Solana`.
    pub network: Option<String>,
}

impl Purchase {
    /// Checks the purchase before anything is sent: a real email, a beneficiary of the
    /// format the product kind needs, a country code, 1 to 10 units, an amount exactly
    /// for range products.
    pub fn check(&self) -> Result<(), Error> {
        if !is_email(&self.email) {
            return Err(Error::rejected(
                SUPPLIER,
                "email",
                format!("{:?} is not an email address", self.email),
            ));
        }
        let wants_phone = self.kind == types::ProductKind::MobileRecharge;
        if wants_phone && !is_e164(&self.beneficiary) {
            return Err(Error::rejected(
                SUPPLIER,
                "beneficiary_account",
                "a mobile top-up is delivered to a phone number in E.164 form, e.g. +14155551234",
            ));
        }
        if !wants_phone && !is_email(&self.beneficiary) {
            return Err(Error::rejected(
                SUPPLIER,
                "beneficiary_account",
                format!(
                    "a {} is delivered to an email address, e.g. user@example.com",
                    self.kind
                ),
            ));
        }
        country_code(&self.country_code)?;
        if self.quantity.get() > MAX_UNITS {
            return Err(Error::rejected(
                SUPPLIER,
                "quantity",
                format!(
                    "an order holds 1 to {MAX_UNITS} units, not {}",
                    self.quantity
                ),
            ));
        }
        match (self.denomination == RANGE, self.amount) {
            (true, None) => Err(Error::rejected(
                SUPPLIER,
                "amount",
                "a range product needs the face value to buy (--amount V)",
            )),
            (false, Some(_)) => Err(Error::rejected(
                SUPPLIER,
                "amount",
                format!(
                    "{} has a fixed face value; --amount is for range products",
                    self.denomination
                ),
            )),
            _ => Ok(()),
        }
    }

    fn payment(&self) -> types::PaymentRequest {
        types::PaymentRequest {
            coin: self.coin.clone(),
            network: self.network.clone(),
            payment_via: "USER_WALLET".into(),
            type_: types::PaymentType::Via,
        }
    }

    /// One flat delivery per unit, as production integrations send them.
    fn deliveries(&self) -> Result<Vec<types::DeliveryRequest>, Error> {
        let delivery = types::DeliveryRequest {
            beneficiary_account: self.beneficiary.clone().into(),
            brand_name: self.brand_name.clone(),
            country_code: country_code(&self.country_code)?,
            denomination: self.denomination.clone(),
            localized_denomination: None,
            product_value: self.amount,
        };
        Ok(vec![delivery; self.quantity.get() as usize])
    }

    fn user(&self) -> types::OrderUser {
        types::OrderUser {
            email: self.email.clone(),
            has_accepted_newsletter: Some(false),
        }
    }
}

/// An email address by RFC 5322's rules (the `email_address` crate), with a dot in the
/// domain as deliverable addresses have.
pub fn is_email(value: &str) -> bool {
    email_address::EmailAddress::from_str(value).is_ok_and(|address| address.domain().contains('.'))
}

/// E.164: `+`, a non-zero country digit, 7 to 15 digits in all.
pub fn is_e164(value: &str) -> bool {
    let Some(digits) = value.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

impl Cryptorefills {
    /// Checks a range purchase's amount against the product's range and step (read
    /// from the catalog first); nothing is sent for an amount it would refuse.
    async fn check_amount(&self, purchase: &Purchase) -> Result<(), Error> {
        let Some(amount) = purchase.amount else {
            return Ok(());
        };
        let id = format!(
            "{}/{}/{}/{RANGE}",
            purchase.kind, purchase.brand_name, purchase.country_code
        );
        let range = self.product(&id).await?.amount_range.ok_or_else(|| {
            Error::rejected(SUPPLIER, "amount", format!("{id} has no amount range"))
        })?;
        if range.allows(amount) {
            return Ok(());
        }
        let step = range
            .step
            .map(|s| format!(" in steps of {s}"))
            .unwrap_or_default();
        Err(Error::rejected(
            SUPPLIER,
            "amount",
            format!(
                "{id} sells {} to {}{step}, not {amount}",
                range.min, range.max
            ),
        ))
    }

    /// The exact coin amount for a gift card's face value.
    pub async fn quote(
        &self,
        brand_name: &str,
        country: &str,
        face_value: &str,
        coin: &str,
    ) -> Result<types::Price, Error> {
        self.send(op("get_price", "GET", Idempotency::Safe), || {
            self.as_end_user(self.client.get_price())
                .brand_name(brand_name)
                .country_code(country)
                .face_value(face_value)
                .coin(coin)
                .send()
        })
        .await
    }

    /// Asks Cryptorefills whether the purchase would be accepted. Every problem it
    /// finds comes back at once in [`Error::ValidationProblems`], unknown codes too.
    pub async fn validate(&self, purchase: &Purchase) -> Result<(), Error> {
        purchase.check()?;
        self.check_amount(purchase).await?;
        let body = types::ValidateOrderRequest {
            email: Some(purchase.email.clone()),
            user: Some(purchase.user()),
            payment: purchase.payment(),
            deliveries: purchase.deliveries()?,
            coupon: None,
            promo_code: None,
            acquisition: None,
            refund_wallet_address: None,
            lang: Some("en".into()),
        };
        let result = self
            .send(op("validate_order", "POST", Idempotency::Safe), || {
                self.as_end_user(self.client.validate_order())
                    .body(body.clone())
                    .send()
            })
            .await?;
        match result.problems {
            Some(problems) if !problems.is_empty() => Err(problems_error(problems)),
            _ => Ok(()),
        }
    }

    /// Creates the order (sent once) and returns it with the wallet address and exact
    /// coin amount to pay within the payment window. Nothing is charged until the
    /// customer pays that address.
    pub async fn buy(&self, purchase: &Purchase) -> Result<Order, Error> {
        self.check_purchase(purchase).await?;
        self.create(purchase).await
    }

    /// What [`Self::buy`] checks before sending: the purchase's own rules
    /// ([`Purchase::check`]) and a range product's amount against the product.
    pub async fn check_purchase(&self, purchase: &Purchase) -> Result<(), Error> {
        purchase.check()?;
        self.check_amount(purchase).await
    }

    /// Creates the order (sent once), without [`Self::check_purchase`]'s checks.
    pub async fn create(&self, purchase: &Purchase) -> Result<Order, Error> {
        let body = types::CreateOrderRequest {
            deliveries: purchase
                .deliveries()?
                .into_iter()
                .map(types::CreateOrderDeliveryItem::DeliveryRequest)
                .collect(),
            email: Some(purchase.email.clone()),
            user: purchase.user(),
            payment: purchase.payment(),
            lang: Some("en".into()),
            acquisition: None,
            coupon: None,
            promo_code: None,
            refund_wallet_address: None,
        };
        let order = self
            .send(op("create_order", "POST", Idempotency::Purchase), || {
                self.as_end_user(self.client.create_order())
                    .body(body.clone())
                    .send()
            })
            .await?;
        // An answer that names no order leaves the purchase unknown.
        identified(order)
            .map(normalise)
            .map_err(|_| Error::AmbiguousPurchase {
                supplier: SUPPLIER,
                operation: "create_order",
                cause: "the answer names no order (neither order_id nor id)".into(),
                reconcile: Reconcile::CryptorefillsOrders,
                reference: None,
            })
    }
}

fn country_code(value: &str) -> Result<types::CountryCode, Error> {
    value.parse().map_err(|_| {
        Error::rejected(
            SUPPLIER,
            "country_code",
            "a country is two capital letters, e.g. US",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase(kind: types::ProductKind, beneficiary: &str) -> Purchase {
        Purchase {
            kind,
            brand_name: "Target".into(),
            country_code: "US".into(),
            denomination: "10 USD".into(),
            amount: None,
            quantity: std::num::NonZeroU32::MIN,
            beneficiary: beneficiary.into(),
            email: "user@example.com".into(),
            coin: "USDC".into(),
            network: Some("Solana".into()),
        }
    }

    #[test]
    fn beneficiary_format_follows_the_product_kind() {
        use types::ProductKind::*;
        assert!(purchase(Giftcard, "user@example.com").check().is_ok());
        assert!(purchase(Esim, "user@example.com").check().is_ok());
        assert!(purchase(MobileRecharge, "+14155551234").check().is_ok());
        for (kind, bad) in [
            (Giftcard, "+14155551234"),
            (Esim, "not-an-email"),
            (MobileRecharge, "user@example.com"),
            (MobileRecharge, "14155551234"),
            (MobileRecharge, "+0123456789"),
            (MobileRecharge, "+1415"),
        ] {
            let err = purchase(kind.clone(), bad).check().unwrap_err();
            assert!(
                matches!(&err, Error::InvalidRequest { field: Some(f), sent: false, .. } if f == "beneficiary_account"),
                "{kind} {bad}: {err:?}"
            );
        }
    }

    #[test]
    fn units_and_amounts_are_checked_before_sending() {
        let mut eleven = purchase(types::ProductKind::Giftcard, "user@example.com");
        eleven.quantity = std::num::NonZeroU32::new(11).unwrap();
        let mut range_without_amount = purchase(types::ProductKind::Giftcard, "user@example.com");
        range_without_amount.denomination = RANGE.into();
        let mut fixed_with_amount = purchase(types::ProductKind::Giftcard, "user@example.com");
        fixed_with_amount.amount = Some(Decimal::TEN);
        for (bad, field) in [
            (eleven, "quantity"),
            (range_without_amount, "amount"),
            (fixed_with_amount, "amount"),
        ] {
            let err = bad.check().unwrap_err();
            assert!(
                matches!(&err, Error::InvalidRequest { field: Some(f), sent: false, .. } if f == field),
                "{err:?}"
            );
        }
        let mut three = purchase(types::ProductKind::Giftcard, "user@example.com");
        three.quantity = std::num::NonZeroU32::new(3).unwrap();
        assert_eq!(
            three.deliveries().unwrap().len(),
            3,
            "one flat delivery per unit"
        );
    }

    #[test]
    fn emails_and_phone_numbers() {
        assert!(is_email("a.b+c@example.co.uk"));
        assert!(!is_email("END_USER_EMAIL"));
        assert!(!is_email("user@localhost"));
        assert!(is_e164("+442071838750"));
        assert!(!is_e164("+44 20 7183 8750"));
    }
}
