//! FoxReload under `/foxreload`: catalog, orders created unpaid, paid from the balance,
//! then `paid` -> `processing` -> `completed` with codes on the sandbox clock, or
//! `failed` and refunded for the configured share of payments.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

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

use crate::config::{CatalogSize, SandboxConfig};
use crate::extract::{RejectionStyle, SupplierJson, SupplierQuery};
use crate::outcomes::picked;

/// FastAPI answers unreadable input with 422 and a validation error list.
struct FastApi;

impl RejectionStyle for FastApi {
    fn invalid(location: &'static str, message: String) -> Response {
        validation_error(&[json!(location)], &message, "value_error")
    }
}

type FQuery<T> = SupplierQuery<T, FastApi>;
type FJson<T> = SupplierJson<T, FastApi>;

/// FoxReload writes currencies in lowercase.
const CURRENCY: &str = "usd";

/// How long a created order waits for payment before it is cancelled.
const PAYMENT_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// `items[].error` of a failed order.
const FAILURE_REASON: &str =
    "The provider could not fulfil this item; the order total was refunded to the balance";

/// A catalog product.
struct CatalogItem {
    id: Cow<'static, str>,
    name: Cow<'static, str>,
    /// The slug of its category.
    category: Cow<'static, str>,
    /// `None`: listed, not priced (production sends `price: null`).
    price: Option<Decimal>,
    min_quantity: i64,
    max_quantity: i64,
    /// `requiredNoteFields` with each one's `noteFieldTypes` entry.
    note_fields: &'static [(&'static str, &'static str)],
    /// Stock is not tracked (production sends `quantity: null`): top-ups.
    unlimited: bool,
}

const NONE: &[(&str, &str)] = &[];
const PLAYER: &[(&str, &str)] = &[("player_id", "integer")];
const STEAM_LOGIN: &[(&str, &str)] = &[("login", "string")];

/// The hand-picked products, then `synthetic` generated ones in `games` (for
/// benchmarks of large catalogs).
fn catalog(synthetic: usize) -> Vec<CatalogItem> {
    let item = |id: &'static str, name: &'static str, category, cents: Option<i64>, note_fields| {
        CatalogItem {
            id: id.into(),
            name: name.into(),
            category: Cow::Borrowed(category),
            price: cents.map(|c| Decimal::new(c, 2)),
            min_quantity: 1,
            max_quantity: 10,
            note_fields,
            unlimited: false,
        }
    };
    let mut catalog = vec![
        // The seed's own product id.
        item(
            "product_01krgfgww8eth9xvvysd6y7r4j",
            "Steam 500 RUB",
            "steam",
            Some(650),
            NONE,
        ),
        item(
            "product_01krgfh2m3n4p5q6r7s8t9v0wx",
            "Steam 1000 RUB",
            "steam",
            Some(1290),
            NONE,
        ),
        item(
            "product_01krgfh3a1b2c3d4e5f6g7h8j9",
            "Steam 20 USD",
            "steam",
            Some(2050),
            NONE,
        ),
        CatalogItem {
            max_quantity: 300,
            unlimited: true,
            ..item(
                "product_01kq2w3e4r5t6y7u8i9o0p1a2s",
                "$1 Steam top up",
                "steam",
                Some(103),
                STEAM_LOGIN,
            )
        },
        item(
            "product_01krgfh4k5m6n7p8q9r0s1t2v3",
            "PlayStation Store 10 USD",
            "playstation",
            Some(1025),
            NONE,
        ),
        item(
            "product_01krgfh5w4x5y6z7a8b9c0d1e2",
            "PlayStation Store 50 USD",
            "playstation",
            Some(5100),
            NONE,
        ),
        item(
            "product_01krgfh6f3g4h5j6k7m8n9p0q1",
            "Xbox Game Pass Ultimate 1 Month",
            "xbox",
            Some(1699),
            NONE,
        ),
        // Listed without a price, as production lists some offers.
        item(
            "product_01krgfh6z9y8x7w6v5t4s3r2q1",
            "Xbox Gift Card 100 USD",
            "xbox",
            None,
            NONE,
        ),
        item(
            "product_01krgfh7r2s3t4v5w6x7y8z9a0",
            "Mobile Legends 86 Diamonds",
            "mobile-legends",
            Some(149),
            PLAYER,
        ),
        item(
            "product_01krgfh8b1c2d3e4f5g6h7j8k9",
            "Mobile Legends 172 Diamonds",
            "mobile-legends",
            Some(295),
            PLAYER,
        ),
        item(
            "product_01krgfh9m0n1p2q3r4s5t6v7w8",
            "PUBG Mobile 60 UC",
            "pubg",
            Some(99),
            PLAYER,
        ),
        item(
            "product_01krgfhax9y0z1a2b3c4d5e6f7",
            "PUBG Mobile 325 UC",
            "pubg",
            Some(499),
            PLAYER,
        ),
    ];
    catalog.extend((1..=synthetic).map(|n| CatalogItem {
        id: format!("product_synthetic{n:017}").into(),
        name: format!("Game Card #{n}").into(),
        category: Cow::Borrowed("games"),
        price: Some(Decimal::new(100 + (n % 9_900) as i64, 2)),
        min_quantity: 1,
        max_quantity: 10,
        note_fields: NONE,
        unlimited: false,
    }));
    catalog
}

/// Slug, name, parent slug of the hand-picked categories. Ids are UUIDv7-shaped,
/// derived from the slug.
const CATEGORIES: [(&str, &str, Option<&str>); 6] = [
    ("games", "Game cards", None),
    ("steam", "Steam", Some("games")),
    ("playstation", "PlayStation", Some("games")),
    ("xbox", "Xbox", Some("games")),
    ("mobile-legends", "Mobile Legends", None),
    ("pubg", "PUBG Mobile", None),
];

/// A stable UUIDv7-shaped id for a category slug.
fn category_id(slug: &str) -> String {
    let hash = slug.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    format!(
        "019e2c41-7a0b-7{:03x}-9{:03x}-{:012x}",
        hash & 0xfff,
        (hash >> 12) & 0xfff,
        (hash >> 24) & 0xffff_ffff_ffff
    )
}

/// A category of the sandbox's catalog.
struct CategoryEntry {
    slug: Cow<'static, str>,
    name: Cow<'static, str>,
    parent: Option<&'static str>,
}

/// The hand-picked categories, then `size.foxreload_categories` generated ones of
/// `size.foxreload_products_per_category` products each, with those products.
fn categories(size: &CatalogSize) -> (Vec<CategoryEntry>, Vec<CatalogItem>) {
    let mut categories: Vec<CategoryEntry> = CATEGORIES
        .iter()
        .map(|(slug, name, parent)| CategoryEntry {
            slug: Cow::Borrowed(slug),
            name: Cow::Borrowed(name),
            parent: *parent,
        })
        .collect();
    let mut products = Vec::new();
    for c in 1..=size.foxreload_categories {
        let slug = format!("generated-{c:05}");
        products.extend(
            (1..=size.foxreload_products_per_category).map(|p| CatalogItem {
                id: format!("product_gen{c:05}x{p:017}").into(),
                name: format!("Gift card {c}-{p}").into(),
                category: Cow::Owned(slug.clone()),
                price: Some(Decimal::new(100 + (p % 9_900) as i64, 2)),
                min_quantity: 1,
                max_quantity: 10,
                note_fields: NONE,
                unlimited: false,
            }),
        );
        categories.push(CategoryEntry {
            slug: Cow::Owned(slug),
            name: format!("Generated category {c}").into(),
            parent: None,
        });
    }
    (categories, products)
}

struct Order {
    id: String,
    lines: Vec<(usize, i64)>,
    total: Decimal,
    idempotency_key: Option<String>,
    /// A test order (`isMock`): paying it charges nothing and takes no stock.
    mock: bool,
    created_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
    /// Picked at payment to end `failed` instead of `completed`.
    fails: bool,
}

/// FoxReload's state.
pub struct FoxState {
    config: Arc<SandboxConfig>,
    categories: Vec<CategoryEntry>,
    catalog: Vec<CatalogItem>,
    inner: Mutex<Inner>,
}

struct Inner {
    balance: Decimal,
    stock: Vec<u32>,
    orders: BTreeMap<String, Order>,
    /// Every `idempotencyKey` an order was created with.
    idempotency_keys: HashSet<String>,
    next: u64,
    /// Orders paid so far: the counter that picks the ones to fail.
    payments: u64,
    /// Failing orders not refunded yet, by the instant they fail.
    refunds_due: BTreeSet<(DateTime<Utc>, String)>,
}

impl FoxState {
    /// Fresh state from the configuration.
    pub fn new(config: Arc<SandboxConfig>) -> Arc<Self> {
        let mut catalog = catalog(config.foxreload_synthetic_products);
        let (categories, generated) = categories(&config.catalog_size);
        catalog.extend(generated);
        let stock = vec![config.stock_per_product; catalog.len()];
        Arc::new(Self {
            inner: Mutex::new(Inner {
                balance: config.foxreload_balance,
                stock,
                orders: BTreeMap::new(),
                idempotency_keys: HashSet::new(),
                next: 1,
                payments: 0,
                refunds_due: BTreeSet::new(),
            }),
            categories,
            catalog,
            config,
        })
    }

    /// The slug of a category named by id or slug.
    fn category_slug(&self, id_or_slug: &str) -> Option<&str> {
        self.categories
            .iter()
            .map(|c| c.slug.as_ref())
            .find(|slug| *slug == id_or_slug || category_id(slug) == id_or_slug)
    }

    /// The balance now.
    pub fn balance(&self) -> Decimal {
        self.lock().0.balance
    }

    /// How many orders exist.
    pub fn order_count(&self) -> usize {
        self.lock().0.orders.len()
    }

    /// Every order and what it charged: paid ones from the balance (test orders charge
    /// nothing), refunded once failed.
    pub fn books(&self) -> crate::Books {
        let (inner, _) = self.lock();
        let mut orders: Vec<&Order> = inner.orders.values().collect();
        orders.sort_by_key(|order| order.created_at);
        crate::Books {
            starting_balance: Some(self.config.foxreload_balance),
            balance: Some(inner.balance),
            orders: orders
                .into_iter()
                .map(|order| crate::BookedOrder {
                    id: order.id.clone(),
                    idempotency_key: order.idempotency_key.clone(),
                    total: order.total,
                    charged: order.paid_at.is_some() && !order.mock,
                    refunded: order.fails
                        && !inner.refunds_due.iter().any(|(_, id)| *id == order.id),
                })
                .collect(),
        }
    }

    /// The state, with every order that has failed by now refunded, and that instant:
    /// what a request sees is settled up to the moment it reads.
    fn lock(&self) -> (MutexGuard<'_, Inner>, DateTime<Utc>) {
        let mut inner = self.inner.lock().expect("state lock");
        let now = Utc::now();
        while let Some(first) = inner.refunds_due.first()
            && first.0 <= now
        {
            let (_, id) = inner.refunds_due.pop_first().expect("just seen");
            let order = &inner.orders[&id];
            if order.mock {
                continue;
            }
            let (total, lines) = (order.total, order.lines.clone());
            inner.balance += total;
            for (index, quantity) in lines {
                if !self.catalog[index].unlimited {
                    inner.stock[index] += quantity as u32;
                }
            }
        }
        (inner, now)
    }

    fn status(&self, order: &Order, now: DateTime<Utc>) -> types::OrderStatus {
        let Some(paid_at) = order.paid_at else {
            return if now >= order.created_at + PAYMENT_WINDOW {
                types::OrderStatus::Cancelled
            } else {
                types::OrderStatus::Active
            };
        };
        let elapsed = (now - paid_at).to_std().unwrap_or_default();
        let timings = &self.config.timings;
        if elapsed < timings.processing_after {
            types::OrderStatus::Paid
        } else if elapsed < timings.completed_after {
            types::OrderStatus::Processing
        } else if order.fails {
            types::OrderStatus::Failed
        } else {
            types::OrderStatus::Completed
        }
    }

    fn render(&self, order: &Order, now: DateTime<Utc>) -> types::Order {
        let status = self.status(order, now);
        let completed = status == types::OrderStatus::Completed;
        let failed = status == types::OrderStatus::Failed;
        let cancel_reason = (status == types::OrderStatus::Cancelled)
            .then_some(types::CancelReason::PaymentExpiration);
        types::Order {
            id: order.id.clone(),
            status,
            cancel_reason,
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
                        price: product.price,
                        external_data: completed
                            .then(|| codes(&order.id, line, product, *quantity).into()),
                        error: failed.then(|| FAILURE_REASON.into()),
                        user_guide: Some("Redeem in the store's app or website".into()),
                    }
                })
                .collect(),
            total_price: Some(order.total),
            currency: Some(CURRENCY.into()),
            created_at: Some(order.created_at),
            payment_expires_at: Some(order.created_at + PAYMENT_WINDOW),
            updated_at: order.paid_at,
        }
    }

    fn product(&self, index: usize, stock: &[u32]) -> types::Product {
        let item = &self.catalog[index];
        let note_types: std::collections::HashMap<String, types::NoteFieldType> = item
            .note_fields
            .iter()
            .map(|(field, kind)| ((*field).to_owned(), types::NoteFieldType::from(*kind)))
            .collect();
        let mut attributes = serde_json::Map::new();
        attributes.insert("country_code".into(), json!("WW"));
        attributes.insert("platform".into(), json!(item.category));
        types::Product {
            id: item.id.clone().into(),
            name: item.name.clone().into(),
            slug: Some(item.id.trim_start_matches("product_").to_owned()),
            category_id: Some(category_id(&item.category)),
            description: None,
            attributes,
            price: item.price,
            currency: Some(CURRENCY.into()),
            quantity: (!item.unlimited).then_some(i64::from(stock[index])),
            order_min_quantity: Some(item.min_quantity),
            order_max_quantity: Some(item.max_quantity),
            required_note_fields: Some(
                item.note_fields
                    .iter()
                    .map(|(f, _)| (*f).to_owned())
                    .collect(),
            ),
            note_field_types: Some(note_types),
            note_field_options: Some(serde_json::Map::new()),
            user_guide: None,
        }
    }

    fn index_of(&self, product_id: &str) -> Option<usize> {
        self.catalog.iter().position(|p| p.id == product_id)
    }
}

/// The codes of one order line: one per unit, or one for a top-up (its quantity is the
/// amount).
fn codes(order_id: &str, line: usize, product: &CatalogItem, quantity: i64) -> Vec<String> {
    let units = if product.unlimited { 1 } else { quantity };
    (0..units).map(|n| code(order_id, line, n)).collect()
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

/// `{detail, code}`, as production answers business errors.
fn coded(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "detail": message, "code": code }))).into_response()
}

fn validation_error(loc: &[serde_json::Value], message: &str, kind: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"detail": [{"loc": loc, "msg": message, "type": kind}]})),
    )
        .into_response()
}

/// A query value outside its bounds: FastAPI's 422.
struct OutOfBounds {
    name: &'static str,
    min: i64,
    max: i64,
}

impl IntoResponse for OutOfBounds {
    fn into_response(self) -> Response {
        let Self { name, min, max } = self;
        validation_error(
            &[json!("query"), json!(name)],
            &format!("Input should be between {min} and {max}"),
            "less_than_equal",
        )
    }
}

/// A query integer of any size, as FastAPI reads one (Python integers have no bound);
/// saturated to `i64`, so a huge offset is past the end rather than unreadable.
#[derive(Debug, Clone, Copy)]
struct QueryInt(i64);

impl<'de> Deserialize<'de> for QueryInt {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom(format!(
                "{text:?} is not an integer"
            )));
        }
        let value = digits.parse::<i64>().unwrap_or(i64::MAX);
        Ok(Self(if negative { -value } else { value }))
    }
}

/// The query value `name`, or `default`; refused outside `min..=max`.
fn bounded(
    name: &'static str,
    value: Option<QueryInt>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, OutOfBounds> {
    let value = value.map_or(default, |v| v.0);
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(OutOfBounds { name, min, max })
    }
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
        .route("/api/categories/{category_id_or_slug}", get(get_category))
        .route("/api/products/", get(list_products))
        .route("/api/products/search", get(search_products))
        .route("/api/products/{product_id}", get(get_product))
        .route("/api/products/{product_id}/", get(get_product))
        .route("/api/orders/", get(list_orders).post(create_order))
        .route("/api/orders/{order_id}", get(get_order))
        .route("/api/orders/{order_id}/pay", post(pay_order))
        .route("/api/topups/crypto/", post(create_crypto_topup))
        .route("/api/topups/rates/{currency}", get(get_topup_rates))
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
    limit: Option<QueryInt>,
    #[serde(rename = "withStockOnly")]
    with_stock_only: Option<bool>,
    tag: Option<String>,
}

fn category(state: &FoxState, entry: &CategoryEntry) -> types::Category {
    let (slug, name, parent) = (entry.slug.as_ref(), entry.name.as_ref(), entry.parent);
    let products = || state.catalog.iter().filter(|p| p.category == slug);
    let count = products().count() as i64;
    types::Category {
        id: category_id(slug),
        slug: Some(slug.into()),
        name: name.into(),
        description: Some(format!("<p>{name}</p>")),
        tags: Some(vec!["games".into()]),
        parent_id: parent.map(category_id),
        has_products: Some(count > 0),
        in_stock_count: Some(count),
        best_offer_price: products().filter_map(|p| p.price).min(),
        attributes: Some(serde_json::Map::from_iter([(
            "country_code".into(),
            json!("WW"),
        )])),
        attribute_definitions: Some(Vec::new()),
    }
}

async fn list_categories(
    State(state): State<Arc<FoxState>>,
    SupplierQuery(query, _): FQuery<CategoryQuery>,
) -> Response {
    let limit = match bounded("limit", query.limit, 50, 1, 200) {
        Ok(limit) => limit,
        Err(rejection) => return rejection.into_response(),
    };
    let parent = query
        .parent_id_or_slug
        .as_deref()
        .map(|p| state.category_slug(p).unwrap_or(""));
    let stock_only = query.with_stock_only.unwrap_or(false);
    let matching: Vec<types::Category> = state
        .categories
        .iter()
        .filter(|c| parent.is_none() || c.parent == parent)
        .map(|c| category(&state, c))
        .filter(|c| !stock_only || c.in_stock_count.unwrap_or(0) > 0)
        .filter(|c| {
            query
                .tag
                .as_ref()
                .is_none_or(|t| c.tags.iter().flatten().any(|x| x == t))
        })
        .collect();
    let start = query
        .cursor
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let end = (start + limit as usize).min(matching.len());
    let items = matching[start.min(end)..end].to_vec();
    let next_cursor = (end < matching.len()).then(|| end.to_string());
    Json(types::CategoryPage {
        items,
        limit,
        next_cursor,
    })
    .into_response()
}

async fn get_category(
    State(state): State<Arc<FoxState>>,
    Path(id_or_slug): Path<String>,
) -> Response {
    let slug = state.category_slug(&id_or_slug);
    match state
        .categories
        .iter()
        .find(|c| Some(c.slug.as_ref()) == slug)
    {
        Some(entry) => Json(category(&state, entry)).into_response(),
        None => coded(StatusCode::NOT_FOUND, "NOT_FOUND", "Category not found"),
    }
}

#[derive(Deserialize)]
struct PageQuery {
    category_id_or_slug: Option<String>,
    query: Option<String>,
    limit: Option<QueryInt>,
    offset: Option<QueryInt>,
    #[serde(rename = "withStockOnly")]
    with_stock_only: Option<bool>,
}

/// Whether `item` is listed in the category of slug `slug` (its own products, not its
/// subcategories': walking every category lists each product once). `None`, a category
/// the sandbox does not have, lists nothing.
fn in_category(item: &CatalogItem, slug: Option<&str>) -> bool {
    slug == Some(item.category.as_ref())
}

/// Indices of the products `keep` accepts, in stock when the query asks.
fn matching<'a>(
    state: &'a FoxState,
    stock: &'a [u32],
    query: &'a PageQuery,
    keep: impl Fn(&CatalogItem) -> bool + 'a,
) -> impl Iterator<Item = usize> + 'a {
    let stock_only = query.with_stock_only.unwrap_or(false);
    state
        .catalog
        .iter()
        .enumerate()
        .filter_map(move |(index, item)| {
            let in_stock = item.unlimited || stock[index] > 0;
            (keep(item) && (in_stock || !stock_only)).then_some(index)
        })
}

async fn list_products(
    State(state): State<Arc<FoxState>>,
    SupplierQuery(query, _): FQuery<PageQuery>,
) -> Response {
    let Some(category) = query.category_id_or_slug.clone() else {
        return validation_error(
            &[json!("query"), json!("category_id_or_slug")],
            "Field required",
            "missing",
        );
    };
    let limit = match bounded("limit", query.limit, 50, 1, 200) {
        Ok(limit) => limit,
        Err(rejection) => return rejection.into_response(),
    };
    let offset = match bounded("offset", query.offset, 0, 0, i64::MAX) {
        Ok(offset) => offset,
        Err(rejection) => return rejection.into_response(),
    };
    let (inner, _) = state.lock();
    let slug = state.category_slug(&category);
    let indices = matching(&state, &inner.stock, &query, |item| in_category(item, slug));
    let (items, total) = page(indices, offset, limit, |index| {
        state.product(index, &inner.stock)
    });
    Json(types::ProductPage {
        items,
        limit: Some(limit),
        offset: Some(offset),
        total: Some(total),
    })
    .into_response()
}

/// Production answers a search with a bare array, not a page.
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
    let limit = match bounded("limit", query.limit, 50, 1, 200) {
        Ok(limit) => limit,
        Err(rejection) => return rejection.into_response(),
    };
    let slug = query
        .category_id_or_slug
        .as_deref()
        .map(|c| state.category_slug(c));
    let (inner, _) = state.lock();
    let found: Vec<types::Product> = matching(&state, &inner.stock, &query, |item| {
        (item.name.to_lowercase().contains(&text) || item.id == text.as_str())
            && slug.is_none_or(|slug| in_category(item, slug))
    })
    .take(limit as usize)
    .map(|index| state.product(index, &inner.stock))
    .collect();
    Json(found).into_response()
}

async fn get_product(
    State(state): State<Arc<FoxState>>,
    Path(product_id): Path<String>,
) -> Response {
    let (inner, _) = state.lock();
    match state.index_of(&product_id) {
        Some(index) => Json(state.product(index, &inner.stock)).into_response(),
        None => coded(StatusCode::NOT_FOUND, "NOT_FOUND", "Product not found"),
    }
}

/// Whether a note value has the form its declared type asks.
fn note_ok(value: Option<&serde_json::Value>, kind: &str) -> bool {
    match (value, kind) {
        (None, _) => false,
        (Some(v), "integer") => {
            v.is_i64() || v.as_str().is_some_and(|s| s.trim().parse::<i64>().is_ok())
        }
        (Some(v), _) => v.as_str().is_some_and(|s| !s.trim().is_empty()),
    }
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
    for (n, item) in request.items.iter().enumerate() {
        let Some(index) = state.index_of(&item.item_id) else {
            return coded(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                &format!("Product {} not found", item.item_id),
            );
        };
        let product = &state.catalog[index];
        let Some(price) = product.price else {
            return coded(
                StatusCode::BAD_REQUEST,
                "OFFER_PRICE_NOT_MATCHED",
                &format!("{} has no offer now", product.name),
            );
        };
        let quantity = item.quantity.get() as i64;
        if !(product.min_quantity..=product.max_quantity).contains(&quantity) {
            return validation_error(
                &[json!("body"), json!("items"), json!(n), json!("quantity")],
                &format!(
                    "Quantity should be between {} and {}",
                    product.min_quantity, product.max_quantity
                ),
                "value_error",
            );
        }
        let note = item.note.as_ref();
        if let Some((field, _)) = product
            .note_fields
            .iter()
            .find(|(field, kind)| !note_ok(note.and_then(|n| n.get(*field)), kind))
        {
            return validation_error(
                &[
                    json!("body"),
                    json!("items"),
                    json!(n),
                    json!("note"),
                    json!(field),
                ],
                &format!("{field} is required for {}", product.name),
                "missing",
            );
        }
        total += price * Decimal::from(quantity);
        lines.push((index, quantity));
    }
    if let Some(limit) = request.total_price
        && total > limit
    {
        return coded(
            StatusCode::BAD_REQUEST,
            "OFFER_PRICE_NOT_MATCHED",
            "The current price is above totalPrice",
        );
    }
    let (mut inner, now) = state.lock();
    if let Some(key) = &request.idempotency_key
        && inner.idempotency_keys.contains(key)
    {
        return coded(
            StatusCode::CONFLICT,
            "ORDER_ALREADY_EXISTS",
            "An order with this idempotencyKey exists",
        );
    }
    if let Some(short) = out_of_stock(&state, &inner.stock, &lines) {
        return short;
    }
    let id = format!("5f0c3f7e-0000-4000-8000-{:012}", inner.next);
    inner.next += 1;
    let order = Order {
        id: id.clone(),
        lines,
        total,
        idempotency_key: request.idempotency_key,
        mock: request.is_mock,
        created_at: now,
        paid_at: None,
        fails: false,
    };
    let rendered = state.render(&order, now);
    if let Some(key) = &order.idempotency_key {
        inner.idempotency_keys.insert(key.clone());
    }
    inner.orders.insert(id, order);
    (StatusCode::CREATED, Json(rendered)).into_response()
}

/// A 400 naming the first line the stock cannot cover.
fn out_of_stock(state: &FoxState, stock: &[u32], lines: &[(usize, i64)]) -> Option<Response> {
    let (index, _) = lines.iter().find(|(index, quantity)| {
        !state.catalog[*index].unlimited && i64::from(stock[*index]) < *quantity
    })?;
    Some(detail(
        StatusCode::BAD_REQUEST,
        &format!("{} is out of stock", state.catalog[*index].name),
    ))
}

async fn get_order(State(state): State<Arc<FoxState>>, Path(order_id): Path<String>) -> Response {
    let (inner, now) = state.lock();
    match inner.orders.get(&order_id) {
        Some(order) => Json(state.render(order, now)).into_response(),
        None => coded(StatusCode::NOT_FOUND, "NOT_FOUND", "Order not found"),
    }
}

#[derive(Deserialize)]
struct OrdersQuery {
    status: Option<String>,
    limit: Option<QueryInt>,
    offset: Option<QueryInt>,
}

/// Newest first, unpaid orders included; `status` keeps the orders in that status
/// now. Only the page's own orders are rendered, so walking every page of a long
/// history stays linear.
async fn list_orders(
    State(state): State<Arc<FoxState>>,
    SupplierQuery(query, _): FQuery<OrdersQuery>,
) -> Response {
    let limit = match bounded("limit", query.limit, 20, 1, 100) {
        Ok(limit) => limit,
        Err(rejection) => return rejection.into_response(),
    };
    let offset = match bounded("offset", query.offset, 0, 0, i64::MAX) {
        Ok(offset) => offset,
        Err(rejection) => return rejection.into_response(),
    };
    // FastAPI checks an enum query against its values.
    if let Some(status) = &query.status
        && !types::OrderStatus::KNOWN.contains(&status.as_str())
    {
        return validation_error(
            &[json!("query"), json!("status")],
            &format!(
                "Input should be one of {}",
                types::OrderStatus::KNOWN.join(", ")
            ),
            "enum",
        );
    }
    let status = query.status.as_deref().map(types::OrderStatus::from);
    let (inner, now) = state.lock();
    let matching = inner.orders.values().rev().filter(|order| {
        status
            .as_ref()
            .is_none_or(|s| state.status(order, now) == *s)
    });
    let (items, total) = page(matching, offset, limit, |order| state.render(order, now));
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
    SupplierJson(body, _): FJson<serde_json::Value>,
) -> Response {
    // `{"paymentProvider": null}` (what production integrations send) or `{}`; serde
    // would also read a struct from `[]`, which FastAPI refuses.
    let Some(body) = body.as_object() else {
        return validation_error(&[json!("body")], "Input should be an object", "model_type");
    };
    let provider = match body.get("paymentProvider") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(provider)) => Some(provider.clone()),
        Some(_) => {
            return validation_error(
                &[json!("body"), json!("paymentProvider")],
                "Input should be a valid string",
                "string_type",
            );
        }
    };
    // FastAPI reads `paymentReturnUrl` as a pydantic URL: a relative or malformed one is a 422
    // even when no provider will use it.
    match body.get("paymentReturnUrl") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(url)) if url::Url::parse(url).is_ok() => {}
        Some(serde_json::Value::String(_)) => {
            return validation_error(
                &[json!("body"), json!("paymentReturnUrl")],
                "Input should be a valid URL, relative URL without a base",
                "url_parsing",
            );
        }
        Some(_) => {
            return validation_error(
                &[json!("body"), json!("paymentReturnUrl")],
                "URL input should be a string or URL",
                "url_type",
            );
        }
    }
    if let Some(provider) = provider {
        return coded(
            StatusCode::BAD_REQUEST,
            "ORDER_PAYMENT_NOT_POSSIBLE",
            &format!("Payment provider {provider} is not available"),
        );
    }
    let (mut inner, now) = state.lock();
    let Some(order) = inner.orders.get(&order_id) else {
        return coded(StatusCode::NOT_FOUND, "NOT_FOUND", "Order not found");
    };
    if state.status(order, now) != types::OrderStatus::Active {
        return coded(
            StatusCode::CONFLICT,
            "ORDER_PAYMENT_NOT_POSSIBLE",
            "The order is not awaiting payment",
        );
    }
    let (total, lines, mock) = (order.total, order.lines.clone(), order.mock);
    if !mock {
        if inner.balance < total {
            return coded(
                StatusCode::BAD_REQUEST,
                "BALANCE_NOT_ENOUGH",
                &format!(
                    "Insufficient balance: {total} {CURRENCY} required, {} available",
                    inner.balance
                ),
            );
        }
        if let Some(short) = out_of_stock(&state, &inner.stock, &lines) {
            return short;
        }
        for (index, quantity) in &lines {
            if !state.catalog[*index].unlimited {
                inner.stock[*index] -= *quantity as u32;
            }
        }
        inner.balance -= total;
    }
    let fails = picked(inner.payments, state.config.failure_share);
    inner.payments += 1;
    if fails {
        let failing_at = now + state.config.timings.completed_after;
        inner.refunds_due.insert((failing_at, order_id.clone()));
    }
    let order = inner.orders.get_mut(&order_id).expect("checked above");
    order.paid_at = Some(now);
    order.fails = fails;
    Json(types::Payment {
        id: Some(format!("payment_{order_id}")),
        order_id: Some(order_id),
        status: Some(types::PaymentStatus::Paid),
        amount: Some(total),
        currency: Some(CURRENCY.into()),
        payment_provider: None,
        payment_url: None,
        created_at: Some(now),
    })
    .into_response()
}

async fn create_crypto_topup(SupplierJson(body, _): FJson<serde_json::Value>) -> Response {
    // Any JSON number is schema-valid; one no decimal can hold is out of range too.
    let amount_in_range = body
        .get("amount")
        .and_then(|a| {
            a.as_f64()
                .or_else(|| a.as_str().and_then(|s| s.parse().ok()))
        })
        .is_some_and(|a| a > 0.0 && a < 1e12);
    let request = match serde_json::from_value::<types::CreateCryptoTopupRequest>(body) {
        Ok(request) if amount_in_range => request,
        Ok(_) => {
            return detail(
                StatusCode::BAD_REQUEST,
                "The amount is out of the allowed range",
            );
        }
        Err(_) if !amount_in_range => {
            return detail(
                StatusCode::BAD_REQUEST,
                "The amount is out of the allowed range",
            );
        }
        Err(err) => {
            return validation_error(&[json!("body")], &err.to_string(), "value_error");
        }
    };
    let now = Utc::now();
    let topup = types::CryptoTopup {
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
    };
    (StatusCode::CREATED, Json(topup)).into_response()
}

async fn get_topup_rates(Path(currency): Path<String>) -> Response {
    let from = currency.to_lowercase();
    Json(types::TopupRates {
        rates: vec![types::TopupRate {
            from,
            to: "usdt".into(),
            rate: Decimal::ONE,
        }],
    })
    .into_response()
}

async fn get_me() -> Response {
    Json(types::Account {
        id: Some("account_sandbox".into()),
        name: Some("Sandbox reseller".into()),
        email: Some("reseller@example.com".into()),
        currency: Some(CURRENCY.into()),
        is_active: Some(true),
    })
    .into_response()
}

async fn list_balances(State(state): State<Arc<FoxState>>) -> Response {
    Json(vec![types::Balance {
        currency: CURRENCY.into(),
        available: state.balance(),
    }])
    .into_response()
}
