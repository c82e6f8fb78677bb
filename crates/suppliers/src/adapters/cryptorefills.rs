//! Cryptorefills through the facade: a catalog of brand families, crypto price quotes,
//! validation, orders paid in stablecoins, and order tracking over Server-Sent Events
//! with a polling fallback.
//!
//! Production orders carry `order_id` and `order_state` (the seed's `id` and `status`
//! are read when they are there), codes in `deliveries[].deliverable.pin_code`. Orders
//! are sent with flat deliveries, one per unit, each with the product's own
//! denomination string, or `"range"` and a `product_value` for a range product
//! (`specs/README.md`).
//!
//! Cryptorefills applies identity checks and spending limits per end user: an adapter
//! made [`Cryptorefills::for_end_user`] sends that user's IP (`X-Forwarded-For`) and
//! agent (`User-Agent`) on every request; otherwise requests carry the SDK's own
//! `User-Agent` and no `X-Forwarded-For`.

mod catalog;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cryptorefills::types;
use futures::{Stream, StreamExt, TryStreamExt};
use rust_decimal::Decimal;

use crate::catalog_walk::CatalogLimit;
use crate::error::{Error, Problem, Reconcile};
use crate::failure::{Failure, text_at};
use crate::model::{
    AmountRange, CryptoPayment, Delivery, Order, OrderStatus, Product, Redemption, SupplierId,
};
use crate::order_stream::{self, EventBytes, OrderSource, TrackConfig};
use crate::pacer::Pacer;
use crate::retry::{self, Idempotency, Operation, RetryPolicy};
use crate::supplier::EndUser;
use crate::waiter::Clock;

const SUPPLIER: SupplierId = SupplierId::Cryptorefills;

/// The denomination a range product is ordered with, beside its `product_value`.
pub const RANGE: &str = "range";

/// Deliveries one order holds at most (one per unit).
pub const MAX_UNITS: u32 = 10;

/// How long Cryptorefills waits for the payment of an order.
pub const PAYMENT_WINDOW: Duration = Duration::from_secs(30 * 60);

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

/// Cryptorefills, with the facade's retries and error model.
#[derive(Clone)]
pub struct Cryptorefills {
    client: cryptorefills::Client,
    retry: RetryPolicy,
    /// Shared by every clone: one pace and one `Retry-After` pause per supplier.
    pacer: Arc<Pacer>,
    /// Shared by every clone: catalog requests in flight at once.
    catalog: CatalogLimit,
    clock: Arc<dyn Clock>,
    track: TrackConfig,
    end_user: Option<EndUser>,
}

impl std::fmt::Debug for Cryptorefills {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cryptorefills")
            .field("client", &self.client)
            .field("end_user", &self.end_user)
            .finish_non_exhaustive()
    }
}

/// The builders of the operations this adapter calls, each of which takes the end
/// user's headers (the spec declares them on every operation).
trait EndUserHeaders: Sized {
    fn end_user_headers(self, ip: String, user_agent: String) -> Self;
}

macro_rules! end_user_headers {
    ($($builder:ident),+) => {$(
        impl EndUserHeaders for cryptorefills::builder::$builder<'_> {
            fn end_user_headers(self, ip: String, user_agent: String) -> Self {
                self.x_forwarded_for(ip).user_agent(user_agent)
            }
        }
    )+};
}

end_user_headers!(
    ListBrands,
    ListProducts,
    GetPrice,
    ValidateOrder,
    CreateOrder,
    GetOrder,
    SubscribeOrder
);

impl Cryptorefills {
    /// Wraps a generated client.
    pub fn new(client: cryptorefills::Client, retry: RetryPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            retry,
            pacer: Arc::default(),
            catalog: CatalogLimit::default(),
            clock,
            track: TrackConfig::default(),
            end_user: None,
        }
    }

    /// The same adapter acting for `end_user`: every request it makes (catalog,
    /// quotes, validation, orders, tracking) carries the end user's IP in
    /// `X-Forwarded-For` and their agent in `User-Agent`. Cheap: clones share the
    /// connection pool.
    pub fn for_end_user(&self, end_user: EndUser) -> Self {
        Self {
            end_user: Some(end_user),
            ..self.clone()
        }
    }

    /// The end user this adapter acts for, if any.
    pub fn end_user(&self) -> Option<&EndUser> {
        self.end_user.as_ref()
    }

    /// `builder` with the end user's headers, when there is one.
    fn as_end_user<B: EndUserHeaders>(&self, builder: B) -> B {
        match &self.end_user {
            Some(user) => builder.end_user_headers(user.ip().to_string(), user.user_agent().into()),
            None => builder,
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

    /// Sends every request of this adapter (and its clones) at `pacer`'s pace.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    async fn brand_families(
        &self,
        country: &str,
        family: &str,
    ) -> Result<Vec<types::BrandFamily>, Error> {
        self.send(op("list_products", Idempotency::Safe), || {
            self.as_end_user(self.client.list_products())
                .country_code(country)
                .family_name(family)
                .send()
        })
        .await
    }

    /// One catalog product by the id the catalog gives it
    /// (`kind/brand/country/denomination`).
    pub async fn product(&self, id: &str) -> Result<Product, Error> {
        let [_, brand, country, _] = parse_product_id(id)?;
        self.brand_families(country, brand)
            .await?
            .into_iter()
            .flat_map(|family| products_of(family, country))
            .find(|product| product.id == id)
            .ok_or_else(|| Error::NotFound {
                supplier: SUPPLIER,
                message: format!("no product {id}"),
            })
    }

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
        self.send(op("get_price", Idempotency::Safe), || {
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
            .send(op("validate_order", Idempotency::Safe), || {
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
            .send(op("create_order", Idempotency::Purchase), || {
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

    /// The order as it is now.
    pub async fn order(&self, id: &str) -> Result<Order, Error> {
        Ok(normalise(self.raw_order(id).await?))
    }

    async fn raw_order(&self, id: &str) -> Result<types::Order, Error> {
        let order = self
            .send(op("get_order", Idempotency::Safe), || {
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
        match retry::send(&self.retry, &self.pacer, operation, call).await {
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
            let opened = retry::send(&once, &self.adapter.pacer, operation, || {
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

/// Cryptorefills errors: `{status, detail, moreDetails}`, `{status, detail, reason}`,
/// `{message}`, possibly with `problems`; 422 `{"detail": "LOGIN_REQUIRED"}` for brands
/// that need an account.
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
    let message = text_at(body, "/detail")
        .or_else(|| text_at(body, "/message"))
        .or_else(|| text_at(body, "/error"))
        .unwrap_or_else(|| format!("HTTP {status}"));
    let message = match text_at(body, "/reason") {
        Some(reason) => format!("{message} ({reason})"),
        None => message,
    };
    match status {
        401 | 403 | 404 => {
            Error::for_status(SUPPLIER, *status, message).expect("an auth or not-found status")
        }
        400 | 422 => match types::HttpErrorCode::from(message.as_str()) {
            code @ (types::HttpErrorCode::SuspendedCoin
            | types::HttpErrorCode::SuspendedNetwork
            | types::HttpErrorCode::LoginRequired) => Error::Unavailable {
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
            "a Cryptorefills product id is kind/brand/country/denomination, e.g. giftcard/Target/US/10 USD (or .../range with --amount)",
        )),
    }
}

/// The catalog products of one brand family: id `kind/brand/country/denomination`,
/// where the denomination is the product's own string (`10 USD`), or `range` for a
/// product sold over a range of face values.
fn products_of(family: types::BrandFamily, country: &str) -> Vec<Product> {
    let kind = family
        .kind
        .as_ref()
        .map_or("giftcard".to_owned(), ToString::to_string);
    let Some(brand) = family.brand.clone().or_else(|| family.family.clone()) else {
        return Vec::new();
    };
    let country = family
        .country_code
        .clone()
        .unwrap_or_else(|| country.to_owned());
    let available = family.is_out_of_stock != Some(true);
    family
        .products
        .into_iter()
        .filter_map(|p| {
            let range = amount_range(&p);
            let denomination = match (&range, &p.denomination) {
                (Some(_), _) => RANGE.to_owned(),
                (None, Some(denomination)) => denomination.clone(),
                (None, None) => return None,
            };
            let shown = match &range {
                Some(r) => format!(
                    "{}-{} {}",
                    r.min.normalize(),
                    r.max.normalize(),
                    r.currency.as_deref().unwrap_or("")
                ),
                None => p
                    .localized_denomination
                    .clone()
                    .unwrap_or_else(|| denomination.clone()),
            };
            Some(Product {
                supplier: SUPPLIER,
                id: format!("{kind}/{brand}/{country}/{denomination}"),
                name: format!("{brand} {shown}"),
                // What the buyer pays: the coin amount, in the coin.
                price: p.coin_amount,
                currency: p.coin.clone(),
                available,
                min_quantity: Some(1),
                max_quantity: Some(u64::from(MAX_UNITS)),
                required_fields: Vec::new(),
                amount_range: range,
            })
        })
        .collect()
}

/// A dynamic product's face values: `range`, or `face_value.amount` of type `range`.
fn amount_range(product: &types::Product) -> Option<AmountRange> {
    if let Some(range) = &product.range
        && let (Some(min), Some(max)) = (range.min, range.max)
    {
        return Some(AmountRange {
            min,
            max,
            step: range.step_size,
            currency: range.currency.clone(),
        });
    }
    let face = product.face_value.as_ref()?;
    let amount = face.amount.as_ref()?;
    let bound = |b: &Option<types::FaceValueBound>| match b.as_ref()? {
        types::FaceValueBound::Variant0(value) => Some(*value),
        types::FaceValueBound::Variant1(money) => Some(money.amount),
    };
    let min = bound(&amount.min).or_else(|| bound(&amount.minimum))?;
    let max = bound(&amount.max).or_else(|| bound(&amount.maximum))?;
    (product.is_dynamic == Some(true) || amount.type_ == Some(types::FaceValueAmountType::Range))
        .then(|| AmountRange {
            min,
            max,
            step: amount.step,
            currency: face.currency_code.clone(),
        })
}

/// The order, if it names itself: every field is optional in the spec (production and
/// the seed disagree on all of them), so a body of another kind would decode too.
fn identified(order: types::Order) -> Result<types::Order, Error> {
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
