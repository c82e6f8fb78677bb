//! Cryptorefills under `/cryptorefills`: catalog, prices, validation problems, orders
//! `WaitingForPayment` until paid (the sandbox-only `POST /_sandbox/orders/{id}/pay`, or
//! automatically after a delay), then `WaitingForDelivery`, then `Done` with codes;
//! unpaid orders expire after the payment window. Order updates stream as SSE.

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
use crate::faults::Faults;

/// Coin amount per unit of face value (a 0.35 % fee).
const RATE: Decimal = Decimal::from_parts(10035, 0, 0, false, 4);

struct Brand {
    name: &'static str,
    family: &'static str,
    kind: &'static str,
    country: &'static str,
    fixed: &'static [i64],
    range: Option<(i64, i64)>,
}

const BRANDS: [Brand; 6] = [
    Brand {
        name: "Airbnb",
        family: "airbnb",
        kind: "giftcard",
        country: "US",
        fixed: &[25, 50, 100],
        range: None,
    },
    Brand {
        name: "Amazon",
        family: "amazon",
        kind: "giftcard",
        country: "US",
        fixed: &[10, 25, 50, 100],
        range: None,
    },
    Brand {
        name: "Steam",
        family: "steam",
        kind: "giftcard",
        country: "DE",
        fixed: &[20, 50],
        range: None,
    },
    Brand {
        name: "T-Mobile",
        family: "t-mobile",
        kind: "mobile_recharge",
        country: "US",
        fixed: &[],
        range: Some((10, 100)),
    },
    Brand {
        name: "Vodafone",
        family: "vodafone",
        kind: "mobile_recharge",
        country: "DE",
        fixed: &[15, 25],
        range: None,
    },
    Brand {
        name: "Airalo eSIM",
        family: "airalo",
        kind: "esim",
        country: "US",
        fixed: &[5, 10, 20],
        range: None,
    },
];

const VIAS: [(&str, &str); 4] = [
    ("USDC", "Solana"),
    ("USDC", "Base"),
    ("USDT", "Ethereum"),
    ("USDT", "Tron"),
];

struct Order {
    brand: usize,
    denomination: Decimal,
    quantity: i64,
    beneficiary: String,
    coin: String,
    network: String,
    created_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
}

/// Cryptorefills' state.
pub struct CryptoState {
    config: Arc<SandboxConfig>,
    faults: Faults,
    inner: Mutex<BTreeMap<String, Order>>,
    /// Signalled when an order is paid, so event streams answer at once.
    paid: tokio::sync::watch::Sender<()>,
}

impl CryptoState {
    /// Fresh state.
    pub fn new(config: Arc<SandboxConfig>, faults: Faults) -> Arc<Self> {
        Arc::new(Self {
            config,
            faults,
            inner: Mutex::new(BTreeMap::new()),
            paid: tokio::sync::watch::Sender::new(()),
        })
    }

    /// How many orders exist.
    pub fn order_count(&self) -> usize {
        self.inner.lock().expect("state lock").len()
    }

    /// Marks an order paid now; false if unknown, already paid or expired.
    pub fn pay(&self, id: &str) -> bool {
        let now = Utc::now();
        let mut orders = self.inner.lock().expect("state lock");
        let Some(order) = orders.get_mut(id) else {
            return false;
        };
        if order.paid_at.is_some() || self.status_of(order, now) == types::OrderState::Expired {
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
        let paid = self.paid_at(orders.get(id)?)?;
        Some(paid + self.config.timings.completed_after)
    }

    /// The next instant the order's status changes by the clock alone (auto-payment,
    /// expiry, delivery), if any.
    fn next_change(&self, id: &str) -> Option<DateTime<Utc>> {
        let now = Utc::now();
        let orders = self.inner.lock().expect("state lock");
        let order = orders.get(id)?;
        let candidates = match self.paid_at(order) {
            Some(paid) => [Some(paid + self.config.timings.completed_after), None],
            None => [
                Some(order.created_at + self.config.cryptorefills_payment_window),
                self.config
                    .cryptorefills_auto_pay_after
                    .map(|d| order.created_at + d),
            ],
        };
        candidates
            .into_iter()
            .flatten()
            .filter(|at| *at > now)
            .min()
    }

    fn paid_at(&self, order: &Order) -> Option<DateTime<Utc>> {
        let auto = self
            .config
            .cryptorefills_auto_pay_after
            .map(|d| order.created_at + d);
        match (order.paid_at, auto) {
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
                } else {
                    types::OrderState::Done
                }
            }
        }
    }

    fn render(&self, id: &str, order: &Order, now: DateTime<Utc>) -> types::Order {
        let brand = &BRANDS[order.brand];
        let status = self.status_of(order, now);
        let codes = (status == types::OrderState::Done).then(|| {
            (0..order.quantity)
                .map(|n| types::DeliveredCode {
                    code: Some(format!(
                        "CR-{}-{}-{n}",
                        brand.family.to_uppercase(),
                        &id[4..]
                    )),
                    pin: None,
                    url: None,
                    expires_at: None,
                })
                .collect()
        });
        let fiat = order.denomination * Decimal::from(order.quantity);
        let coin_amount = (fiat * RATE).round_dp(6);
        types::Order {
            id: id.to_owned(),
            status,
            wallet_address: Some(format!("SandboxWa11et{}", &id[4..])),
            coin_amount: Some(coin_amount),
            coin: Some(order.coin.clone()),
            network: Some(order.network.clone()),
            payment_via: Some("USER_WALLET".into()),
            created_at: Some(order.created_at.to_rfc3339()),
            expires_at: Some(
                (order.created_at + self.config.cryptorefills_payment_window).to_rfc3339(),
            ),
            deliveries: vec![types::OrderDelivery {
                kind: Some(types::ProductKind::from(brand.kind)),
                quantity: Some(order.quantity),
                deliverable: Some(types::OrderDeliverable {
                    brand_name: Some(brand.name.into()),
                    country_code: Some(brand.country.into()),
                    denomination: Some(order.denomination.to_string()),
                    localized_denomination: Some(format!("${}", order.denomination)),
                    beneficiary_account: Some(types::BeneficiaryAccount(order.beneficiary.clone())),
                }),
                codes,
            }],
            totals: Some(types::OrderTotals {
                coin: Some(order.coin.clone()),
                coin_amount: Some(coin_amount),
                fiat_amount: Some(fiat),
                fiat_currency: Some("USD".into()),
                discount_amount: None,
            }),
        }
    }

    fn order_json(&self, id: &str) -> Option<(types::Order, bool)> {
        let orders = self.inner.lock().expect("state lock");
        let order = orders.get(id)?;
        let rendered = self.render(id, order, Utc::now());
        let terminal = matches!(
            rendered.status,
            types::OrderState::Done | types::OrderState::Expired
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

async fn list_payment_vias() -> Json<Vec<types::PaymentVia>> {
    Json(
        VIAS.iter()
            .map(|(coin, network)| types::PaymentVia {
                coin: (*coin).into(),
                network: Some((*network).into()),
                payment_via: "USER_WALLET".into(),
                name: Some(format!("{coin} on {network}")),
                coin_name: None,
                network_name: None,
                logo_url: None,
                min_amount: Some(Decimal::ONE),
                max_amount: Some(Decimal::new(2500, 0)),
            })
            .collect(),
    )
}

fn brand_json(brand: &Brand) -> types::Brand {
    types::Brand {
        name: brand.name.into(),
        family_name: Some(brand.family.into()),
        country_code: Some(brand.country.into()),
        kind: Some(types::ProductKind::from(brand.kind)),
        categories: vec![brand.kind.into()],
        logo_url: Some(format!(
            "https://cdn.example.com/logos_v2/{}.webp",
            brand.family
        )),
        logo_base_url: Some(format!("https://cdn.example.com/logos_v2/{}", brand.family)),
    }
}

#[derive(Deserialize)]
struct CountryQuery {
    country_code: Option<String>,
}

fn in_country(country: Option<&str>) -> impl Iterator<Item = &'static Brand> {
    let country = country.map(str::to_uppercase);
    BRANDS
        .iter()
        .filter(move |b| country.as_deref().is_none_or(|c| c == b.country))
}

async fn list_brands(SupplierQuery(query, _): CQuery<CountryQuery>) -> Json<Vec<types::Brand>> {
    Json(
        in_country(query.country_code.as_deref())
            .map(brand_json)
            .collect(),
    )
}

async fn get_homepage(SupplierQuery(query, _): CQuery<CountryQuery>) -> Json<types::Homepage> {
    let brands: Vec<types::Brand> = in_country(query.country_code.as_deref())
        .map(brand_json)
        .collect();
    Json(types::Homepage {
        sections: vec![types::HomepageSection {
            title: Some("Trending".into()),
            brands,
        }],
    })
}

#[derive(Deserialize)]
struct ProductsQuery {
    family_name: Option<String>,
}

async fn list_products(
    Path(country): Path<String>,
    SupplierQuery(query, _): CQuery<ProductsQuery>,
) -> Json<Vec<types::Product>> {
    Json(
        in_country(Some(&country))
            .filter(|b| {
                query
                    .family_name
                    .as_deref()
                    .is_none_or(|f| f.eq_ignore_ascii_case(b.family))
            })
            .map(|brand| types::Product {
                brand_name: brand.name.into(),
                family_name: Some(brand.family.into()),
                name: Some(brand.name.into()),
                country_code: Some(brand.country.into()),
                kind: Some(types::ProductKind::from(brand.kind)),
                currency: Some("USD".into()),
                coin: Some("USDC".into()),
                description: None,
                logo_url: None,
                logo_base_url: None,
                denominations: brand
                    .fixed
                    .iter()
                    .map(|v| types::Denomination {
                        value: Some(v.to_string()),
                        localized_value: Some(format!("${v}")),
                        coin_amount: Some((Decimal::from(*v) * RATE).round_dp(6)),
                    })
                    .collect(),
                range: brand.range.map(|(min, max)| types::DenominationRange {
                    min: Some(Decimal::from(min)),
                    max: Some(Decimal::from(max)),
                    step: Some(Decimal::ONE),
                }),
            })
            .collect(),
    )
}

#[derive(Deserialize)]
struct PriceQuery {
    brand_name: String,
    country_code: String,
    face_value: String,
    coin: String,
}

async fn get_price(SupplierQuery(query, _): CQuery<PriceQuery>) -> Response {
    let Some(brand) = find_brand(&query.brand_name, &query.country_code) else {
        return http_error(StatusCode::NOT_FOUND, "Product not found");
    };
    let Ok(face_value) = query.face_value.parse::<Decimal>() else {
        return http_error(StatusCode::BAD_REQUEST, "face_value must be a number");
    };
    Json(types::Price {
        brand_name: Some(brand.name.into()),
        country_code: Some(brand.country.into()),
        face_value: Some(face_value),
        coin: Some(query.coin),
        coin_amount: (face_value * RATE).round_dp(6),
        currency: Some("USD".into()),
        rate: Some(RATE),
    })
    .into_response()
}

fn find_brand(name: &str, country: &str) -> Option<&'static Brand> {
    BRANDS
        .iter()
        .find(|b| b.name.eq_ignore_ascii_case(name) && b.country.eq_ignore_ascii_case(country))
}

/// One delivery as both request shapes carry it.
struct Delivery {
    brand: Option<usize>,
    denomination: Option<Decimal>,
    beneficiary: String,
    quantity: i64,
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

/// The documented problems of a purchase, empty when it is acceptable.
fn problems(email: &str, coin: &str, network: Option<&str>, deliveries: &[Delivery]) -> Vec<Value> {
    let mut found = Vec::new();
    if !is_email(email) {
        found.push(
            json!({"problem": "INVALID_BENEFICIARY_ACCOUNT", "moreDetails": {"field": "email"}}),
        );
    }
    let supported = VIAS
        .iter()
        .any(|(c, n)| *c == coin && network.is_none_or(|network| network == *n));
    if !supported {
        found.push(json!({"problem": "UNSUPPORTED_PROTOCOL_COIN_COMBINATION",
                          "moreDetails": {"supported": VIAS.iter().map(|(c, n)| json!([c, n])).collect::<Vec<_>>()}}));
    }
    for delivery in deliveries {
        let Some(brand) = delivery.brand.map(|i| &BRANDS[i]) else {
            found.push(json!({"problem": "NOT_AVAILABLE_PRODUCT"}));
            continue;
        };
        let valid = if brand.kind == "mobile_recharge" {
            is_e164(&delivery.beneficiary)
        } else {
            is_email(&delivery.beneficiary)
        };
        if !valid {
            found.push(json!({"problem": "INVALID_BENEFICIARY_ACCOUNT",
                              "moreDetails": {"expected": if brand.kind == "mobile_recharge" { "E.164 phone number" } else { "email" }}}));
        }
        let amount = delivery.denomination.unwrap_or_default();
        let allowed = match brand.range {
            Some((min, max)) => amount >= Decimal::from(min) && amount <= Decimal::from(max),
            None => brand.fixed.iter().any(|v| Decimal::from(*v) == amount),
        };
        if !allowed {
            let problem = match brand.range {
                Some((min, _)) if amount < Decimal::from(min) => "AMOUNT_LESS_THEN_MINIMUM_ALLOWED",
                Some(_) => "MAXIMUM_AMOUNT_PER_ORDER_EXCEEDED",
                None => "NOT_AVAILABLE_PRODUCT",
            };
            found.push(json!({"problem": problem}));
        }
        if delivery.quantity > 5 {
            found.push(json!({"problem": "PRODUCT_COUNT_EXCEEDED"}));
        }
    }
    found
}

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn delivery_of(
    brand: &str,
    country: &str,
    denomination: &str,
    beneficiary: String,
    quantity: i64,
) -> Delivery {
    let digits: String = denomination
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    Delivery {
        brand: BRANDS.iter().position(|b| {
            b.name.eq_ignore_ascii_case(brand) && b.country.eq_ignore_ascii_case(country)
        }),
        denomination: digits.parse().ok(),
        beneficiary,
        quantity,
    }
}

/// The deliveries of a request; `fields` is where each delivery keeps them (the
/// validation body has them flat, the order body under `deliverable`).
fn deliveries_in(body: &Value, fields: &str) -> Vec<Delivery> {
    body["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            delivery_of(
                &text(d, &format!("{fields}/brand_name")),
                &text(d, &format!("{fields}/country_code")),
                &text(d, &format!("{fields}/denomination")),
                text(d, &format!("{fields}/beneficiary_account")),
                d["quantity"].as_i64().unwrap_or(1),
            )
        })
        .collect()
}

async fn validate_order(SupplierJson(body, _): CJson<Value>) -> Json<Value> {
    let deliveries = deliveries_in(&body, "");
    let found = problems(
        &text(&body, "/email"),
        &text(&body, "/payment/coin"),
        body.pointer("/payment/network").and_then(Value::as_str),
        &deliveries,
    );
    Json(json!({"problems": if found.is_empty() { Value::Null } else { Value::Array(found) }}))
}

async fn create_order(
    State(state): State<Arc<CryptoState>>,
    SupplierJson(body, _): CJson<Value>,
) -> Response {
    let deliveries = deliveries_in(&body, "/deliverable");
    let network = body.pointer("/payment/network").and_then(Value::as_str);
    let coin = text(&body, "/payment/coin");
    let found = problems(&text(&body, "/user/email"), &coin, network, &deliveries);
    if deliveries.len() != 1 || !found.is_empty() {
        let body = json!({"status": 422, "detail": "The order has problems", "problems": found});
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    }
    let delivery = &deliveries[0];
    let now = Utc::now();
    let order = Order {
        brand: delivery.brand.expect("validated"),
        denomination: delivery.denomination.expect("validated"),
        quantity: delivery.quantity,
        beneficiary: delivery.beneficiary.clone(),
        coin,
        network: network.unwrap_or("Solana").to_owned(),
        created_at: now,
        paid_at: None,
    };
    let mut orders = state.inner.lock().expect("state lock");
    let id = format!("ord_{:09}", orders.len() + 1);
    let rendered = state.render(&id, &order, now);
    orders.insert(id, order);
    Json(rendered).into_response()
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
    let cut_after = state
        .faults
        .take_stream_cut(&format!("/cryptorefills/v5/orders/{id}/subscribe"));
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
                let status = order.status.to_string();
                if progress.last.as_deref() != Some(status.as_str()) {
                    progress.last = Some(status);
                    progress.sent += 1;
                    let data = serde_json::to_string(&order).expect("an order serialises");
                    return Some((Ok(Event::default().event("message").data(data)), progress));
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
