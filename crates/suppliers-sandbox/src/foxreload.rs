//! FoxReload under `/foxreload`: catalog, orders created unpaid, paid from the balance,
//! then `paid` -> `processing` -> `completed` with codes on the sandbox clock.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use foxreload::types;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;

use crate::config::SandboxConfig;
use crate::extract::{RejectionStyle, SupplierJson, SupplierQuery};

/// FastAPI answers unreadable input with 422 and a validation error list.
struct FastApi;

impl RejectionStyle for FastApi {
    fn invalid(location: &'static str, message: String) -> Response {
        validation_error(&[json!(location)], &message, "value_error")
    }
}

type FQuery<T> = SupplierQuery<T, FastApi>;
type FJson<T> = SupplierJson<T, FastApi>;

const CURRENCY: &str = "USD";

/// A catalog product.
struct CatalogItem {
    id: Cow<'static, str>,
    name: Cow<'static, str>,
    category: &'static str,
    price: Decimal,
    requires_note: bool,
}

/// The hand-picked products, then `synthetic` generated ones in `games` (for
/// benchmarks of large catalogs).
fn catalog(synthetic: usize) -> Vec<CatalogItem> {
    let item =
        |id: &'static str, name: &'static str, category, cents: i64, requires_note| CatalogItem {
            id: id.into(),
            name: name.into(),
            category,
            price: Decimal::new(cents, 2),
            requires_note,
        };
    let mut catalog = vec![
        // The seed's own product id.
        item(
            "product_01krgfgww8eth9xvvysd6y7r4j",
            "Steam 500 RUB",
            "steam",
            650,
            false,
        ),
        item(
            "product_01krgfh2m3n4p5q6r7s8t9v0wx",
            "Steam 1000 RUB",
            "steam",
            1290,
            false,
        ),
        item(
            "product_01krgfh3a1b2c3d4e5f6g7h8j9",
            "Steam 20 USD",
            "steam",
            2050,
            false,
        ),
        item(
            "product_01krgfh4k5m6n7p8q9r0s1t2v3",
            "PlayStation Store 10 USD",
            "playstation",
            1025,
            false,
        ),
        item(
            "product_01krgfh5w4x5y6z7a8b9c0d1e2",
            "PlayStation Store 50 USD",
            "playstation",
            5100,
            false,
        ),
        item(
            "product_01krgfh6f3g4h5j6k7m8n9p0q1",
            "Xbox Game Pass Ultimate 1 Month",
            "xbox",
            1699,
            false,
        ),
        item(
            "product_01krgfh7r2s3t4v5w6x7y8z9a0",
            "Mobile Legends 86 Diamonds",
            "mobile-legends",
            149,
            true,
        ),
        item(
            "product_01krgfh8b1c2d3e4f5g6h7j8k9",
            "Mobile Legends 172 Diamonds",
            "mobile-legends",
            295,
            true,
        ),
        item(
            "product_01krgfh9m0n1p2q3r4s5t6v7w8",
            "PUBG Mobile 60 UC",
            "pubg",
            99,
            true,
        ),
        item(
            "product_01krgfhax9y0z1a2b3c4d5e6f7",
            "PUBG Mobile 325 UC",
            "pubg",
            499,
            true,
        ),
    ];
    catalog.extend((1..=synthetic).map(|n| CatalogItem {
        id: format!("product_synthetic{n:017}").into(),
        name: format!("Game Card #{n}").into(),
        category: "games",
        price: Decimal::new(100 + (n % 9_900) as i64, 2),
        requires_note: false,
    }));
    catalog
}

const CATEGORIES: [(&str, &str, Option<&str>); 6] = [
    ("games", "Game cards", None),
    ("steam", "Steam", Some("games")),
    ("playstation", "PlayStation", Some("games")),
    ("xbox", "Xbox", Some("games")),
    ("mobile-legends", "Mobile Legends", None),
    ("pubg", "PUBG Mobile", None),
];

struct Order {
    id: String,
    lines: Vec<(usize, i64)>,
    total: Decimal,
    note: Option<String>,
    created_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
}

/// FoxReload's state.
pub struct FoxState {
    config: Arc<SandboxConfig>,
    catalog: Vec<CatalogItem>,
    inner: Mutex<Inner>,
}

struct Inner {
    balance: Decimal,
    stock: Vec<u32>,
    orders: BTreeMap<String, Order>,
    next: u64,
}

impl FoxState {
    /// Fresh state from the configuration.
    pub fn new(config: Arc<SandboxConfig>) -> Arc<Self> {
        let catalog = catalog(config.foxreload_synthetic_products);
        let stock = vec![config.stock_per_product; catalog.len()];
        Arc::new(Self {
            inner: Mutex::new(Inner {
                balance: config.foxreload_balance,
                stock,
                orders: BTreeMap::new(),
                next: 1,
            }),
            catalog,
            config,
        })
    }

    /// The balance now.
    pub fn balance(&self) -> Decimal {
        self.inner.lock().expect("state lock").balance
    }

    /// How many orders exist.
    pub fn order_count(&self) -> usize {
        self.inner.lock().expect("state lock").orders.len()
    }

    fn status(&self, order: &Order, now: DateTime<Utc>) -> types::OrderStatus {
        let Some(paid_at) = order.paid_at else {
            return types::OrderStatus::Active;
        };
        let elapsed = (now - paid_at).to_std().unwrap_or_default();
        let timings = &self.config.timings;
        if elapsed < timings.processing_after {
            types::OrderStatus::Paid
        } else if elapsed < timings.completed_after {
            types::OrderStatus::Processing
        } else {
            types::OrderStatus::Completed
        }
    }

    fn render(&self, order: &Order, now: DateTime<Utc>) -> types::Order {
        let status = self.status(order, now);
        let completed = status == types::OrderStatus::Completed;
        types::Order {
            id: order.id.clone(),
            status,
            items: order
                .lines
                .iter()
                .enumerate()
                .map(|(line, (index, quantity))| {
                    let product = &self.catalog[*index];
                    types::OrderItem {
                        product: types::OrderProduct {
                            id: product.id.clone().into(),
                            name: product.name.clone().into(),
                        },
                        quantity: *quantity,
                        price: Some(product.price),
                        external_data: completed
                            .then(|| (0..*quantity).map(|n| code(&order.id, line, n)).collect()),
                        error: None,
                    }
                })
                .collect(),
            total_price: Some(order.total),
            currency: Some(CURRENCY.into()),
            note: order.note.clone(),
            created_at: Some(order.created_at),
            updated_at: order.paid_at,
        }
    }
}

/// A deterministic, code-shaped string per order line and unit.
fn code(order_id: &str, line: usize, unit: i64) -> String {
    let seed = order_id
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        ^ ((line as u64) << 32)
        ^ unit as u64;
    let alphabet = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let chars: String = (0..12)
        .map(|i| alphabet[((seed >> (i * 5)) & 31) as usize] as char)
        .collect();
    format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// One offset page of `items`, rendering only the page's own, and how many there are
/// in all (so walking a large catalog page by page stays linear).
fn page<I, T>(
    items: impl IntoIterator<Item = I>,
    offset: i64,
    limit: i64,
    mut render: impl FnMut(I) -> T,
) -> (Vec<T>, i64) {
    let mut page = Vec::new();
    let mut total = 0;
    for item in items {
        if total >= offset && (page.len() as i64) < limit {
            page.push(render(item));
        }
        total += 1;
    }
    (page, total)
}

fn detail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "detail": message }))).into_response()
}

fn validation_error(loc: &[serde_json::Value], message: &str, kind: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"detail": [{"loc": loc, "msg": message, "type": kind}]})),
    )
        .into_response()
}

/// Every route needs `X-API-Key` with the sandbox credential, as the real API does.
async fn require_api_key(
    State(state): State<Arc<FoxState>>,
    request: Request,
    next: Next,
) -> Response {
    match request
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
    {
        Some(key) if key == state.config.credential => next.run(request).await,
        _ => detail(StatusCode::UNAUTHORIZED, "Invalid API key"),
    }
}

/// The routes, to nest under `/foxreload`.
pub fn router(state: Arc<FoxState>) -> Router {
    Router::new()
        .route("/api/categories/", get(list_categories))
        .route("/api/products/", get(list_products))
        .route("/api/products/search", get(search_products))
        .route("/api/orders/", get(list_orders).post(create_order))
        .route("/api/orders/{order_id}", get(get_order))
        .route("/api/orders/{order_id}/pay", post(pay_order))
        .route("/api/topups/crypto/", post(create_crypto_topup))
        .route("/api/access/me", get(get_me))
        .route("/api/access/me/balances/", get(list_balances))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ))
        .with_state(state)
}

#[derive(Deserialize)]
struct CategoryQuery {
    parent_id_or_slug: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

async fn list_categories(SupplierQuery(query, _): FQuery<CategoryQuery>) -> Response {
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    let matching: Vec<_> = CATEGORIES
        .iter()
        .filter(|(_, _, parent)| *parent == query.parent_id_or_slug.as_deref())
        .collect();
    let start = query
        .cursor
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let end = (start + limit as usize).min(matching.len());
    let items = matching[start.min(end)..end]
        .iter()
        .map(|(slug, name, parent)| types::Category {
            id: format!("category_{slug}"),
            slug: (*slug).into(),
            name: (*name).into(),
            parent_id: parent.map(|p| format!("category_{p}")),
            has_children: CATEGORIES.iter().any(|(_, _, p)| *p == Some(*slug)),
            image: None,
        })
        .collect();
    let next_cursor = (end < matching.len()).then(|| end.to_string());
    Json(types::CategoryPage {
        items,
        limit,
        next_cursor,
    })
    .into_response()
}

#[derive(Deserialize)]
struct PageQuery {
    category_id_or_slug: Option<String>,
    query: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn product_page(
    state: &FoxState,
    query: &PageQuery,
    keep: impl Fn(&CatalogItem) -> bool,
) -> Response {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return validation_error(
            &[json!("query"), json!("limit")],
            "Input should be between 1 and 100",
            "less_than_equal",
        );
    }
    let offset = query.offset.unwrap_or(0).max(0);
    let inner = state.inner.lock().expect("state lock");
    let matching = state
        .catalog
        .iter()
        .enumerate()
        .filter(|(_, item)| keep(item));
    let (items, total) = page(matching, offset, limit, |(index, item)| types::Product {
        id: item.id.clone().into(),
        name: item.name.clone().into(),
        description: None,
        category_id: Some(format!("category_{}", item.category)),
        price: item.price,
        currency: Some(CURRENCY.into()),
        in_stock: inner.stock[index] > 0,
        min_quantity: 1,
        max_quantity: Some(10),
        image: None,
        requires_note: item.requires_note,
    });
    Json(types::ProductPage {
        items,
        limit,
        offset,
        total,
    })
    .into_response()
}

async fn list_products(
    State(state): State<Arc<FoxState>>,
    SupplierQuery(query, _): FQuery<PageQuery>,
) -> Response {
    let category = query.category_id_or_slug.clone();
    product_page(&state, &query, |item| {
        category.as_deref().is_none_or(|c| {
            c == item.category
                || c.strip_prefix("category_") == Some(item.category)
                || CATEGORIES
                    .iter()
                    .any(|(slug, _, parent)| *slug == item.category && *parent == Some(c))
        })
    })
}

async fn search_products(
    State(state): State<Arc<FoxState>>,
    SupplierQuery(query, _): FQuery<PageQuery>,
) -> Response {
    let Some(text) = query.query.clone().map(|q| q.to_lowercase()) else {
        return validation_error(
            &[json!("query"), json!("query")],
            "Field required",
            "missing",
        );
    };
    product_page(&state, &query, |item| {
        item.name.to_lowercase().contains(&text) || item.id == text.as_str()
    })
}

async fn create_order(
    State(state): State<Arc<FoxState>>,
    SupplierJson(request, _): FJson<types::CreateOrderRequest>,
) -> Response {
    if request.items.is_empty() || request.items.len() > 10 {
        return validation_error(
            &[json!("body"), json!("items")],
            "List should have at least 1 item and at most 10 items",
            "too_long",
        );
    }
    let mut lines = Vec::new();
    let mut total = Decimal::ZERO;
    for item in &request.items {
        let Some(index) = state
            .catalog
            .iter()
            .position(|p| p.id == item.item_id.as_str())
        else {
            return detail(
                StatusCode::BAD_REQUEST,
                &format!("Product {} is unavailable", item.item_id),
            );
        };
        let quantity = item.quantity.get() as i64;
        if quantity > 10 {
            return detail(StatusCode::BAD_REQUEST, "Quantity out of range");
        }
        total += state.catalog[index].price * Decimal::from(quantity);
        lines.push((index, quantity));
    }
    if let Some(limit) = request.total_price
        && total > limit
    {
        return detail(
            StatusCode::BAD_REQUEST,
            "The current price is above totalPrice",
        );
    }
    let now = Utc::now();
    let mut inner = state.inner.lock().expect("state lock");
    for (index, quantity) in &lines {
        if (inner.stock[*index] as i64) < *quantity {
            return detail(
                StatusCode::BAD_REQUEST,
                &format!("{} is out of stock", state.catalog[*index].name),
            );
        }
    }
    let id = format!("5f0c3f7e-0000-4000-8000-{:012}", inner.next);
    inner.next += 1;
    let order = Order {
        id: id.clone(),
        lines,
        total,
        note: request.note,
        created_at: now,
        paid_at: None,
    };
    let rendered = state.render(&order, now);
    inner.orders.insert(id, order);
    Json(rendered).into_response()
}

async fn get_order(State(state): State<Arc<FoxState>>, Path(order_id): Path<String>) -> Response {
    let inner = state.inner.lock().expect("state lock");
    match inner.orders.get(&order_id) {
        Some(order) => Json(state.render(order, Utc::now())).into_response(),
        None => detail(StatusCode::NOT_FOUND, "Order not found"),
    }
}

#[derive(Deserialize)]
struct OrdersQuery {
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list_orders(
    State(state): State<Arc<FoxState>>,
    SupplierQuery(query, _): FQuery<OrdersQuery>,
) -> Response {
    let now = Utc::now();
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    let offset = query.offset.unwrap_or(0).max(0);
    let inner = state.inner.lock().expect("state lock");
    let matching = inner
        .orders
        .values()
        .rev()
        .map(|order| state.render(order, now))
        .filter(|order| {
            query
                .status
                .as_deref()
                .is_none_or(|s| order.status.as_str() == s)
        });
    let (items, total) = page(matching, offset, limit, |order| order);
    Json(types::OrderPage {
        items,
        limit: Some(limit),
        offset: Some(offset),
        total: Some(total),
    })
    .into_response()
}

async fn pay_order(
    State(state): State<Arc<FoxState>>,
    Path(order_id): Path<String>,
    SupplierJson(body, _): FJson<types::PayOrderRequest>,
) -> Response {
    if let Some(provider) = body.payment_provider {
        return detail(
            StatusCode::BAD_REQUEST,
            &format!("Unknown payment provider {provider}"),
        );
    }
    let now = Utc::now();
    let mut inner = state.inner.lock().expect("state lock");
    let Some(order) = inner.orders.get(&order_id) else {
        return detail(StatusCode::NOT_FOUND, "Order not found");
    };
    if order.paid_at.is_some() {
        return detail(StatusCode::CONFLICT, "Order is already paid");
    }
    let (total, lines) = (order.total, order.lines.clone());
    if inner.balance < total {
        return detail(
            StatusCode::BAD_REQUEST,
            &format!(
                "Insufficient balance: {total} {CURRENCY} required, {} available",
                inner.balance
            ),
        );
    }
    for (index, quantity) in &lines {
        if (inner.stock[*index] as i64) < *quantity {
            return detail(
                StatusCode::BAD_REQUEST,
                &format!("{} is out of stock", state.catalog[*index].name),
            );
        }
    }
    for (index, quantity) in &lines {
        inner.stock[*index] -= *quantity as u32;
    }
    inner.balance -= total;
    let order = inner.orders.get_mut(&order_id).expect("checked above");
    order.paid_at = Some(now);
    Json(types::Payment {
        id: format!("payment_{order_id}"),
        order_id,
        status: types::PaymentStatus::Paid,
        amount: Some(total),
        currency: Some(CURRENCY.into()),
        payment_provider: None,
        payment_url: None,
        created_at: Some(now),
    })
    .into_response()
}

async fn create_crypto_topup(
    SupplierJson(request, _): FJson<types::CreateCryptoTopupRequest>,
) -> Response {
    if request.amount <= Decimal::ZERO {
        return detail(
            StatusCode::BAD_REQUEST,
            "The amount is out of the allowed range",
        );
    }
    let now = Utc::now();
    Json(types::CryptoTopup {
        id: format!("topup_{}", now.timestamp_millis()),
        status: types::CryptoTopupStatus::Pending,
        amount: Some(request.amount),
        currency: Some(CURRENCY.into()),
        coin: Some(request.coin),
        network: Some(request.network),
        coin_amount: Some(request.amount),
        address: Some("TSandboxDepositAddress000000000000".into()),
        created_at: Some(now),
        expires_at: Some(now + chrono::Duration::minutes(30)),
    })
    .into_response()
}

async fn get_me() -> Response {
    Json(types::Account {
        id: "account_sandbox".into(),
        name: Some("Sandbox reseller".into()),
        email: Some("reseller@example.com".into()),
        currency: Some(CURRENCY.into()),
        created_at: None,
    })
    .into_response()
}

async fn list_balances(State(state): State<Arc<FoxState>>) -> Response {
    Json(vec![types::Balance {
        currency: CURRENCY.into(),
        amount: state.balance(),
    }])
    .into_response()
}
