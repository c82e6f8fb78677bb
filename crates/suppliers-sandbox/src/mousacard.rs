//! MousaCard under `/mousacard`: the `{success, data}` envelope, orders paid from the
//! balance at once, codes products completed instantly or after processing, a
//! subscription product with account details, and a product the store rejects (and,
//! as it always has here, keeps the money). A configured share of orders is rejected
//! too, and refunded.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use mousacard::types;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;

use crate::config::SandboxConfig;
use crate::extract::{RejectionStyle, SupplierJson, SupplierQuery};
use crate::outcomes::picked;

/// The store answers unreadable input with its error envelope.
struct Envelope;

impl RejectionStyle for Envelope {
    fn invalid(location: &'static str, message: String) -> Response {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("invalid {location}: {message}"),
        )
    }
}

/// How an order for a product ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fulfilment {
    /// Completed in the purchase response, with codes.
    InstantCodes,
    /// `processing`, then `completed` with codes.
    LaterCodes,
    /// `processing`, then `completed` with account details.
    Subscription,
    /// `processing`, then `rejected`, the money kept.
    Rejected,
}

struct Item {
    id: i64,
    name: &'static str,
    parent: Option<(i64, &'static str)>,
    category: &'static str,
    price: Decimal,
    max_quantity: i64,
    player_id: bool,
    fulfilment: Fulfilment,
}

fn catalog() -> Vec<Item> {
    let item = |id, name, parent, category, price: i64, max_quantity, player_id, fulfilment| Item {
        id,
        name,
        parent,
        category,
        price: Decimal::new(price, 0),
        max_quantity,
        player_id,
        fulfilment,
    };
    use Fulfilment::*;
    vec![
        // The seed's variable product 123 and its two variations.
        item(
            12310,
            "100 Credits",
            Some((123, "Game Credits Pack")),
            "games",
            5,
            10,
            true,
            LaterCodes,
        ),
        item(
            12311,
            "500 Credits",
            Some((123, "Game Credits Pack")),
            "games",
            20,
            10,
            true,
            LaterCodes,
        ),
        item(
            12330,
            "Gift Card 10 USD",
            None,
            "gift-cards",
            10,
            10,
            false,
            InstantCodes,
        ),
        item(
            12331,
            "Gift Card 25 USD",
            None,
            "gift-cards",
            25,
            10,
            false,
            InstantCodes,
        ),
        item(
            12340,
            "iTunes 50 USD",
            None,
            "gift-cards",
            50,
            5,
            false,
            LaterCodes,
        ),
        item(
            12420,
            "Netflix 1 Month",
            None,
            "subscriptions",
            15,
            1,
            false,
            Subscription,
        ),
        item(
            12430,
            "Spotify Premium 1 Month",
            None,
            "subscriptions",
            10,
            1,
            false,
            Subscription,
        ),
        item(
            12500,
            "Regional Voucher (always rejected)",
            None,
            "gift-cards",
            3,
            10,
            false,
            Rejected,
        ),
    ]
}

const CATEGORIES: [(i64, &str, &str); 3] = [
    (1, "Games", "games"),
    (2, "Gift Cards", "gift-cards"),
    (3, "Subscriptions", "subscriptions"),
];

/// The first order id, as in the seed's examples.
const FIRST_ORDER_ID: i64 = 242_859;

struct Order {
    item: usize,
    quantity: i64,
    total: Decimal,
    created_at: DateTime<Utc>,
    /// Ends `rejected`: its product always is, or it was picked to fail.
    rejected: bool,
}

/// MousaCard's state.
pub struct MousaState {
    config: Arc<SandboxConfig>,
    catalog: Vec<Item>,
    inner: Mutex<Inner>,
}

struct Inner {
    balance: Decimal,
    stock: HashMap<i64, u32>,
    orders: BTreeMap<i64, Order>,
    next: i64,
    /// Orders picked to be rejected and not refunded yet, by the instant they are
    /// rejected.
    refunds_due: BTreeSet<(DateTime<Utc>, i64)>,
}

impl MousaState {
    /// Fresh state from the configuration.
    pub fn new(config: Arc<SandboxConfig>) -> Arc<Self> {
        let catalog = catalog();
        let stock = catalog
            .iter()
            .map(|i| (i.id, config.stock_per_product))
            .collect();
        Arc::new(Self {
            inner: Mutex::new(Inner {
                balance: config.mousacard_balance,
                stock,
                orders: BTreeMap::new(),
                next: FIRST_ORDER_ID,
                refunds_due: BTreeSet::new(),
            }),
            catalog,
            config,
        })
    }

    /// The balance now.
    pub fn balance(&self) -> Decimal {
        self.lock().0.balance
    }

    /// How many orders exist.
    pub fn order_count(&self) -> usize {
        self.lock().0.orders.len()
    }

    /// Every order and what it charged: all of them at creation, refunded once an
    /// order picked to fail is rejected.
    pub fn books(&self) -> crate::Books {
        let (inner, _) = self.lock();
        crate::Books {
            starting_balance: Some(self.config.mousacard_balance),
            balance: Some(inner.balance),
            orders: inner
                .orders
                .iter()
                .map(|(id, order)| crate::BookedOrder {
                    id: id.to_string(),
                    idempotency_key: None,
                    total: order.total,
                    charged: true,
                    refunded: picked((id - FIRST_ORDER_ID) as u64, self.config.failure_share)
                        && !inner.refunds_due.iter().any(|(_, due)| due == id),
                })
                .collect(),
        }
    }

    /// The state, with every order picked to fail and rejected by now refunded (total
    /// to the balance, units to the stock), and that instant.
    fn lock(&self) -> (MutexGuard<'_, Inner>, DateTime<Utc>) {
        let mut inner = self.inner.lock().expect("state lock");
        let now = Utc::now();
        while let Some(first) = inner.refunds_due.first()
            && first.0 <= now
        {
            let (_, id) = inner.refunds_due.pop_first().expect("just seen");
            let order = &inner.orders[&id];
            let (total, quantity) = (order.total, order.quantity);
            let product = self.catalog[order.item].id;
            inner.balance += total;
            *inner
                .stock
                .get_mut(&product)
                .expect("every product has stock") += quantity as u32;
        }
        (inner, now)
    }

    /// An order picked to be rejected is `processing` until then, even for a product
    /// that completes at once.
    fn status(&self, order: &Order, now: DateTime<Utc>) -> &'static str {
        let fulfilment = self.catalog[order.item].fulfilment;
        let done = (now - order.created_at).to_std().unwrap_or_default()
            >= self.config.timings.completed_after;
        match (fulfilment, order.rejected, done) {
            (Fulfilment::InstantCodes, false, _) => "completed",
            (_, _, false) => "processing",
            (_, true, true) => "rejected",
            (_, false, true) => "completed",
        }
    }

    fn codes(&self, id: i64, order: &Order, status: &str) -> Vec<String> {
        let item = &self.catalog[order.item];
        let has_codes = matches!(
            item.fulfilment,
            Fulfilment::InstantCodes | Fulfilment::LaterCodes
        );
        if status != "completed" || !has_codes {
            return Vec::new();
        }
        (0..order.quantity)
            .map(|n| format!("MC{:04}-{:06}-{n:02}", item.id % 10_000, id % 1_000_000))
            .collect()
    }

    fn subscription(
        &self,
        id: i64,
        order: &Order,
        status: &str,
    ) -> Option<types::SubscriptionDetails> {
        let item = &self.catalog[order.item];
        (status == "completed" && item.fulfilment == Fulfilment::Subscription).then(|| {
            types::SubscriptionDetails {
                email: Some(format!("sandbox+{id}@example.com")),
                password: Some(format!("sandbox-pass-{id}")),
                url: Some("https://example.com/login".into()),
                notes: Some("Valid for 30 days".into()),
            }
        })
    }

    fn render(&self, id: i64, order: &Order, now: DateTime<Utc>) -> types::Order {
        let item = &self.catalog[order.item];
        let status = self.status(order, now);
        types::Order {
            order_id: id,
            status: types::OrderStatus::from(status),
            product_id: item.id.to_string(),
            product_name: Some(item.name.into()),
            quantity: order.quantity,
            total: order.total,
            currency_name: "USD".into(),
            currency_symbol: "$".into(),
            created_at: Some(order.created_at.format("%Y-%m-%d %H:%M:%S").to_string()),
            variation: item.parent.map(|_| item.name.into()),
            codes: self.codes(id, order, status),
            subscription_details: self.subscription(id, order, status),
        }
    }

    fn summary(&self, item: &Item) -> types::ProductSummary {
        types::ProductSummary {
            id: item.id.to_string(),
            name: item.name.into(),
            price: item.price,
            currency_name: "USD".into(),
            currency_symbol: "$".into(),
            available: true,
            min_quantity: 1,
            max_quantity: item.max_quantity,
            categories: vec![category_name(item.category).into()],
            custom_fields: custom_fields(item),
            thumbnail: Some("https://example.com/image.png".into()),
            description: None,
        }
    }
}

fn category_name(slug: &str) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(_, _, s)| *s == slug)
        .map_or("Other", |(_, name, _)| name)
}

fn custom_fields(item: &Item) -> Vec<types::CustomField> {
    if !item.player_id {
        return Vec::new();
    }
    vec![types::CustomField {
        key: "playerid".into(),
        label: "Player ID".into(),
        type_: types::CustomFieldType::Text,
        required: Some(true),
        options: None,
    }]
}

fn ok<T: serde::Serialize>(data: T) -> Response {
    Json(json!({"success": true, "data": data})).into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"success": false, "error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// Every route needs `Authorization: Bearer <sandbox credential>`.
async fn require_token(
    State(state): State<Arc<MousaState>>,
    request: Request,
    next: Next,
) -> Response {
    let expected = format!("Bearer {}", state.config.credential);
    match request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        Some(value) if value == expected => next.run(request).await,
        _ => error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing or invalid API token",
        ),
    }
}

/// The routes, to nest under `/mousacard`.
pub fn router(state: Arc<MousaState>) -> Router {
    Router::new()
        .route("/products", get(list_products))
        .route("/products/{id}", get(get_product))
        .route("/categories", get(list_categories))
        .route("/orders", post(create_order))
        .route("/orders/status", post(get_orders_status))
        .route("/orders/{id}", get(get_order))
        .route("/balance", get(get_balance))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .with_state(state)
}

#[derive(Deserialize)]
struct ProductsQuery {
    category: Option<String>,
}

async fn list_products(
    State(state): State<Arc<MousaState>>,
    SupplierQuery(query, _): SupplierQuery<ProductsQuery, Envelope>,
) -> Response {
    let products: Vec<types::ProductSummary> = state
        .catalog
        .iter()
        .filter(|item| query.category.as_deref().is_none_or(|c| c == item.category))
        .map(|item| state.summary(item))
        .collect();
    let total = products.len() as i64;
    ok(types::ProductList {
        products,
        total: Some(total),
    })
}

async fn get_product(State(state): State<Arc<MousaState>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, "not_found", "Product not found");
    };
    // A parent id answers with its variations; a variation or simple id with itself.
    let variations: Vec<&Item> = state
        .catalog
        .iter()
        .filter(|i| i.parent.map(|p| p.0) == Some(id))
        .collect();
    if let Some(first) = variations.first() {
        let (parent_id, parent_name) = first.parent.expect("filtered on parent");
        return ok(types::Product {
            id: parent_id.to_string(),
            type_: Some(types::ProductType::Variable),
            name: parent_name.into(),
            description: Some("Buy game credits for your account.".into()),
            price: first.price,
            currency_name: "USD".into(),
            currency_symbol: "$".into(),
            available: true,
            min_quantity: 1,
            max_quantity: first.max_quantity,
            categories: vec![category_name(first.category).into()],
            custom_fields: custom_fields(first),
            thumbnail: None,
            variations: variations
                .iter()
                .map(|v| types::Variation {
                    id: v.id,
                    name: v.name.into(),
                    price: v.price,
                    available: true,
                })
                .collect(),
        });
    }
    let Some(item) = state.catalog.iter().find(|i| i.id == id) else {
        return error(StatusCode::NOT_FOUND, "not_found", "Product not found");
    };
    let kind = match item.fulfilment {
        Fulfilment::Subscription => types::ProductType::Subscription,
        Fulfilment::InstantCodes | Fulfilment::LaterCodes => types::ProductType::Codes,
        Fulfilment::Rejected => types::ProductType::Simple,
    };
    ok(types::Product {
        id: item.id.to_string(),
        type_: Some(kind),
        name: item.name.into(),
        description: None,
        price: item.price,
        currency_name: "USD".into(),
        currency_symbol: "$".into(),
        available: true,
        min_quantity: 1,
        max_quantity: item.max_quantity,
        categories: vec![category_name(item.category).into()],
        custom_fields: custom_fields(item),
        thumbnail: None,
        variations: Vec::new(),
    })
}

#[derive(serde::Deserialize)]
struct CategoriesQuery {
    with_products: Option<String>,
    include_empty: Option<String>,
    per_page: Option<i64>,
    page: Option<i64>,
    slug: Option<String>,
}

/// The category tree (one level here), each category with its products when
/// `with_products=yes`, paged by `page`/`per_page` within each category.
async fn list_categories(
    State(state): State<Arc<MousaState>>,
    SupplierQuery(query, _): SupplierQuery<CategoriesQuery, Envelope>,
) -> Response {
    let (page, per_page) = (query.page.unwrap_or(1), query.per_page.unwrap_or(20));
    if page < 1 || per_page < 1 {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "page and per_page start at 1",
        );
    }
    let yes_no = |value: &Option<String>| match value.as_deref() {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(_) => Err(()),
    };
    let (Ok(with_products), Ok(include_empty)) =
        (yes_no(&query.with_products), yes_no(&query.include_empty))
    else {
        // WordPress checks an enum argument before the plugin runs.
        let body = json!({"code": "rest_invalid_param", "message": "Invalid parameter(s): with_products, include_empty",
                          "data": {"status": 400}});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    let (with_products, include_empty) =
        (with_products == Some(true), include_empty != Some(false));
    let mut total_products = 0;
    let categories: Vec<types::Category> = CATEGORIES
        .iter()
        .filter(|(_, _, slug)| query.slug.as_deref().is_none_or(|s| s == *slug))
        .filter_map(|(id, name, slug)| {
            let items: Vec<&Item> = state
                .catalog
                .iter()
                .filter(|i| i.category == *slug)
                .collect();
            if items.is_empty() && !include_empty {
                return None;
            }
            total_products += items.len() as i64;
            let total = items.len() as i64;
            let start = (page - 1).saturating_mul(per_page).min(total) as usize;
            let end = page.saturating_mul(per_page).min(total) as usize;
            let products = if with_products {
                items[start..end]
                    .iter()
                    .map(|item| {
                        let summary = state.summary(item);
                        types::CategoryProduct {
                            id: types::CategoryProductId::Int64(item.id),
                            name: summary.name,
                            price: Some(summary.price),
                            currency_name: Some(summary.currency_name),
                            currency_symbol: Some(summary.currency_symbol),
                            available: Some(summary.available),
                            min_quantity: Some(summary.min_quantity),
                            max_quantity: Some(summary.max_quantity),
                            categories: summary.categories,
                            custom_fields: summary.custom_fields,
                            thumbnail: summary.thumbnail,
                            description: None,
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Some(types::Category {
                id: Some(*id),
                name: (*name).into(),
                slug: Some((*slug).into()),
                parent: Some(0),
                order: Some(*id),
                image: None,
                description: None,
                direct_products_count: Some(total),
                subcategories_count: Some(0),
                subcategories: Vec::new(),
                products,
                pagination: with_products.then(|| types::CategoryPagination {
                    page: Some(page),
                    per_page: Some(per_page),
                    total: Some(total),
                    total_pages: Some(total.saturating_add(per_page - 1) / per_page),
                    has_more: Some(end < total as usize),
                }),
            })
        })
        .collect();
    ok(types::CategoryList {
        total_categories: Some(categories.len() as i64),
        total_products: Some(total_products),
        categories,
    })
}

async fn create_order(
    State(state): State<Arc<MousaState>>,
    SupplierJson(body, _): SupplierJson<serde_json::Value, Envelope>,
) -> Response {
    let Some(product_id) = body.get("product_id").and_then(serde_json::Value::as_i64) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "product_id is required",
        );
    };
    let quantity = body
        .get("quantity")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(1);
    let Some(index) = state.catalog.iter().position(|i| i.id == product_id) else {
        return error(StatusCode::NOT_FOUND, "not_found", "Product not found");
    };
    let item = &state.catalog[index];
    if quantity < 1 || quantity > item.max_quantity {
        let message = format!("Quantity must be between 1 and {}", item.max_quantity);
        return error(StatusCode::BAD_REQUEST, "invalid_request", &message);
    }
    let player_id = body
        .pointer("/custom_fields/playerid")
        .and_then(serde_json::Value::as_str);
    if item.player_id && player_id.is_none_or(|v| v.trim().is_empty()) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Player ID (playerid) is required",
        );
    }
    let total = item.price * Decimal::from(quantity);
    let (mut inner, now) = state.lock();
    if inner.balance < total {
        let body = json!({"success": false, "error": {
            "code": "insufficient_balance", "message": "Insufficient balance",
            "required": total, "available": inner.balance, "currency": "$"
        }});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let stock = inner
        .stock
        .get_mut(&item.id)
        .expect("every product has stock");
    if (*stock as i64) < quantity {
        return error(
            StatusCode::BAD_REQUEST,
            "insufficient_stock",
            "Not enough stock",
        );
    }
    *stock -= quantity as u32;
    inner.balance -= total;
    let id = inner.next;
    inner.next += 1;
    let picked_to_fail = picked((id - FIRST_ORDER_ID) as u64, state.config.failure_share);
    if picked_to_fail {
        let rejected_at = now + state.config.timings.completed_after;
        inner.refunds_due.insert((rejected_at, id));
    }
    let rejected = item.fulfilment == Fulfilment::Rejected || picked_to_fail;
    let order = Order {
        item: index,
        quantity,
        total,
        created_at: now,
        rejected,
    };
    let status = state.status(&order, now);
    let created = types::CreatedOrder {
        order_id: id,
        product_id: item.id,
        quantity,
        total,
        currency_name: "USD".into(),
        currency_symbol: "$".into(),
        status: types::OrderStatus::from(status),
        codes: state.codes(id, &order, status),
        new_balance: inner.balance,
    };
    inner.orders.insert(id, order);
    ok(created)
}

async fn get_order(State(state): State<Arc<MousaState>>, Path(id): Path<String>) -> Response {
    let (inner, now) = state.lock();
    match id
        .parse::<i64>()
        .ok()
        .and_then(|id| inner.orders.get(&id).map(|o| (id, o)))
    {
        Some((id, order)) => ok(state.render(id, order, now)),
        None => error(StatusCode::NOT_FOUND, "not_found", "Order not found"),
    }
}

async fn get_orders_status(
    State(state): State<Arc<MousaState>>,
    SupplierJson(request, _): SupplierJson<types::OrdersStatusRequest, Envelope>,
) -> Response {
    if request.order_ids.is_empty() || request.order_ids.len() > 50 {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Between 1 and 50 order ids per request",
        );
    }
    let (inner, now) = state.lock();
    let orders = request
        .order_ids
        .iter()
        .map(|id| match inner.orders.get(id) {
            None => types::OrderStatusItem {
                order_id: *id,
                status: types::OrderStatusItemStatus::NotFound,
                error: Some("Order not found or access denied".into()),
                product_id: None,
                quantity: None,
                total: None,
                currency_name: None,
                currency_symbol: None,
                codes: Vec::new(),
                subscription_details: None,
            },
            Some(order) => {
                let full = state.render(*id, order, now);
                types::OrderStatusItem {
                    order_id: *id,
                    status: types::OrderStatusItemStatus::from(full.status.as_str()),
                    error: None,
                    product_id: Some(full.product_id),
                    quantity: Some(full.quantity),
                    total: Some(full.total),
                    currency_name: Some(full.currency_name),
                    currency_symbol: Some(full.currency_symbol),
                    codes: full.codes,
                    subscription_details: full.subscription_details,
                }
            }
        })
        .collect();
    ok(types::OrdersStatus { orders })
}

async fn get_balance(State(state): State<Arc<MousaState>>) -> Response {
    ok(types::AccountBalance {
        balance: state.balance(),
        currency_name: "USD".into(),
        currency_symbol: "$".into(),
    })
}
