//! Cryptorefills under `/cryptorefills`: catalog, prices, validation problems, orders
//! `WaitingForPayment` until paid (the sandbox-only `POST /_sandbox/orders/{id}/pay`, or
//! automatically after a delay), then `WaitingForDelivery`, then `Done` with codes, or
//! `Refunded` for the configured share; unpaid orders (a configured share is never paid)
//! expire after the payment window. Order updates stream as SSE.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use cryptorefills::types;
use futures::Stream;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::SandboxConfig;
use crate::extract::{RejectionStyle, SupplierJson, SupplierQuery};
use crate::outcomes::picked;

/// Cryptorefills answers unreadable input with its `{status, detail}` body.
struct TopLevelError;

impl RejectionStyle for TopLevelError {
    fn invalid(location: &'static str, message: String) -> Response {
        http_error(
            StatusCode::BAD_REQUEST,
            &format!("invalid {location}: {message}"),
        )
    }
}

type CQuery<T> = SupplierQuery<T, TopLevelError>;
type CJson<T> = SupplierJson<T, TopLevelError>;
use crate::faults::{Fault, Faults};

/// `refund.reason` and each delivery's `failure_reason` of a refunded order.
const REFUND_REASON: &str = "The product could not be delivered; the payment was refunded";

/// Coin amount per unit of face value (a 0.35 % fee).
const RATE: Decimal = Decimal::from_parts(10035, 0, 0, false, 4);

/// A brand family and its products: fixed ones (the denomination string production
/// orders with, and its face value), and at most one range.
struct Brand {
    name: Cow<'static, str>,
    kind: &'static str,
    category: &'static str,
    country: &'static str,
    currency: &'static str,
    fixed: &'static [(&'static str, i64)],
    /// Smallest, largest and step of a range product's face value.
    range: Option<(i64, i64, i64)>,
}

const BRANDS: [Brand; 7] = [
    Brand {
        name: Cow::Borrowed("Airbnb"),
        kind: "giftcard",
        category: "travel",
        country: "US",
        currency: "USD",
        fixed: &[("25 USD", 25), ("50 USD", 50), ("100 USD", 100)],
        range: None,
    },
    Brand {
        name: Cow::Borrowed("Amazon"),
        kind: "giftcard",
        category: "retail",
        country: "US",
        currency: "USD",
        fixed: &[
            ("10 USD", 10),
            ("25 USD", 25),
            ("50 USD", 50),
            ("100 USD", 100),
        ],
        range: None,
    },
    Brand {
        name: Cow::Borrowed("Target"),
        kind: "giftcard",
        category: "retail",
        country: "US",
        currency: "USD",
        fixed: &[("10 USD", 10)],
        range: Some((5, 200, 1)),
    },
    Brand {
        name: Cow::Borrowed("Steam"),
        kind: "giftcard",
        category: "gaming",
        country: "DE",
        currency: "EUR",
        fixed: &[("20 EUR", 20), ("50 EUR", 50)],
        range: None,
    },
    Brand {
        name: Cow::Borrowed("T-Mobile"),
        kind: "mobile_recharge",
        category: "mobile",
        country: "US",
        currency: "USD",
        fixed: &[],
        range: Some((10, 100, 5)),
    },
    Brand {
        name: Cow::Borrowed("Vodafone"),
        kind: "mobile_recharge",
        category: "mobile",
        country: "DE",
        currency: "EUR",
        fixed: &[("15 EUR", 15), ("25 EUR", 25)],
        range: None,
    },
    Brand {
        name: Cow::Borrowed("Airalo eSIM"),
        kind: "esim",
        category: "e-sim",
        country: "US",
        currency: "USD",
        fixed: &[
            ("1 GB 7 days", 5),
            ("3 GB 30 days", 10),
            ("10 GB 30 days", 20),
        ],
        range: None,
    },
];

/// A country of generated families: its code, currency and fixed denominations.
type GeneratedCountry = (&'static str, &'static str, &'static [(&'static str, i64)]);

/// `count` generated gift card families in each country of [`BRANDS`], after them.
fn generated_families(count: usize) -> impl Iterator<Item = Brand> {
    const COUNTRIES: [GeneratedCountry; 2] = [
        ("US", "USD", &[("10 USD", 10), ("25 USD", 25)]),
        ("DE", "EUR", &[("10 EUR", 10), ("25 EUR", 25)]),
    ];
    COUNTRIES
        .into_iter()
        .flat_map(move |(country, currency, fixed)| {
            (1..=count).map(move |n| Brand {
                name: Cow::Owned(format!("Generated Brand {n:05}")),
                kind: "giftcard",
                category: "generated",
                country,
                currency,
                fixed,
                range: None,
            })
        })
}

/// Payment via `USER_WALLET`: coin and its networks.
const VIAS: [(&str, &[&str]); 2] = [
    ("USDC", &["Solana", "Base"]),
    ("USDT", &["Ethereum", "Tron"]),
];

fn supported(coin: &str, network: Option<&str>) -> bool {
    VIAS.iter()
        .any(|(c, networks)| *c == coin && network.is_none_or(|n| networks.contains(&n)))
}

/// One unit of an order: what was bought and for whom.
#[derive(Clone)]
struct Unit {
    brand: usize,
    /// As ordered: the product's denomination string, or `range`.
    denomination: String,
    face_value: Decimal,
    beneficiary: String,
}

struct Order {
    units: Vec<Unit>,
    email: String,
    coin: String,
    network: String,
    created_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
    /// The customer pays it (automatically, when the configuration says so); false for
    /// the share of orders never paid, which expire unless the sandbox endpoint pays them.
    customer_pays: bool,
    /// Once paid, ends `Refunded` instead of `Done`.
    refunded: bool,
}

/// The orders, and the counter that picks the paid ones to refund.
#[derive(Default)]
struct Orders {
    by_id: BTreeMap<String, Order>,
    /// Orders created for a customer who pays, so far.
    paying: u64,
}

/// Cryptorefills' state.
pub struct CryptoState {
    config: Arc<SandboxConfig>,
    /// The hand-picked brands, then the generated ones.
    brands: Vec<Brand>,
    faults: Faults,
    inner: Mutex<Orders>,
    /// Signalled when an order is paid, so event streams answer at once.
    paid: tokio::sync::watch::Sender<()>,
}

impl CryptoState {
    /// Fresh state.
    pub fn new(config: Arc<SandboxConfig>, faults: Faults) -> Arc<Self> {
        let brands = BRANDS
            .into_iter()
            .chain(generated_families(
                config.catalog_size.cryptorefills_families,
            ))
            .collect();
        Arc::new(Self {
            brands,
            config,
            faults,
            inner: Mutex::new(Orders::default()),
            paid: tokio::sync::watch::Sender::new(()),
        })
    }

    /// How many orders exist.
    pub fn order_count(&self) -> usize {
        self.inner.lock().expect("state lock").by_id.len()
    }

    /// Every order and whether its customer paid it (a refund gives the payment back).
    pub fn books(&self) -> crate::Books {
        let now = Utc::now();
        let orders = self.inner.lock().expect("state lock");
        let mut booked: Vec<(&String, &Order)> = orders.by_id.iter().collect();
        booked.sort_by_key(|(_, order)| order.created_at);
        crate::Books {
            starting_balance: None,
            balance: None,
            orders: booked
                .into_iter()
                .map(|(id, order)| crate::BookedOrder {
                    id: id.clone(),
                    idempotency_key: None,
                    total: order.units.iter().map(|unit| unit.face_value).sum(),
                    charged: self.paid_at(order).is_some(),
                    refunded: self.status_of(order, now) == types::OrderState::Refunded,
                })
                .collect(),
        }
    }

    /// Marks an order paid now; false if unknown, already paid or expired.
    pub fn pay(&self, id: &str) -> bool {
        let now = Utc::now();
        let mut orders = self.inner.lock().expect("state lock");
        let Some(order) = orders.by_id.get_mut(id) else {
            return false;
        };
        // Paid automatically counts as paid: a second payment must not restart delivery.
        if self.paid_at(order).is_some() || self.status_of(order, now) == types::OrderState::Expired
        {
            return false;
        }
        order.paid_at = Some(now);
        drop(orders);
        self.paid.send_replace(());
        true
    }

    /// When the order reaches (or reached) `Done`: its payment time plus the delivery
    /// delay. `None` while it is unpaid, or if it is unknown.
    pub fn done_at(&self, id: &str) -> Option<DateTime<Utc>> {
        let orders = self.inner.lock().expect("state lock");
        let paid = self.paid_at(orders.by_id.get(id)?)?;
        Some(paid + self.config.timings.completed_after)
    }

    /// The next instant the order's status changes by the clock alone (auto-payment,
    /// expiry, delivery), if any.
    fn next_change(&self, id: &str) -> Option<DateTime<Utc>> {
        let now = Utc::now();
        let orders = self.inner.lock().expect("state lock");
        let order = orders.by_id.get(id)?;
        let candidates = match self.paid_at(order) {
            Some(paid) => [Some(paid + self.config.timings.completed_after), None],
            None => [
                Some(order.created_at + self.config.cryptorefills_payment_window),
                self.auto_paid_at(order),
            ],
        };
        candidates
            .into_iter()
            .flatten()
            .filter(|at| *at > now)
            .min()
    }

    /// When the customer pays by the clock alone, if they do.
    fn auto_paid_at(&self, order: &Order) -> Option<DateTime<Utc>> {
        let after = self.config.cryptorefills_auto_pay_after?;
        order.customer_pays.then(|| order.created_at + after)
    }

    fn paid_at(&self, order: &Order) -> Option<DateTime<Utc>> {
        match (order.paid_at, self.auto_paid_at(order)) {
            (Some(paid), _) => Some(paid),
            (None, Some(auto)) if auto <= Utc::now() => Some(auto),
            _ => None,
        }
    }

    fn status_of(&self, order: &Order, now: DateTime<Utc>) -> types::OrderState {
        let timings = &self.config.timings;
        match self.paid_at(order) {
            None if now - order.created_at >= self.config.cryptorefills_payment_window => {
                types::OrderState::Expired
            }
            None => types::OrderState::WaitingForPayment,
            Some(paid) => {
                let elapsed = (now - paid).to_std().unwrap_or_default();
                if elapsed < timings.completed_after {
                    types::OrderState::WaitingForDelivery
                } else if order.refunded {
                    types::OrderState::Refunded
                } else {
                    types::OrderState::Done
                }
            }
        }
    }

    /// The order as production sends it: `order_id`, the three state fields, epoch
    /// seconds as strings, codes in each delivery's `deliverable`.
    fn render(&self, id: &str, order: &Order, now: DateTime<Utc>) -> types::Order {
        let state = self.status_of(order, now);
        let done = state == types::OrderState::Done;
        let refunded = state == types::OrderState::Refunded;
        let (payment_state, delivery_state) = match state {
            types::OrderState::WaitingForPayment => (
                types::PaymentState::WalletCreated,
                types::DeliveryState::WaitingForPayment,
            ),
            types::OrderState::Expired => {
                (types::PaymentState::Expired, types::DeliveryState::Created)
            }
            types::OrderState::Refunded => {
                (types::PaymentState::Refunded, types::DeliveryState::Created)
            }
            _ if done => (
                types::PaymentState::PaymentCompleted,
                types::DeliveryState::Done,
            ),
            _ => (
                types::PaymentState::PaymentReceived,
                types::DeliveryState::Created,
            ),
        };
        let coin_amount = order
            .units
            .iter()
            .map(|u| u.face_value * RATE)
            .sum::<Decimal>()
            .round_dp(4);
        // Each order its own wallet, codes and serials, as a real supplier gives them.
        let digest = order_digest(id);
        let wallet = format!("SandboxWa11et{digest:016x}");
        let epoch = |at: DateTime<Utc>| Some(Decimal::from(at.timestamp()));
        types::Order {
            order_id: Some(id.to_owned()),
            order_state: Some(state),
            payment_state: Some(payment_state),
            created_at: epoch(order.created_at),
            updated_at: epoch(self.paid_at(order).unwrap_or(order.created_at)),
            payment_requested_at: epoch(order.created_at),
            wallet_address: Some(wallet.clone()),
            coin_amount: Some(coin_amount),
            original_price: Some(coin_amount),
            sent_coin_amount: Some(if done || refunded {
                coin_amount
            } else {
                Decimal::ZERO
            }),
            refund: refunded.then(|| types::OrderRefund {
                amount: Some(coin_amount),
                currency: Some(order.coin.clone()),
                reason: Some(REFUND_REASON.into()),
            }),
            coin: Some(order.coin.clone()),
            network: Some(order.network.clone()),
            payment_via: Some("USER_WALLET".into()),
            payment_method: Some(format!("{}-{}", order.coin, order.network.to_uppercase())),
            qr_text: Some(format!(
                "{}:{wallet}?amount={coin_amount}",
                order.network.to_lowercase()
            )),
            user: Some(types::OrderCustomer {
                email: Some(order.email.clone()),
            }),
            is_payment_processor_external: Some(false),
            deliveries: order
                .units
                .iter()
                .enumerate()
                .map(|(n, unit)| {
                    let brand = &self.brands[unit.brand];
                    let code = format!(
                        "CR-{}-{:08X}-{n}",
                        brand.name.to_uppercase().replace(' ', ""),
                        digest as u32
                    );
                    types::OrderDelivery {
                        id: Some(format!("{id}-{n}")),
                        delivery_state: Some(delivery_state.clone()),
                        kind: Some(types::ProductKind::from(brand.kind)),
                        quantity: None,
                        deliverable: Some(types::OrderDeliverable {
                            brand_name: Some(brand.name.to_string()),
                            family: Some(brand.name.to_string()),
                            country_code: Some(brand.country.into()),
                            denomination: Some(unit.denomination.clone()),
                            localized_denomination: Some(format!(
                                "{} {}",
                                unit.face_value, brand.currency
                            )),
                            product_value: (unit.denomination == "range")
                                .then_some(unit.face_value),
                            currency_code: Some(brand.currency.into()),
                            beneficiary_account: Some(types::BeneficiaryAccount(
                                unit.beneficiary.clone(),
                            )),
                            coin_amount: Some((unit.face_value * RATE).round_dp(4)),
                            pin_code: done.then_some(code),
                            pin_serial: done
                                .then(|| format!("SN{:010}{:02}", digest % 10_000_000_000, n + 1)),
                            redeem_instructions: done
                                .then(|| format!("<p>Redeem at {}</p>", brand.name)),
                            failure_reason: refunded.then(|| REFUND_REASON.into()),
                            ..types::OrderDeliverable::default()
                        }),
                    }
                })
                .collect(),
            ..types::Order::default()
        }
    }

    fn order_json(&self, id: &str) -> Option<(types::Order, bool)> {
        let orders = self.inner.lock().expect("state lock");
        let order = orders.by_id.get(id)?;
        let rendered = self.render(id, order, Utc::now());
        let terminal = matches!(
            rendered.order_state,
            Some(
                types::OrderState::Done | types::OrderState::Expired | types::OrderState::Refunded
            )
        );
        Some((rendered, terminal))
    }
}

fn http_error(status: StatusCode, detail: &str) -> Response {
    (
        status,
        Json(json!({"status": status.as_u16(), "detail": detail})),
    )
        .into_response()
}

/// Every route needs the partner headers; the application must be the sandbox credential.
async fn require_partner(
    State(state): State<Arc<CryptoState>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let application = headers
        .get("x-cr-application")
        .and_then(|v| v.to_str().ok());
    let version = headers.get("x-cr-version").and_then(|v| v.to_str().ok());
    match (application, version) {
        (Some(app), Some(version)) if app == state.config.credential && !version.is_empty() => {
            next.run(request).await
        }
        _ => http_error(StatusCode::UNAUTHORIZED, "Unknown partner application"),
    }
}

/// The routes, to nest under `/cryptorefills`.
pub fn router(state: Arc<CryptoState>) -> Router {
    Router::new()
        .route("/v3/payment_vias", get(list_payment_vias))
        .route("/v2/brands", get(list_brands))
        .route("/v2/homepage", get(get_homepage))
        .route("/v5/products/country/{country}", get(list_products))
        .route("/v4/products/price", get(get_price))
        .route("/v5/orders/validations", post(validate_order))
        .route("/v5/orders", post(create_order))
        .route("/v5/orders/{id}", get(get_order))
        .route("/v5/orders/{id}/subscribe", get(subscribe_order))
        .route("/_sandbox/orders/{id}/pay", post(sandbox_pay))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_partner,
        ))
        .with_state(state)
}

/// Nested, as production answers: via, then coins, then networks.
async fn list_payment_vias() -> Json<Vec<types::PaymentVia>> {
    let currencies = VIAS
        .iter()
        .map(|(coin, networks)| types::PaymentViaCurrency {
            name: Some((*coin).into()),
            is_suspended: Some(false),
            threshold: Some(Decimal::TEN),
            networks: networks
                .iter()
                .map(|network| types::PaymentNetwork {
                    name: Some((*network).into()),
                    is_suspended: Some(false),
                    threshold: Some(Decimal::new(56, 2)),
                    ..types::PaymentNetwork::default()
                })
                .collect(),
            ..types::PaymentViaCurrency::default()
        })
        .collect();
    Json(vec![types::PaymentVia {
        name: Some("USER_WALLET".into()),
        available: Some(true),
        currencies,
        ..types::PaymentVia::default()
    }])
}

fn brand_json(brand: &Brand) -> types::Brand {
    let values = brand
        .fixed
        .iter()
        .map(|(_, v)| *v)
        .chain(brand.range.iter().flat_map(|(min, max, _)| [*min, *max]));
    let (min, max) = (values.clone().min(), values.max());
    types::Brand {
        family: Some(brand.name.to_string()),
        brand: Some(brand.name.to_string()),
        brand_id: Some(format!("{:08x}", brand.name.len() * 2654435761)),
        country_code: Some(brand.country.into()),
        kind: Some(types::ProductKind::from(brand.kind)),
        category: Some(brand.category.into()),
        is_out_of_stock: Some(false),
        min: min.map(|v| format!("{v} {}", brand.currency)),
        max: max.map(|v| format!("{v} {}", brand.currency)),
        logo_url: Some(format!(
            "https://cdn.example.com/logos_v2/{}.webp",
            brand.name.to_lowercase().replace(' ', "-")
        )),
        ..types::Brand::default()
    }
}

#[derive(Deserialize)]
struct CountryQuery {
    country_code: Option<String>,
}

impl CryptoState {
    fn in_country(&self, country: Option<&str>) -> impl Iterator<Item = &Brand> {
        let country = country.map(str::to_uppercase);
        self.brands
            .iter()
            .filter(move |b| country.as_deref().is_none_or(|c| c == b.country))
    }

    fn find_brand(&self, name: &str, country: &str) -> Option<usize> {
        find_brand(&self.brands, name, country)
    }
}

/// A request the spec refuses: 400 with Cryptorefills' `{status, detail}`.
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        http_error(StatusCode::BAD_REQUEST, &self.0)
    }
}

/// `country_code` is required, as the spec says; 400 otherwise.
fn country_query(query: &CountryQuery) -> Result<&str, BadRequest> {
    match query.country_code.as_deref() {
        Some(country) if is_country(country) => Ok(country),
        _ => Err(BadRequest(
            "country_code must be an ISO 3166-1 alpha-2 code".into(),
        )),
    }
}

/// An object, as production answers: every brand, by category too.
async fn list_brands(
    State(state): State<Arc<CryptoState>>,
    SupplierQuery(query, _): CQuery<CountryQuery>,
) -> Response {
    if let Err(rejection) = country_query(&query) {
        return rejection.into_response();
    }
    let brands: Vec<types::Brand> = state
        .in_country(query.country_code.as_deref())
        .map(brand_json)
        .collect();
    let mut categories: BTreeMap<(&str, &str), Vec<types::Brand>> = BTreeMap::new();
    for brand in state.in_country(query.country_code.as_deref()) {
        categories
            .entry((brand.kind, brand.category))
            .or_default()
            .push(brand_json(brand));
    }
    Json(types::BrandCatalog {
        country_code: query.country_code,
        popular_brands: brands.iter().take(3).cloned().collect(),
        all_brands: brands,
        categories: categories
            .into_iter()
            .map(|((kind, category), brands)| types::BrandCategory {
                kind: Some(types::ProductKind::from(kind)),
                category: Some(category.into()),
                brands,
                ..types::BrandCategory::default()
            })
            .collect(),
        ..types::BrandCatalog::default()
    })
    .into_response()
}

async fn get_homepage(
    State(state): State<Arc<CryptoState>>,
    SupplierQuery(query, _): CQuery<CountryQuery>,
) -> Response {
    if let Err(rejection) = country_query(&query) {
        return rejection.into_response();
    }
    let brands: Vec<types::Brand> = state
        .in_country(query.country_code.as_deref())
        .map(brand_json)
        .collect();
    Json(types::Homepage {
        sections: vec![types::HomepageSection {
            title: Some("Trending".into()),
            brands,
        }],
    })
    .into_response()
}

#[derive(Deserialize)]
struct ProductsQuery {
    family_name: Option<String>,
    brand_name: Option<String>,
}

fn face_value(brand: &Brand, amount: types::FaceValueAmount) -> Option<types::FaceValue> {
    Some(types::FaceValue {
        currency_code: Some(brand.currency.into()),
        amount: Some(amount),
    })
}

fn family_json(brand: &Brand) -> types::BrandFamily {
    let fixed = brand.fixed.iter().map(|(denomination, value)| {
        let value = Decimal::from(*value);
        types::Product {
            product_id: Some(
                format!("{}-{denomination}", brand.name)
                    .to_lowercase()
                    .replace(' ', "-"),
            ),
            is_dynamic: Some(false),
            denomination: Some((*denomination).into()),
            localized_denomination: Some((*denomination).into()),
            coin: Some("USDC".into()),
            coin_amount: Some((value * RATE).round_dp(4)),
            payment_method: Some("USDC-SOL".into()),
            delivery_type: Some(types::DeliveryType::ByEmail),
            product_type: Some("digital".into()),
            face_value: face_value(
                brand,
                types::FaceValueAmount {
                    type_: Some(types::FaceValueAmountType::Fixed),
                    price: Some(value),
                    ..types::FaceValueAmount::default()
                },
            ),
            ..types::Product::default()
        }
    });
    let range = brand.range.map(|(min, max, step)| {
        let (min, max, step) = (Decimal::from(min), Decimal::from(max), Decimal::from(step));
        types::Product {
            product_id: Some(
                format!("{}-range", brand.name)
                    .to_lowercase()
                    .replace(' ', "-"),
            ),
            is_dynamic: Some(true),
            coin: Some("USDC".into()),
            range: Some(types::ProductRange {
                min: Some(min),
                max: Some(max),
                step_size: Some(step),
                default: Some(max),
                currency: Some(brand.currency.into()),
            }),
            face_value: face_value(
                brand,
                types::FaceValueAmount {
                    type_: Some(types::FaceValueAmountType::Range),
                    min: Some(types::FaceValueBound::Variant0(min)),
                    max: Some(types::FaceValueBound::Variant0(max)),
                    ..types::FaceValueAmount::default()
                },
            ),
            ..types::Product::default()
        }
    });
    types::BrandFamily {
        family: Some(brand.name.to_string()),
        brand: Some(brand.name.to_string()),
        kind: Some(types::ProductKind::from(brand.kind)),
        category: Some(brand.category.into()),
        country_code: Some(brand.country.into()),
        is_out_of_stock: Some(false),
        products: fixed.chain(range).collect(),
        ..types::BrandFamily::default()
    }
}

/// Production answers 400 to a product list without a family.
async fn list_products(
    State(state): State<Arc<CryptoState>>,
    Path(country): Path<String>,
    SupplierQuery(query, _): CQuery<ProductsQuery>,
) -> Response {
    if !is_country(&country) {
        return http_error(
            StatusCode::BAD_REQUEST,
            "the country must be an ISO 3166-1 alpha-2 code",
        );
    }
    let Some(family) = query.family_name else {
        return http_error(StatusCode::BAD_REQUEST, "family_name is required");
    };
    let families: Vec<types::BrandFamily> = state
        .in_country(Some(&country))
        .filter(|b| b.name.eq_ignore_ascii_case(&family))
        .filter(|b| {
            query
                .brand_name
                .as_deref()
                .is_none_or(|n| n.eq_ignore_ascii_case(&b.name))
        })
        .map(family_json)
        .collect();
    Json(families).into_response()
}

#[derive(Deserialize)]
struct PriceQuery {
    brand_name: String,
    country_code: Option<String>,
    face_value: String,
    coin: String,
}

async fn get_price(
    State(state): State<Arc<CryptoState>>,
    SupplierQuery(query, _): CQuery<PriceQuery>,
) -> Response {
    let country = query.country_code.as_deref().unwrap_or("US");
    let Some(brand) = state
        .find_brand(&query.brand_name, country)
        .map(|i| &state.brands[i])
    else {
        return http_error(StatusCode::NOT_FOUND, "Product not found");
    };
    let Ok(face_value) = query.face_value.parse::<Decimal>() else {
        return http_error(StatusCode::BAD_REQUEST, "face_value must be a number");
    };
    let coin_amount = (face_value * RATE).round_dp(4);
    Json(types::Price {
        coin: Some(query.coin),
        coin_amount,
        original_coin_amount: Some(coin_amount),
        is_dynamic: Some(brand.range.is_some()),
        delivery_type: Some(types::DeliveryType::ByEmail),
        payment_method: None,
        points: None,
        product_id: None,
        product_type: Some("digital".into()),
        range: None,
    })
    .into_response()
}

fn find_brand(brands: &[Brand], name: &str, country: &str) -> Option<usize> {
    brands
        .iter()
        .position(|b| b.name.eq_ignore_ascii_case(name) && b.country.eq_ignore_ascii_case(country))
}

/// ISO 3166-1 alpha-2 form: two capital letters.
fn is_country(value: &str) -> bool {
    value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase())
}

fn is_email(value: &str) -> bool {
    let mut parts = value.splitn(2, '@');
    let (local, domain) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    !local.is_empty() && domain.contains('.') && !value.contains(char::is_whitespace)
}

fn is_e164(value: &str) -> bool {
    value.strip_prefix('+').is_some_and(|d| {
        (7..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()) && !d.starts_with('0')
    })
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A decimal sent as a JSON number or a string.
fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// The units of a request, from flat deliveries (what production integrations send)
/// or the seed's nested `{kind, quantity, deliverable}` form, with the problems found.
fn units_of(brands: &[Brand], body: &Value) -> (Vec<Unit>, Vec<Value>) {
    let (mut units, mut problems) = (Vec::new(), Vec::new());
    for delivery in body["deliveries"].as_array().into_iter().flatten() {
        let (fields, quantity) = match delivery.get("deliverable") {
            // Any count past 10 is refused below; one too large for u64 is such a count.
            Some(nested) => (nested, delivery["quantity"].as_u64().unwrap_or(u64::MAX)),
            None => (delivery, 1),
        };
        let Some(index) = find_brand(
            brands,
            text(fields, "/brand_name"),
            text(fields, "/country_code"),
        ) else {
            problems.push(json!({"problem": "NOT_AVAILABLE_PRODUCT", "moreDetails": null}));
            continue;
        };
        let brand = &brands[index];
        let denomination = text(fields, "/denomination");
        let value = if denomination == "range" {
            match (brand.range, fields.get("product_value").and_then(decimal)) {
                (Some((min, max, step)), Some(value)) => {
                    let (min, max, step) =
                        (Decimal::from(min), Decimal::from(max), Decimal::from(step));
                    if value < min {
                        problems.push(json!({"problem": "AMOUNT_TOO_LOW", "moreDetails": {"min": min.to_string()}}));
                    } else if value > max {
                        problems.push(json!({"problem": "AMOUNT_TOO_HIGH", "moreDetails": {"max": max.to_string()}}));
                    } else if !((value - min) % step).is_zero() {
                        problems.push(json!({"problem": "INVALID_PRODUCT_VALUE", "moreDetails": {"step": step.to_string()}}));
                    }
                    Some(value)
                }
                _ => {
                    problems.push(json!({"problem": "INVALID_PRODUCT_VALUE", "moreDetails": null}));
                    None
                }
            }
        } else {
            // The seed's nested form sends the face value as a plain number.
            let fixed = brand
                .fixed
                .iter()
                .find(|(d, v)| *d == denomination || v.to_string() == denomination);
            if fixed.is_none() {
                problems.push(json!({"problem": "INVALID_DENOMINATION", "moreDetails": {"denomination": denomination}}));
            }
            fixed.map(|(_, v)| Decimal::from(*v))
        };
        let beneficiary = text(fields, "/beneficiary_account").to_owned();
        let valid = if brand.kind == "mobile_recharge" {
            is_e164(&beneficiary)
        } else {
            is_email(&beneficiary)
        };
        if !valid {
            let expected = if brand.kind == "mobile_recharge" {
                "E.164 phone number"
            } else {
                "email"
            };
            problems.push(json!({"problem": "INVALID_BENEFICIARY_ACCOUNT", "moreDetails": {"expected": expected}}));
        }
        if let Some(face_value) = value {
            let unit = Unit {
                brand: index,
                denomination: if denomination == "range" {
                    "range".into()
                } else {
                    denomination.to_owned()
                },
                face_value,
                beneficiary,
            };
            // At most 11 copies: enough to refuse the order, never a huge list.
            units.extend(std::iter::repeat_n(unit, quantity.min(11) as usize));
        }
    }
    if units.len() > 10 {
        problems.push(json!({"problem": "PRODUCT_COUNT_EXCEEDED", "moreDetails": {"max": 10}}));
    }
    (units, problems)
}

/// The end user's email: top-level `email` or `user.email`.
fn email_of(body: &Value) -> &str {
    match text(body, "/email") {
        "" => text(body, "/user/email"),
        email => email,
    }
}

/// Every problem of a request, empty when it is acceptable.
fn problems_of(brands: &[Brand], body: &Value) -> (Vec<Unit>, Vec<Value>) {
    let (units, mut problems) = units_of(brands, body);
    let email = email_of(body);
    if !is_email(email) {
        problems.push(
            json!({"problem": "INVALID_BENEFICIARY_ACCOUNT", "moreDetails": {"field": "email"}}),
        );
    }
    // A sandbox convention for trying a problem the seed does not list.
    if email == "kyc@example.com" {
        problems.push(json!({"problem": "KYC_MISSING", "moreDetails": null}));
    }
    let coin = text(body, "/payment/coin");
    let network = body.pointer("/payment/network").and_then(Value::as_str);
    if !supported(coin, network) {
        let supported: Vec<Value> = VIAS
            .iter()
            .flat_map(|(c, networks)| networks.iter().map(move |n| json!([c, n])))
            .collect();
        problems.push(json!({"problem": "UNSUPPORTED_PROTOCOL_COIN_COMBINATION",
                             "moreDetails": {"supported": supported}}));
    }
    (units, problems)
}

/// Every field of the order request bodies, where it stands (`*` an element of a list).
/// None is nullable in the spec; unknown fields may hold anything.
const REQUEST_FIELDS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "email",
            "user",
            "payment",
            "deliveries",
            "lang",
            "promo_code",
            "coupon",
            "acquisition",
            "refund_wallet_address",
        ],
    ),
    ("/user", &["email", "has_accepted_newsletter"]),
    ("/payment", &["type", "payment_via", "coin", "network"]),
    ("/acquisition", &["utm_source"]),
    (
        "/deliveries/*",
        &[
            "beneficiary_account",
            "brand_name",
            "country_code",
            "denomination",
            "product_value",
            "localized_denomination",
            "kind",
            "quantity",
            "deliverable",
        ],
    ),
    (
        "/deliveries/*/deliverable",
        &[
            "brand_name",
            "country_code",
            "denomination",
            "beneficiary_account",
            "product_value",
        ],
    ),
];

/// The pointer of a field of the request that is `null`.
fn null_field(body: &Value) -> Option<String> {
    let deliveries = body["deliveries"].as_array().map_or(0, Vec::len);
    REQUEST_FIELDS.iter().find_map(|(parent, fields)| {
        let parents: Vec<String> = match parent.split_once('*') {
            Some((before, after)) => (0..deliveries)
                .map(|n| format!("{before}{n}{after}"))
                .collect(),
            None => vec![(*parent).to_owned()],
        };
        parents.into_iter().find_map(|parent| {
            let object = body.pointer(&parent)?.as_object()?;
            fields
                .iter()
                .find(|field| object.get(**field).is_some_and(Value::is_null))
                .map(|field| format!("{parent}/{field}"))
        })
    })
}

/// A 400 unless `body` is an object of the shape of `T` (the generated request type), with
/// 1 to 10 deliveries and no `null` field. A `product_value` no decimal can hold is left
/// to the order's problems (`INVALID_PRODUCT_VALUE`), as the supplier reports it.
fn shaped<T: serde::de::DeserializeOwned>(body: &Value) -> Result<(), BadRequest> {
    let invalid = |why: String| BadRequest(format!("invalid body: {why}"));
    if !body.is_object() {
        return Err(invalid("not an object".into()));
    }
    if let Some(path) = null_field(body) {
        return Err(invalid(format!("null at {path}")));
    }
    let deliveries = body["deliveries"].as_array().map_or(0, Vec::len);
    if !(1..=10).contains(&deliveries) {
        return Err(invalid(format!("1 to 10 deliveries, not {deliveries}")));
    }
    let deliveries = body["deliveries"].as_array().into_iter().flatten();
    for (n, delivery) in deliveries.enumerate() {
        if let Some(kind) = delivery.get("kind")
            && !kind
                .as_str()
                .is_some_and(|k| types::ProductKind::KNOWN.contains(&k))
        {
            return Err(invalid(format!(
                "/deliveries/{n}/kind is not a product kind"
            )));
        }
    }
    if !body["payment"]["type"]
        .as_str()
        .is_some_and(|t| types::PaymentType::KNOWN.contains(&t))
    {
        return Err(invalid("/payment/type is not a payment type".into()));
    }
    // Counts and amounts past what Rust integers and decimals hold are schema-valid: the
    // order's problems report them.
    let mut shape = body.clone();
    for delivery in shape["deliveries"].as_array_mut().into_iter().flatten() {
        for (pointer, stand_in) in [
            ("/product_value", json!(0)),
            ("/deliverable/product_value", json!(0)),
            ("/quantity", json!(1)),
        ] {
            // A count below 1 stays, for the type to refuse.
            if let Some(value) = delivery.pointer_mut(pointer)
                && value
                    .as_f64()
                    .is_some_and(|v| pointer != "/quantity" || v >= 1.0)
            {
                *value = stand_in;
            }
        }
    }
    serde_json::from_value::<T>(shape)
        .map(drop)
        .map_err(|err| invalid(err.to_string()))
}

/// A priced preview: `problems` null when the order is acceptable.
async fn validate_order(
    State(state): State<Arc<CryptoState>>,
    SupplierJson(body, _): CJson<Value>,
) -> Response {
    if let Err(rejection) = shaped::<types::ValidateOrderRequest>(&body) {
        return rejection.into_response();
    }
    let (units, problems) = problems_of(&state.brands, &body);
    let coin_amount: Decimal = units
        .iter()
        .map(|u| u.face_value * RATE)
        .sum::<Decimal>()
        .round_dp(4);
    Json(json!({
        "coin": text(&body, "/payment/coin"),
        "coin_amount": coin_amount.to_string(),
        "original_coin_amount": coin_amount.to_string(),
        "coupon_code": null,
        "deliveries": [],
        "problems": if problems.is_empty() { Value::Null } else { Value::Array(problems) },
    }))
    .into_response()
}

async fn create_order(
    State(state): State<Arc<CryptoState>>,
    SupplierJson(body, _): CJson<Value>,
) -> Response {
    if let Err(rejection) = shaped::<types::CreateOrderRequest>(&body) {
        return rejection.into_response();
    }
    let (units, problems) = problems_of(&state.brands, &body);
    if units.is_empty() || !problems.is_empty() {
        let body = json!({"status": 422, "detail": "The order has problems", "problems": problems});
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    }
    let mut orders = state.inner.lock().expect("state lock");
    let now = Utc::now();
    let customer_pays = !picked(
        orders.by_id.len() as u64,
        state.config.cryptorefills_unpaid_share,
    );
    let refunded = customer_pays && picked(orders.paying, state.config.failure_share);
    orders.paying += u64::from(customer_pays);
    let order = Order {
        units,
        email: email_of(&body).to_owned(),
        coin: text(&body, "/payment/coin").to_owned(),
        network: body
            .pointer("/payment/network")
            .and_then(Value::as_str)
            .unwrap_or("Solana")
            .to_owned(),
        created_at: now,
        paid_at: None,
        customer_pays,
        refunded,
    };
    let id = format!("2f1e0d9c-0000-4000-8000-{:012}", orders.by_id.len() + 1);
    let rendered = state.render(&id, &order, now);
    orders.by_id.insert(id, order);
    (StatusCode::CREATED, Json(rendered)).into_response()
}

async fn get_order(State(state): State<Arc<CryptoState>>, Path(id): Path<String>) -> Response {
    match state.order_json(&id) {
        Some((order, _)) => Json(order).into_response(),
        None => http_error(StatusCode::NOT_FOUND, "Order not found"),
    }
}

async fn sandbox_pay(State(state): State<Arc<CryptoState>>, Path(id): Path<String>) -> Response {
    if state.pay(&id) {
        get_order(State(state), Path(id)).await
    } else {
        http_error(
            StatusCode::CONFLICT,
            "Order is unknown, already paid or expired",
        )
    }
}

/// `message` events with the order JSON on every change, `stop` at a terminal state,
/// keep-alive comments in between.
async fn subscribe_order(
    State(state): State<Arc<CryptoState>>,
    Path(id): Path<String>,
) -> Response {
    if state.order_json(&id).is_none() {
        return http_error(StatusCode::NOT_FOUND, "Order not found");
    }
    let fault = state
        .faults
        .take_stream_fault(&format!("/cryptorefills/v5/orders/{id}/subscribe"));
    let cut_after = match fault {
        Some(Fault::CutStreamAfter(events)) => Some(events),
        Some(Fault::SilentStream) => {
            // Open, then nothing at all: no event, no keep-alive.
            let silent = futures::stream::pending::<Result<Event, Infallible>>();
            return Sse::new(silent).into_response();
        }
        _ => None,
    };
    Sse::new(order_events(state, id, cut_after))
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(15))
                .text("keep-alive"),
        )
        .into_response()
}

fn order_events(
    state: Arc<CryptoState>,
    id: String,
    cut_after: Option<usize>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    struct Progress {
        last: Option<String>,
        sent: usize,
        stopped: bool,
        paid: tokio::sync::watch::Receiver<()>,
    }
    let start = Progress {
        last: None,
        sent: 0,
        stopped: false,
        paid: state.paid.subscribe(),
    };
    futures::stream::unfold(start, move |mut progress| {
        let state = state.clone();
        let id = id.clone();
        async move {
            if progress.stopped || cut_after.is_some_and(|n| progress.sent >= n) {
                return None;
            }
            loop {
                let (order, terminal) = state.order_json(&id)?;
                let status = order
                    .order_state
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                if progress.last.as_deref() != Some(status.as_str()) {
                    progress.last = Some(status);
                    progress.sent += 1;
                    let data = serde_json::to_string(&order).expect("an order serialises");
                    // Unnamed, as the one recorded stream of it sends them.
                    return Some((Ok(Event::default().data(data)), progress));
                }
                if terminal {
                    progress.stopped = true;
                    // With data: a WHATWG EventSource drops an event whose data is empty.
                    return Some((Ok(Event::default().event("stop").data("{}")), progress));
                }
                // Sleep until the clock changes the status or a payment arrives: an
                // update goes out the moment it happens, not at the next tick.
                let wait = state
                    .next_change(&id)
                    .map_or(Duration::from_secs(3600), |at| {
                        (at - Utc::now()).to_std().unwrap_or_default()
                    });
                tokio::select! {
                    _ = progress.paid.changed() => {}
                    () = tokio::time::sleep(wait + Duration::from_millis(1)) => {}
                }
            }
        }
    })
}

/// A stable 64-bit digest of an order id (FNV-1a): the sequential ids share their
/// first characters, their digests do not.
fn order_digest(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
