//! Cryptorefills through the facade: catalog, crypto price quotes, validation, orders
//! paid in stablecoins, and order tracking over Server-Sent Events with a polling
//! fallback.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use cryptorefills::types;
use futures::{Stream, StreamExt, TryStreamExt};
use rust_decimal::Decimal;

use crate::error::{Error, Problem, Reconcile};
use crate::failure::{Failure, text_at};
use crate::model::{CryptoPayment, Delivery, Order, OrderStatus, Product, SupplierId};
use crate::order_stream::{self, EventBytes, OrderSource, TrackConfig};
use crate::retry::{self, Idempotency, Operation, RetryPolicy};
use crate::waiter::Clock;

const SUPPLIER: SupplierId = SupplierId::Cryptorefills;

fn op(name: &'static str, idempotency: Idempotency) -> Operation {
    Operation {
        supplier: SUPPLIER,
        name,
        idempotency,
    }
}

/// A gift card, top-up or eSIM to buy, delivered to `beneficiary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// Product kind: decides the beneficiary format.
    pub kind: types::ProductKind,
    /// Brand, e.g. `Airbnb`.
    pub brand_name: String,
    /// ISO 3166-1 alpha-2 country, e.g. `US`.
    pub country_code: String,
    /// Denomination, e.g. `100`.
    pub denomination: String,
    /// How many.
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
    /// format the product kind needs, a country code.
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
        if self.country_code.len() != 2
            || !self.country_code.chars().all(|c| c.is_ascii_uppercase())
        {
            return Err(Error::rejected(
                SUPPLIER,
                "country_code",
                "a country is two capital letters, e.g. US",
            ));
        }
        Ok(())
    }

    fn payment(&self) -> types::PaymentRequest {
        types::PaymentRequest {
            coin: self.coin.clone(),
            network: self.network.clone(),
            payment_via: "USER_WALLET".into(),
            type_: types::PaymentType::Via,
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

/// Cryptorefills, with the facade's retries and error model.
#[derive(Clone)]
pub struct Cryptorefills {
    client: cryptorefills::Client,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    track: TrackConfig,
}

impl std::fmt::Debug for Cryptorefills {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cryptorefills")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl Cryptorefills {
    /// Wraps a generated client.
    pub fn new(client: cryptorefills::Client, retry: RetryPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            retry,
            clock,
            track: TrackConfig::default(),
        }
    }

    /// The same adapter with other tracking timings.
    pub fn with_track_config(mut self, track: TrackConfig) -> Self {
        self.track = track;
        self
    }

    /// The generated client, for calls the facade does not wrap.
    pub fn client(&self) -> &cryptorefills::Client {
        &self.client
    }

    /// Products available in a country, optionally of one brand family.
    pub fn products(
        &self,
        country: String,
        family_name: Option<String>,
    ) -> impl Stream<Item = Result<Product, Error>> + use<> {
        let this = self.clone();
        futures::stream::once(async move {
            let products = this
                .send(op("list_products", Idempotency::Safe), || {
                    let request = this.client.list_products().country_code(country.as_str());
                    match &family_name {
                        Some(family) => request.family_name(family.clone()).send(),
                        None => request.send(),
                    }
                })
                .await?;
            Ok::<_, Error>(futures::stream::iter(
                products.into_iter().flat_map(products_of).map(Ok),
            ))
        })
        .try_flatten()
    }

    /// The exact coin amount for a gift card's face value.
    pub async fn quote(
        &self,
        brand_name: &str,
        country: &str,
        face_value: &str,
        coin: &str,
    ) -> Result<types::Price, Error> {
        self.send(op("get_price", Idempotency::Safe), || {
            self.client
                .get_price()
                .brand_name(brand_name)
                .country_code(country)
                .face_value(face_value)
                .coin(coin)
                .send()
        })
        .await
    }

    /// Asks Cryptorefills whether the purchase would be accepted. Every problem it
    /// finds comes back at once in [`Error::ValidationProblems`].
    pub async fn validate(&self, purchase: &Purchase) -> Result<(), Error> {
        purchase.check()?;
        let body = types::ValidateOrderRequest {
            email: purchase.email.clone(),
            payment: purchase.payment(),
            deliveries: vec![types::ValidationDelivery {
                beneficiary_account: purchase.beneficiary.clone().into(),
                brand_name: purchase.brand_name.clone(),
                country_code: country_code(&purchase.country_code)?,
                denomination: purchase.denomination.clone(),
                localized_denomination: None,
            }],
            coupon: None,
            lang: Some("en".into()),
        };
        let result = self
            .send(op("validate_order", Idempotency::Safe), || {
                self.client.validate_order().body(body.clone()).send()
            })
            .await?;
        match result.problems {
            Some(problems) if !problems.is_empty() => Err(problems_error(problems)),
            _ => Ok(()),
        }
    }

    /// Creates the order (sent once) and returns it with the wallet address and exact
    /// coin amount to pay within the 30-minute window.
    pub async fn buy(&self, purchase: &Purchase) -> Result<Order, Error> {
        purchase.check()?;
        let body = types::CreateOrderRequest {
            deliveries: vec![types::CreateOrderDelivery {
                kind: purchase.kind.clone(),
                quantity: std::num::NonZeroU64::from(purchase.quantity),
                deliverable: types::Deliverable {
                    beneficiary_account: purchase.beneficiary.clone().into(),
                    brand_name: purchase.brand_name.clone(),
                    country_code: country_code(&purchase.country_code)?,
                    denomination: purchase.denomination.clone(),
                },
            }],
            payment: purchase.payment(),
            user: types::OrderUser {
                email: purchase.email.clone(),
                has_accepted_newsletter: Some(false),
            },
            lang: Some("en".into()),
            acquisition: None,
            coupon: None,
        };
        let order = self
            .send(op("create_order", Idempotency::Purchase), || {
                self.client.create_order().body(body.clone()).send()
            })
            .await?;
        Ok(normalise(order))
    }

    /// The order as it is now.
    pub async fn order(&self, id: &str) -> Result<Order, Error> {
        Ok(normalise(self.raw_order(id).await?))
    }

    async fn raw_order(&self, id: &str) -> Result<types::Order, Error> {
        self.send(op("get_order", Idempotency::Safe), || {
            self.client.get_order().order_id(id).send()
        })
        .await
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
            |order: &types::Order| OrderStatus::from_cryptorefills(&order.status).is_terminal(),
            self.track,
            self.clock.clone(),
        )
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

    async fn send<T, F, Fut>(&self, operation: Operation, call: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<
                Output = Result<
                    progenitor_client::ResponseValue<T>,
                    cryptorefills::Error<types::HttpError>,
                >,
            >,
    {
        match retry::send(&self.retry, operation, call).await {
            Ok(response) => Ok(response.into_inner()),
            Err(failure) => Err(interpret(failure, operation)),
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
            let operation = op("subscribe_order", Idempotency::Safe);
            // Opening is not retried here: a stream that cannot be opened falls back to
            // polling, which retries on its own. The attempt's deadline bounds the open.
            let once = RetryPolicy {
                max_attempts: 1,
                ..self.adapter.retry
            };
            let opened = retry::send(&once, operation, || {
                self.adapter
                    .client
                    .subscribe_order()
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

fn country_code(value: &str) -> Result<types::CountryCode, Error> {
    value.parse().map_err(|_| {
        Error::rejected(
            SUPPLIER,
            "country_code",
            "a country is two capital letters, e.g. US",
        )
    })
}

fn problems_error(problems: Vec<types::Problem>) -> Error {
    Error::ValidationProblems {
        supplier: SUPPLIER,
        problems: problems
            .into_iter()
            .map(|p| Problem {
                code: p.problem,
                details: p.more_details,
            })
            .collect(),
    }
}

/// Cryptorefills errors: `{status, detail, moreDetails}`, possibly with `problems`.
fn interpret(failure: Failure, operation: Operation) -> Error {
    let reconcile = Reconcile::CryptorefillsOrders;
    let Failure::Http { status, body, .. } = &failure else {
        return failure.into_error(operation, reconcile);
    };
    if let Some(problems) = body
        .as_ref()
        .and_then(|b| b.get("problems"))
        .and_then(|p| serde_json::from_value::<Vec<types::Problem>>(p.clone()).ok())
        .filter(|p| !p.is_empty())
    {
        return problems_error(problems);
    }
    let message = text_at(body, "/detail").unwrap_or_else(|| format!("HTTP {status}"));
    match status {
        401 | 403 | 404 => {
            Error::for_status(SUPPLIER, *status, message).expect("an auth or not-found status")
        }
        400 | 422 => match types::HttpErrorCode::from(message.as_str()) {
            code @ (types::HttpErrorCode::SuspendedCoin
            | types::HttpErrorCode::SuspendedNetwork) => Error::Unavailable {
                supplier: SUPPLIER,
                message: code.to_string(),
            },
            _ => Error::InvalidRequest {
                supplier: SUPPLIER,
                field: None,
                message,
                sent: true,
            },
        },
        _ => failure.into_error(operation, reconcile),
    }
}

/// The four parts of a product id `kind/brand/country/denomination`.
pub fn parse_product_id(id: &str) -> Result<[&str; 4], Error> {
    let parts: Vec<&str> = id.splitn(4, '/').collect();
    match parts[..] {
        [kind, brand, country, denomination] if parts.iter().all(|p| !p.is_empty()) => {
            Ok([kind, brand, country, denomination])
        }
        _ => Err(Error::rejected(
            SUPPLIER,
            "product_id",
            "a Cryptorefills product id is kind/brand/country/denomination, e.g. giftcard/Airbnb/US/100",
        )),
    }
}

/// One catalog product per fixed denomination, id `kind/brand/country/denomination`;
/// a product with a custom range gets one entry whose denomination is `{min-max}`,
/// to be replaced by the amount wanted.
fn products_of(p: types::Product) -> Vec<Product> {
    let kind = p
        .kind
        .as_ref()
        .map_or("giftcard".to_owned(), ToString::to_string);
    let country = p.country_code.clone().unwrap_or_default();
    let name = p.name.clone().unwrap_or_else(|| p.brand_name.clone());
    let entry = |denomination: String, price: Option<Decimal>| Product {
        supplier: SUPPLIER,
        id: format!("{kind}/{}/{country}/{denomination}", p.brand_name),
        name: format!("{name} {denomination}"),
        price,
        currency: p.currency.clone(),
        available: true,
        min_quantity: Some(1),
        max_quantity: None,
        required_fields: Vec::new(),
        amount_range: None,
    };
    let mut out: Vec<Product> = p
        .denominations
        .iter()
        .filter_map(|d| {
            let value = d.value.clone()?;
            let price = value.parse().ok();
            Some(entry(value, price))
        })
        .collect();
    if let Some(range) = &p.range {
        let bound = |v: Option<Decimal>| v.map_or("?".to_owned(), |v| v.to_string());
        out.push(entry(
            format!("{{{}-{}}}", bound(range.min), bound(range.max)),
            None,
        ));
    }
    out
}

/// The normalised order; codes are every delivery's codes (or redemption URLs).
pub fn normalise(order: types::Order) -> Order {
    let codes = order
        .deliveries
        .iter()
        .flat_map(|d| d.codes.iter().flatten())
        .filter_map(|code| code.code.clone().or_else(|| code.url.clone()))
        .collect();
    let payment = order.wallet_address.clone().map(|address| CryptoPayment {
        address,
        amount: order.coin_amount,
        coin: order.coin.clone(),
        network: order.network.clone(),
    });
    Order {
        supplier: SUPPLIER,
        status: OrderStatus::from_cryptorefills(&order.status),
        supplier_status: order.status.to_string(),
        id: order.id,
        total: order.totals.as_ref().and_then(|t| t.fiat_amount),
        currency: order.totals.and_then(|t| t.fiat_currency),
        delivery: Delivery {
            codes,
            account: None,
        },
        payment,
        idempotency_key: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase(kind: types::ProductKind, beneficiary: &str) -> Purchase {
        Purchase {
            kind,
            brand_name: "Airbnb".into(),
            country_code: "US".into(),
            denomination: "100".into(),
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
    fn emails_and_phone_numbers() {
        assert!(is_email("a.b+c@example.co.uk"));
        assert!(!is_email("END_USER_EMAIL"));
        assert!(!is_email("user@localhost"));
        assert!(is_e164("+442071838750"));
        assert!(!is_e164("+44 20 7183 8750"));
    }
}
