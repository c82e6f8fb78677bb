//! A stand-in for the production FoxReload and Cryptorefills APIs on 127.0.0.1.
//!
//! Written from `WIRE-EVIDENCE.md` (the FoxReload and Cryptorefills sections) and, where
//! they agree with it, the research drafts of production payloads; never from this
//! repository's specs, generated types or sandbox. Every body is hand-written JSON. The
//! point is to catch where the SDK disagrees with production, so the stand-in rejects
//! what production rejects, with production's error bodies, and records every request
//! so a test can assert what was sent.
//!
//! Where the evidence says nothing (error codes for a product's own quantity bounds,
//! how an unknown product is refused), the choice is marked "stand-in:" below.

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::watch;

/// The FoxReload API key the stand-in accepts.
pub const FOX_KEY: &str = "fox-standin-key-0001";
/// The Cryptorefills partner id (`X-Cr-Application`) the CLI is given; not enforced.
pub const CR_PARTNER: &str = "standin-partner";
/// The application version (`X-Cr-Version`) the CLI is given.
pub const CR_APP_VERSION: &str = "1.0.0";

/// `$5 Steam top up`: price 4.7700 usd, 1..=300, note field `login` (string).
pub const STEAM_TOPUP: &str = "product_01kq2w3e4r5t6y7u8i9o0p1a2s";
/// `PUBG Mobile 660 UC`: price null, stock null, 1..=10, note fields `player_id`, `server`.
pub const PUBG_UC: &str = "product_01kq2w9z8y7x6w5v4u3t2s1r0q";
/// `Netflix 25 USD`: price 24.1000, out of stock, no note fields.
pub const NETFLIX: &str = "product_01kq3a4b5c6d7e8f9g0h1j2k3m";
/// The `pubg-mobile` category (holds PUBG_UC and NETFLIX).
pub const PUBG_CATEGORY: &str = "019e2c41-7a0b-7c33-9d10-2f3e4a5b6c7d";
/// The `steam-wallet-usd` category (holds STEAM_TOPUP).
pub const STEAM_CATEGORY: &str = "019e2c41-8c1d-7e44-a021-3f4e5a6b7c8d";
/// `eSIM Europe 5 GB 30 days`: price 4.9500, 1..=10, no note fields; each unit delivers
/// activation data as an object, not a code string (WIRE-EVIDENCE, round two).
pub const ESIM_EUROPE: &str = "product_01kq5e6f7g8h9j0k1m2n3p4q5r";
/// The `esim-europe` category (holds ESIM_EUROPE).
pub const ESIM_CATEGORY: &str = "019e2c41-9d2e-7f55-b132-4a5b6c7d8e9f";
/// A FoxReload order cancelled for `payment_expiration`.
pub const CANCELLED_ORDER: &str = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c";
/// The FoxReload balance before any purchase.
pub const FOX_BALANCE: &str = "12.3400";
/// The Solana wallet every USDC-on-Solana order is paid to.
pub const SOLANA_WALLET: &str = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM";
/// A beneficiary/email for which Cryptorefills answers `KYC_MISSING`.
pub const KYC_EMAIL: &str = "kyc@example.com";

/// One request as it reached the stand-in.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`...
    pub method: String,
    /// The full path, with the `/foxreload` or `/cryptorefills` prefix.
    pub path: String,
    /// The raw query string ("" when none).
    pub query: String,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The status the stand-in answered (0 while it has not).
    pub status: u16,
}

impl Recorded {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first decoded value of a query parameter.
    pub fn query_value(&self, name: &str) -> Option<String> {
        query_pairs(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {} body is not JSON ({e}): {}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    let uri: Uri = format!("/?{query}")
        .parse()
        .unwrap_or_else(|_| Uri::from_static("/"));
    Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

/// The running stand-in. Dropping it stops the server.
pub struct StandIn {
    address: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl StandIn {
    /// Starts a fresh stand-in (its own state and request log) on 127.0.0.1:0, served by
    /// a tokio runtime on a background thread.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("standin")
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let (changed, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            log: Mutex::new(Vec::new()),
            fox: Mutex::new(Fox::seeded()),
            cr: Mutex::new(Cr::default()),
            changed,
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let _guard = runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        drop(_guard);
        Self {
            address,
            shared,
            runtime: Some(runtime),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `FOXRELOAD_BASE_URL`.
    pub fn foxreload_url(&self) -> String {
        format!("http://{}/foxreload", self.address)
    }

    /// `CRYPTOREFILLS_BASE_URL`.
    pub fn cryptorefills_url(&self) -> String {
        format!("http://{}/cryptorefills", self.address)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.log).clone()
    }

    /// The requests with this method whose path, without its trailing `/`, is `path`.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        let path = path.trim_end_matches('/');
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.trim_end_matches('/') == path)
            .collect()
    }

    /// One line per request so far, `METHOD path?query -> status`, for failure messages.
    pub fn summary(&self) -> String {
        self.requests()
            .iter()
            .map(|r| {
                let query = if r.query.is_empty() {
                    String::new()
                } else {
                    format!("?{}", r.query)
                };
                format!("  {} {}{query} -> {}\n", r.method, r.path, r.status)
            })
            .collect()
    }

    /// The FoxReload order as the stand-in holds it now.
    pub fn foxreload_order(&self, id: &str) -> Option<Value> {
        let fox = lock(&self.shared.fox);
        fox.orders
            .iter()
            .find(|o| o.json["id"] == id)
            .map(|o| o.json.clone())
    }

    /// The Cryptorefills order as the stand-in holds it now.
    pub fn cryptorefills_order(&self, id: &str) -> Option<Value> {
        lock(&self.shared.cr).orders.get(id).cloned()
    }

    /// Places a Cryptorefills order as `POST /v5/orders` would (not recorded as a
    /// request) and returns its `order_id`. `delivery` is one flat delivery.
    pub fn seed_cryptorefills_order(&self, delivery: Value) -> String {
        let email = delivery["beneficiary_account"].clone();
        let body = json!({
            "email": email,
            "user": {"email": email, "has_accepted_newsletter": false},
            "lang": "en",
            "payment": {"type": "via", "payment_via": "USER_WALLET", "coin": "USDC", "network": "Solana"},
            "deliveries": [delivery],
        });
        let checked = check_cr_order(&body).unwrap_or_else(|_| panic!("bad seed {body}"));
        let order = lock(&self.shared.cr).create(&checked);
        order["order_id"].as_str().unwrap().to_owned()
    }

    /// From now on every FoxReload create is answered `ORDER_ALREADY_EXISTS` (409), as a
    /// deployment does for a key it has seen (RelayShop handles the code). The SDK sends
    /// a fresh key per order, so this is how a test meets that answer.
    pub fn refuse_every_idempotency_key(&self) {
        lock(&self.shared.fox).every_key_seen = true;
    }

    /// The FoxReload balance now, as `GET /api/access/me/balances/` shows it.
    pub fn foxreload_balance(&self) -> String {
        money(lock(&self.shared.fox).balance)
    }

    /// The customer pays the order's wallet: it moves to PaymentReceived, then
    /// WaitingForDelivery, then Done with its codes, a few milliseconds apart.
    pub fn pay_cryptorefills(&self, id: &str) {
        let runtime = self.runtime.as_ref().expect("running");
        runtime.spawn(progress(self.shared.clone(), id.to_owned()));
    }
}

struct Shared {
    log: Mutex<Vec<Recorded>>,
    fox: Mutex<Fox>,
    cr: Mutex<Cr>,
    /// Bumped on every Cryptorefills order change, for the SSE streams.
    changed: watch::Sender<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    let index = {
        let mut log = lock(&shared.log);
        log.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            status: 0,
        });
        log.len() - 1
    };
    let request = Request {
        method,
        query: query_pairs(&query),
        raw_query: query,
        headers,
        body,
    };
    let response = if let Some(rest) = path.strip_prefix("/foxreload") {
        foxreload(&shared, rest, &request)
    } else if let Some(rest) = path.strip_prefix("/cryptorefills") {
        cryptorefills(&shared, rest, &request)
    } else {
        reply(404, json!({"detail": "Not Found"}))
    };
    lock(&shared.log)[index].status = response.status().as_u16();
    response
}

struct Request {
    method: Method,
    query: Vec<(String, String)>,
    raw_query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Request {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn reply(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Money in ten-thousandths ("4.7700" is 47700).
fn units(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 4 || whole.is_empty() {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = format!("{fraction:0<4}").parse().ok()?;
    Some(whole * 10_000 + fraction)
}

fn money(units: i64) -> String {
    format!("{}.{:04}", units / 10_000, units % 10_000)
}

// ---------------------------------------------------------------------------------
// FoxReload (FastAPI)
// ---------------------------------------------------------------------------------

struct FoxOrder {
    json: Value,
    is_mock: bool,
}

struct Fox {
    categories: Vec<Value>,
    products: Vec<Value>,
    /// Newest first.
    orders: Vec<FoxOrder>,
    idempotency_keys: HashSet<String>,
    /// Every create is answered `ORDER_ALREADY_EXISTS` (see
    /// `StandIn::refuse_every_idempotency_key`).
    every_key_seen: bool,
    balance: i64,
    created: u64,
}

impl Fox {
    fn seeded() -> Self {
        let categories = vec![
            json!({"id": PUBG_CATEGORY, "name": "PUBG Mobile", "slug": "pubg-mobile",
                   "description": "<p>UC packs</p>", "tags": ["games"], "parentId": null,
                   "hasProducts": true, "inStockCount": 12, "bestOfferPrice": "0.9800",
                   "attributes": {"country_code": "WW", "currency": "usd"},
                   "attributeDefinitions": []}),
            json!({"id": "019e2c41-6f00-7b22-8c00-1e2d3c4b5a69", "name": "Steam", "slug": "steam",
                   "description": null, "tags": ["games"], "parentId": null,
                   "hasProducts": false, "inStockCount": 0, "bestOfferPrice": null,
                   "attributes": {}, "attributeDefinitions": []}),
            json!({"id": ESIM_CATEGORY, "name": "eSIM Europe", "slug": "esim-europe",
                   "description": null, "tags": ["esim"], "parentId": null,
                   "hasProducts": true, "inStockCount": 1, "bestOfferPrice": "4.9500",
                   "attributes": {"currency": "usd"}, "attributeDefinitions": []}),
            json!({"id": STEAM_CATEGORY, "name": "Steam Wallet USD", "slug": "steam-wallet-usd",
                   "description": null, "tags": [], "parentId": "019e2c41-6f00-7b22-8c00-1e2d3c4b5a69",
                   "hasProducts": true, "inStockCount": 3, "bestOfferPrice": "4.7700",
                   "attributes": {"country_code": "US", "currency": "usd"},
                   "attributeDefinitions": []}),
        ];
        let products = vec![
            json!({"id": STEAM_TOPUP, "name": "$5 Steam top up", "slug": "5-steam-top-up",
                   "categoryId": STEAM_CATEGORY, "description": "<p>Any region</p>",
                   "price": "4.7700", "currency": "usd", "quantity": 85,
                   "orderMinQuantity": 1, "orderMaxQuantity": 300,
                   "requiredNoteFields": ["login"], "noteFieldTypes": {"login": "string"},
                   "noteFieldOptions": {},
                   "attributes": {"country_code": "US", "region": "WW", "platform": "Steam",
                                  "face_value_amount": "5", "face_value_currency": "usd"}}),
            json!({"id": PUBG_UC, "name": "PUBG Mobile 660 UC", "slug": "pubg-mobile-660-uc",
                   "categoryId": PUBG_CATEGORY, "description": null,
                   "price": null, "currency": "usd", "quantity": null,
                   "orderMinQuantity": 1, "orderMaxQuantity": 10,
                   "requiredNoteFields": ["player_id", "server"],
                   "noteFieldTypes": {"player_id": "integer", "server": "string"},
                   "noteFieldOptions": {"server": ["asia", "europe", "north-america"]},
                   "attributes": {"country_code": "WW", "platform": "PUBG Mobile"}}),
            json!({"id": ESIM_EUROPE, "name": "eSIM Europe 5 GB 30 days", "slug": "esim-europe-5gb",
                   "categoryId": ESIM_CATEGORY, "description": "<p>30 countries</p>",
                   "price": "4.9500", "currency": "usd", "quantity": 40,
                   "orderMinQuantity": 1, "orderMaxQuantity": 10,
                   "requiredNoteFields": [], "noteFieldTypes": {}, "noteFieldOptions": {},
                   "attributes": {"region": "EU"}}),
            json!({"id": NETFLIX, "name": "Netflix 25 USD", "slug": "netflix-25-usd",
                   "categoryId": PUBG_CATEGORY, "description": "<p>US accounts only</p>",
                   "price": "24.1000", "currency": "usd", "quantity": 0,
                   "orderMinQuantity": 1, "orderMaxQuantity": 5,
                   "requiredNoteFields": [], "noteFieldTypes": {}, "noteFieldOptions": {},
                   "attributes": {"country_code": "US", "face_value_amount": "25",
                                  "face_value_currency": "usd"}}),
        ];
        let orders = vec![
            FoxOrder {
                is_mock: false,
                json: json!({"id": CANCELLED_ORDER, "status": "cancelled",
                    "cancelReason": "payment_expiration",
                    "createdAt": "2026-10-02T09:00:00Z", "paymentExpiresAt": "2026-10-02T09:15:00Z",
                    "currency": "usd", "totalPrice": "4.7700",
                    "items": [{"product": {"id": STEAM_TOPUP, "name": "$5 Steam top up"},
                               "quantity": 1, "price": "4.7700", "externalData": null,
                               "error": null, "userGuide": null}]}),
            },
            FoxOrder {
                is_mock: false,
                json: json!({"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "status": "completed",
                    "cancelReason": null,
                    "createdAt": "2026-10-02T08:15:00Z", "paymentExpiresAt": "2026-10-02T08:30:00Z",
                    "currency": "usd", "totalPrice": "48.2000",
                    "items": [{"product": {"id": NETFLIX, "name": "Netflix 25 USD"},
                               "quantity": 2, "price": "24.1000",
                               "externalData": ["NFLX-7Q2M-4KD8-PZ3W", "NFLX-9R5T-2HB6-XC1V"],
                               "error": null, "userGuide": "Redeem at netflix.com/redeem"}]}),
            },
        ];
        Self {
            categories,
            products,
            orders,
            idempotency_keys: HashSet::new(),
            every_key_seen: false,
            balance: units(FOX_BALANCE).unwrap(),
            created: 0,
        }
    }

    fn category(&self, id_or_slug: &str) -> Option<&Value> {
        self.categories
            .iter()
            .find(|c| c["id"] == id_or_slug || c["slug"] == id_or_slug)
    }

    fn product(&self, id: &str) -> Option<&Value> {
        self.products.iter().find(|p| p["id"] == id)
    }

    /// An order as a GET shows it: a paid order has completed by the time it is read.
    fn read_order(&mut self, id: &str) -> Option<Value> {
        let order = self.orders.iter_mut().find(|o| o.json["id"] == id)?;
        if order.json["status"] == "paid" {
            let number = order.json["id"].as_str().unwrap_or_default()[..8].to_owned();
            order.json["status"] = json!("completed");
            for (line, item) in order.json["items"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .enumerate()
            {
                let quantity = item["quantity"].as_u64().unwrap_or(1);
                let codes: Vec<String> = (1..=quantity)
                    .map(|unit| format!("FOX-{number}-{line}-{unit:03}").to_uppercase())
                    .collect();
                if item["product"]["id"] == ESIM_EUROPE {
                    // stand-in: the object's keys are the ones integrations read
                    // (`code`, `pin`); the vendor shows no eSIM payload.
                    let data: Vec<Value> = codes
                        .iter()
                        .map(|code| json!({"code": format!("LPA:1$smdp.example.net${code}"), "pin": "1234"}))
                        .collect();
                    item["externalData"] = json!(data);
                    item["userGuide"] =
                        json!("Scan the activation code in your phone's eSIM settings");
                } else {
                    item["externalData"] = json!(codes);
                    item["userGuide"] = json!("Redeem in the Steam client");
                }
            }
        }
        Some(order.json.clone())
    }
}

#[derive(Clone, Copy)]
enum FoxRoute<'a> {
    Categories,
    Category(&'a str),
    Products,
    Search,
    Product(&'a str),
    Orders,
    Order(&'a str),
    Pay(&'a str),
    Me,
    Balances,
}

/// The route, and whether its canonical path ends with `/` (None: both are served).
fn fox_route(path: &str) -> Option<(FoxRoute<'_>, Option<bool>)> {
    let trimmed = path.trim_end_matches('/');
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    Some(match segments[..] {
        ["api", "categories"] => (FoxRoute::Categories, Some(true)),
        ["api", "categories", id] => (FoxRoute::Category(id), Some(false)),
        ["api", "products"] => (FoxRoute::Products, Some(true)),
        ["api", "products", "search"] => (FoxRoute::Search, Some(false)),
        // Clients call it with and without the trailing `/` (WIRE-EVIDENCE, H).
        ["api", "products", id] => (FoxRoute::Product(id), None),
        ["api", "orders"] => (FoxRoute::Orders, Some(true)),
        ["api", "orders", id] => (FoxRoute::Order(id), Some(false)),
        ["api", "orders", id, "pay"] => (FoxRoute::Pay(id), Some(false)),
        ["api", "access", "me"] => (FoxRoute::Me, Some(false)),
        ["api", "access", "me", "balances"] => (FoxRoute::Balances, Some(true)),
        _ => return None,
    })
}

fn foxreload(shared: &Shared, path: &str, request: &Request) -> Response {
    let Some((route, slash)) = fox_route(path) else {
        return reply(404, json!({"detail": "Not Found"}));
    };
    // Starlette's redirect_slashes: the other spelling answers 307 to the canonical one.
    if let Some(slash) = slash
        && path.ends_with('/') != slash
    {
        let trimmed = path.trim_end_matches('/');
        let canonical = if slash {
            format!("/foxreload{trimmed}/")
        } else {
            format!("/foxreload{trimmed}")
        };
        let location = if request.raw_query.is_empty() {
            canonical
        } else {
            format!("{canonical}?{}", request.raw_query)
        };
        return Response::builder()
            .status(307)
            .header(header::LOCATION, location)
            .body(Body::empty())
            .unwrap();
    }
    let allowed = match route {
        FoxRoute::Orders => [Method::GET, Method::POST].contains(&request.method),
        FoxRoute::Pay(_) => request.method == Method::POST,
        _ => request.method == Method::GET,
    };
    if !allowed {
        return reply(405, json!({"detail": "Method Not Allowed"}));
    }
    if request.header("x-api-key") != Some(FOX_KEY) {
        return reply(401, json!({"detail": "Invalid API key"}));
    }
    // Optional headers, lowercase values only (WIRE-EVIDENCE, H).
    let mut errors = Vec::new();
    for (name, values) in [("x-currency", ["usd", "rub"]), ("x-language", ["en", "ru"])] {
        if let Some(value) = request.header(name)
            && !values.contains(&value)
        {
            errors.push(field_error(
                "enum",
                json!(["header", name]),
                &format!("Input should be '{}' or '{}'", values[0], values[1]),
                json!(value),
            ));
        }
    }
    if !errors.is_empty() {
        return reply(422, json!({"detail": errors}));
    }
    let mut fox = lock(&shared.fox);
    match route {
        FoxRoute::Categories => list_categories(&fox, request),
        FoxRoute::Category(id) => match fox.category(id) {
            Some(category) => reply(200, category.clone()),
            None => not_found("Category not found"),
        },
        FoxRoute::Products => list_products(&fox, request),
        FoxRoute::Search => search_products(&fox, request),
        FoxRoute::Product(id) => match fox.product(id) {
            Some(product) => reply(200, product.clone()),
            None => not_found("Product not found"),
        },
        FoxRoute::Orders if request.method == Method::POST => create_order(&mut fox, request),
        FoxRoute::Orders => list_orders(&mut fox, request),
        FoxRoute::Order(id) => match fox.read_order(id) {
            Some(order) => reply(200, order),
            None => not_found("Order not found"),
        },
        FoxRoute::Pay(id) => pay_order(&mut fox, id, request),
        FoxRoute::Me => reply(
            200,
            json!({"email": "reseller@example.com", "isActive": true}),
        ),
        FoxRoute::Balances => reply(
            200,
            json!([{"currency": "usd", "available": money(fox.balance)}]),
        ),
    }
}

fn not_found(detail: &str) -> Response {
    reply(404, json!({"detail": detail, "code": "NOT_FOUND"}))
}

/// A `{detail, code}` error, the API's own (not FastAPI's validation) errors.
fn fox_error(status: u16, detail: &str, code: &str) -> Response {
    reply(status, json!({"detail": detail, "code": code}))
}

/// One entry of FastAPI's 422 `{"detail": [...]}`.
fn field_error(kind: &str, loc: Value, msg: &str, input: Value) -> Value {
    json!({"type": kind, "loc": loc, "msg": msg, "input": input})
}

/// An integer query parameter with FastAPI's bounds messages.
fn int_param(
    request: &Request,
    name: &str,
    default: i64,
    bounds: (Option<i64>, Option<i64>),
    errors: &mut Vec<Value>,
) -> i64 {
    let Some(text) = request.param(name) else {
        return default;
    };
    let loc = json!(["query", name]);
    let Ok(value) = text.parse::<i64>() else {
        errors.push(field_error(
            "int_parsing",
            loc,
            "Input should be a valid integer, unable to parse string as an integer",
            json!(text),
        ));
        return default;
    };
    if let Some(min) = bounds.0
        && value < min
    {
        errors.push(field_error(
            "greater_than_equal",
            loc,
            &format!("Input should be greater than or equal to {min}"),
            json!(text),
        ));
        return default;
    }
    if let Some(max) = bounds.1
        && value > max
    {
        errors.push(field_error(
            "less_than_equal",
            loc,
            &format!("Input should be less than or equal to {max}"),
            json!(text),
        ));
        return default;
    }
    value
}

fn bool_param(request: &Request, name: &str, errors: &mut Vec<Value>) -> bool {
    match request.param(name) {
        None => false,
        Some("true" | "1" | "yes" | "on") => true,
        Some("false" | "0" | "no" | "off") => false,
        Some(other) => {
            errors.push(field_error(
                "bool_parsing",
                json!(["query", name]),
                "Input should be a valid boolean, unable to interpret input",
                json!(other),
            ));
            false
        }
    }
}

fn in_stock(product: &Value) -> bool {
    product["quantity"].as_i64().is_none_or(|q| q > 0)
}

fn list_categories(fox: &Fox, request: &Request) -> Response {
    let mut errors = Vec::new();
    let limit = int_param(request, "limit", 50, (Some(1), Some(200)), &mut errors);
    let with_stock = bool_param(request, "withStockOnly", &mut errors);
    let start = match request.param("cursor") {
        None => 0,
        Some(cursor) => match cursor.strip_prefix("eyJvIjo").and_then(|n| n.parse().ok()) {
            Some(start) => start,
            None => {
                errors.push(field_error(
                    "value_error",
                    json!(["query", "cursor"]),
                    "Value error, invalid cursor",
                    json!(cursor),
                ));
                0
            }
        },
    };
    if !errors.is_empty() {
        return reply(422, json!({"detail": errors}));
    }
    let parent = request
        .param("parent_id_or_slug")
        .map(|p| fox.category(p).map(|c| c["id"].clone()));
    if let Some(None) = parent {
        return not_found("Category not found");
    }
    let matching: Vec<&Value> = fox
        .categories
        .iter()
        .filter(|c| {
            parent
                .as_ref()
                .is_none_or(|p| c["parentId"] == *p.as_ref().unwrap())
        })
        .filter(|c| {
            request
                .param("tag")
                .is_none_or(|t| c["tags"].as_array().unwrap().contains(&json!(t)))
        })
        .filter(|c| !with_stock || c["inStockCount"].as_i64().unwrap_or(0) > 0)
        .collect();
    let end = (start + limit as usize).min(matching.len());
    let items: Vec<Value> = matching
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|c| (*c).clone())
        .collect();
    let next = (end < matching.len()).then(|| format!("eyJvIjo{end}"));
    reply(
        200,
        json!({"items": items, "limit": limit, "nextCursor": next}),
    )
}

fn list_products(fox: &Fox, request: &Request) -> Response {
    let mut errors = Vec::new();
    let category = request.param("category_id_or_slug");
    if category.is_none() {
        errors.push(field_error(
            "missing",
            json!(["query", "category_id_or_slug"]),
            "Field required",
            Value::Null,
        ));
    }
    let limit = int_param(request, "limit", 50, (Some(1), Some(200)), &mut errors);
    let offset = int_param(request, "offset", 0, (Some(0), None), &mut errors);
    let with_stock = bool_param(request, "withStockOnly", &mut errors);
    if !errors.is_empty() {
        return reply(422, json!({"detail": errors}));
    }
    let Some(category) = fox.category(category.unwrap()) else {
        return not_found("Category not found");
    };
    let matching: Vec<Value> = fox
        .products
        .iter()
        .filter(|p| p["categoryId"] == category["id"])
        .filter(|p| !with_stock || in_stock(p))
        .cloned()
        .collect();
    let items: Vec<Value> = matching
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .cloned()
        .collect();
    reply(
        200,
        json!({"items": items, "limit": limit, "offset": offset, "total": matching.len()}),
    )
}

/// A bare array, not a page; FastAPI ignores parameters it does not declare (`offset`).
fn search_products(fox: &Fox, request: &Request) -> Response {
    let mut errors = Vec::new();
    let query = request.param("query");
    if query.is_none() {
        errors.push(field_error(
            "missing",
            json!(["query", "query"]),
            "Field required",
            Value::Null,
        ));
    }
    let limit = int_param(request, "limit", 50, (Some(1), Some(200)), &mut errors);
    let with_stock = bool_param(request, "withStockOnly", &mut errors);
    if !errors.is_empty() {
        return reply(422, json!({"detail": errors}));
    }
    let category = match request.param("category_id_or_slug") {
        None => None,
        Some(c) => match fox.category(c) {
            Some(c) => Some(c["id"].clone()),
            None => return not_found("Category not found"),
        },
    };
    let needle = query.unwrap().to_lowercase();
    // stand-in: the search matches names and slugs (it is a text search), not ids.
    let found: Vec<Value> = fox
        .products
        .iter()
        .filter(|p| {
            p["name"].as_str().unwrap().to_lowercase().contains(&needle)
                || p["slug"].as_str().unwrap().contains(&needle)
        })
        .filter(|p| category.as_ref().is_none_or(|c| p["categoryId"] == *c))
        .filter(|p| !with_stock || in_stock(p))
        .take(limit as usize)
        .cloned()
        .collect();
    reply(200, Value::Array(found))
}

fn list_orders(fox: &mut Fox, request: &Request) -> Response {
    let mut errors = Vec::new();
    let limit = int_param(request, "limit", 20, (Some(1), Some(100)), &mut errors);
    let offset = int_param(request, "offset", 0, (Some(0), None), &mut errors);
    let status = request.param("status");
    let statuses = [
        "active",
        "paid",
        "processing",
        "completed",
        "failed",
        "cancelled",
    ];
    if let Some(status) = status
        && !statuses.contains(&status)
    {
        errors.push(field_error(
            "enum",
            json!(["query", "status"]),
            "Input should be 'active', 'paid', 'processing', 'completed', 'failed' or 'cancelled'",
            json!(status),
        ));
    }
    if !errors.is_empty() {
        return reply(422, json!({"detail": errors}));
    }
    let ids: Vec<String> = fox
        .orders
        .iter()
        .map(|o| o.json["id"].as_str().unwrap().to_owned())
        .collect();
    let all: Vec<Value> = ids.iter().filter_map(|id| fox.read_order(id)).collect();
    let matching: Vec<Value> = all
        .into_iter()
        .filter(|o| status.is_none_or(|s| o["status"] == s))
        .collect();
    let items: Vec<Value> = matching
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .cloned()
        .collect();
    reply(
        200,
        json!({"items": items, "limit": limit, "offset": offset, "total": matching.len()}),
    )
}

fn json_body(request: &Request) -> Result<Value, Box<Response>> {
    if request.body.is_empty() {
        return Err(Box::new(reply(
            422,
            json!({"detail": [field_error("missing", json!(["body"]), "Field required", Value::Null)]}),
        )));
    }
    serde_json::from_slice(&request.body).map_err(|e| {
        Box::new(reply(
            422,
            json!({"detail": [{"type": "json_invalid", "loc": ["body", 0],
                               "msg": "JSON decode error", "input": {},
                               "ctx": {"error": e.to_string()}}]}),
        ))
    })
}

/// `POST /api/orders/`: pydantic's checks first (422), then the API's own (`{detail, code}`).
fn create_order(fox: &mut Fox, request: &Request) -> Response {
    let body = match json_body(request) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let Some(object) = body.as_object() else {
        return reply(
            422,
            json!({"detail": [field_error("model_attributes_type", json!(["body"]),
                "Input should be a valid dictionary or object to extract fields from", body.clone())]}),
        );
    };
    let mut errors = Vec::new();
    match object.get("idempotencyKey") {
        None | Some(Value::Null) => errors.push(field_error(
            "missing",
            json!(["body", "idempotencyKey"]),
            "Field required",
            body.clone(),
        )),
        Some(Value::String(key)) if !key.is_empty() => {}
        Some(other) => errors.push(field_error(
            "string_type",
            json!(["body", "idempotencyKey"]),
            "Input should be a valid string",
            other.clone(),
        )),
    }
    if let Some(mock) = object.get("isMock")
        && !mock.is_boolean()
    {
        errors.push(field_error(
            "bool_type",
            json!(["body", "isMock"]),
            "Input should be a valid boolean",
            mock.clone(),
        ));
    }
    let total_price = match object.get("totalPrice") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if units(text).is_some() => units(text),
        Some(Value::Number(n)) if units(&n.to_string()).is_some() => units(&n.to_string()),
        Some(other) => {
            errors.push(field_error(
                "decimal_parsing",
                json!(["body", "totalPrice"]),
                "Input should be a valid decimal",
                other.clone(),
            ));
            None
        }
    };
    let items = match object.get("items") {
        Some(Value::Array(items)) => items.clone(),
        None => {
            errors.push(field_error(
                "missing",
                json!(["body", "items"]),
                "Field required",
                body.clone(),
            ));
            Vec::new()
        }
        Some(other) => {
            errors.push(field_error(
                "list_type",
                json!(["body", "items"]),
                "Input should be a valid list",
                other.clone(),
            ));
            Vec::new()
        }
    };
    if object.contains_key("items") && items.is_empty() && errors.is_empty() {
        errors.push(json!({"type": "too_short", "loc": ["body", "items"],
            "msg": "List should have at least 1 item after validation, not 0", "input": [],
            "ctx": {"field_type": "List", "min_length": 1, "actual_length": 0}}));
    }
    if items.len() > 10 {
        errors.push(json!({"type": "too_long", "loc": ["body", "items"],
            "msg": format!("List should have at most 10 items after validation, not {}", items.len()),
            "input": items, "ctx": {"field_type": "List", "max_length": 10, "actual_length": items.len()}}));
    }
    for (i, item) in items.iter().enumerate().take(10) {
        let Some(item) = item.as_object() else {
            errors.push(field_error(
                "model_attributes_type",
                json!(["body", "items", i]),
                "Input should be a valid dictionary or object to extract fields from",
                item.clone(),
            ));
            continue;
        };
        if !item.get("itemId").is_some_and(Value::is_string) {
            errors.push(field_error(
                if item.contains_key("itemId") {
                    "string_type"
                } else {
                    "missing"
                },
                json!(["body", "items", i, "itemId"]),
                if item.contains_key("itemId") {
                    "Input should be a valid string"
                } else {
                    "Field required"
                },
                item.get("itemId").cloned().unwrap_or(Value::Null),
            ));
        }
        match item.get("quantity") {
            Some(q) if q.as_u64().is_some_and(|q| q >= 1) => {}
            Some(q) if q.as_i64().is_some() => {
                errors.push(json!({"type": "greater_than_equal",
                "loc": ["body", "items", i, "quantity"],
                "msg": "Input should be greater than or equal to 1", "input": q, "ctx": {"ge": 1}}))
            }
            Some(q) => errors.push(field_error(
                "int_type",
                json!(["body", "items", i, "quantity"]),
                "Input should be a valid integer",
                q.clone(),
            )),
            None => errors.push(field_error(
                "missing",
                json!(["body", "items", i, "quantity"]),
                "Field required",
                Value::Object(item.clone()),
            )),
        }
        // `note` is an object per item (WIRE-EVIDENCE, M-H).
        if let Some(note) = item.get("note")
            && !note.is_object()
            && !note.is_null()
        {
            errors.push(field_error(
                "dict_type",
                json!(["body", "items", i, "note"]),
                "Input should be a valid dictionary",
                note.clone(),
            ));
        }
    }
    if !errors.is_empty() {
        return reply(422, json!({"detail": errors}));
    }
    // The API's own rules. stand-in: the evidence names no code for a product's own
    // quantity bounds or note fields; `VALIDATION_ERROR` (400) stands for it.
    let mut total = 0i64;
    let mut lines = Vec::new();
    for item in &items {
        let id = item["itemId"].as_str().unwrap();
        let quantity = item["quantity"].as_u64().unwrap();
        let Some(product) = fox.product(id) else {
            return not_found(&format!("Product {id} not found"));
        };
        let (min, max) = (
            product["orderMinQuantity"].as_u64().unwrap(),
            product["orderMaxQuantity"].as_u64().unwrap(),
        );
        if !(min..=max).contains(&quantity) {
            return fox_error(
                400,
                &format!("Quantity of {id} must be between {min} and {max}, not {quantity}"),
                "VALIDATION_ERROR",
            );
        }
        let empty = serde_json::Map::new();
        let note = item
            .get("note")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for field in product["requiredNoteFields"].as_array().unwrap() {
            let field = field.as_str().unwrap();
            let value = note.get(field).filter(|v| !v.is_null() && **v != json!(""));
            let Some(value) = value else {
                return fox_error(
                    400,
                    &format!("Note field '{field}' is required for {id}"),
                    "VALIDATION_ERROR",
                );
            };
            let kind = product["noteFieldTypes"][field]
                .as_str()
                .unwrap_or("string");
            let typed = match kind {
                "integer" => {
                    value.is_i64()
                        || value.is_u64()
                        || value.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
                }
                "number" => {
                    value.is_number() || value.as_str().is_some_and(|s| s.parse::<f64>().is_ok())
                }
                "email" => value.as_str().is_some_and(|s| s.contains('@')),
                _ => value.is_string(),
            };
            let options = product["noteFieldOptions"][field].as_array();
            let listed = options.is_none_or(|o| o.iter().any(|opt| opt == value));
            if !typed || !listed {
                return fox_error(
                    400,
                    &format!("Note field '{field}' of {id} must be a valid {kind}"),
                    "VALIDATION_ERROR",
                );
            }
        }
        let Some(price) = product["price"].as_str().and_then(units) else {
            // stand-in: a product without a price cannot be priced into an order.
            return fox_error(
                400,
                &format!("Product {id} has no offer"),
                "OFFER_PRICE_NOT_MATCHED",
            );
        };
        if product["quantity"]
            .as_u64()
            .is_some_and(|stock| stock < quantity)
        {
            // stand-in: code not in the evidence.
            return fox_error(400, &format!("Not enough stock for {id}"), "OUT_OF_STOCK");
        }
        total += price * quantity as i64;
        lines.push(
            json!({"product": {"id": id, "name": product["name"]}, "quantity": quantity,
            "price": money(price), "externalData": null, "error": null, "userGuide": null}),
        );
    }
    if total_price.is_some_and(|t| t != total) {
        return fox_error(
            400,
            "Offer price does not match totalPrice",
            "OFFER_PRICE_NOT_MATCHED",
        );
    }
    let key = object["idempotencyKey"].as_str().unwrap().to_owned();
    if fox.every_key_seen || !fox.idempotency_keys.insert(key) {
        return fox_error(
            409,
            "Order with this idempotency key already exists",
            "ORDER_ALREADY_EXISTS",
        );
    }
    fox.created += 1;
    let n = fox.created;
    let order = json!({
        "id": format!("{:08x}-7425-40de-944b-{:012x}", 0x5e000000 + n, n),
        "status": "active", "cancelReason": null,
        "createdAt": format!("2026-10-02T10:{:02}:00Z", n % 60),
        "paymentExpiresAt": format!("2026-10-02T10:{:02}:00Z", (n + 15) % 60),
        "currency": "usd", "totalPrice": money(total), "items": lines,
    });
    fox.orders.insert(
        0,
        FoxOrder {
            json: order.clone(),
            is_mock: object.get("isMock") == Some(&json!(true)),
        },
    );
    reply(201, order)
}

/// `POST /api/orders/{id}/pay`, `{"paymentProvider": null}` or `{}`: pays from the balance.
fn pay_order(fox: &mut Fox, id: &str, request: &Request) -> Response {
    let body = match json_body(request) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    if !body.is_object() {
        return reply(
            422,
            json!({"detail": [field_error("model_attributes_type", json!(["body"]),
                "Input should be a valid dictionary or object to extract fields from", body.clone())]}),
        );
    }
    if !body.get("paymentProvider").is_none_or(Value::is_null) {
        // stand-in: external providers are not part of a reseller's balance flow.
        return fox_error(
            400,
            "This payment provider is not available",
            "ORDER_PAYMENT_NOT_POSSIBLE",
        );
    }
    let balance = fox.balance;
    let Some(order) = fox.orders.iter_mut().find(|o| o.json["id"] == id) else {
        return not_found("Order not found");
    };
    if order.json["status"] != "active" {
        return fox_error(
            409,
            "Order cannot be paid in its current status",
            "ORDER_PAYMENT_NOT_POSSIBLE",
        );
    }
    let amount = units(order.json["totalPrice"].as_str().unwrap()).unwrap();
    let charged = if order.is_mock { 0 } else { amount };
    if charged > balance {
        return fox_error(
            400,
            "Not enough balance to pay the order",
            "BALANCE_NOT_ENOUGH",
        );
    }
    order.json["status"] = json!("paid");
    let payment = json!({"id": format!("payment_01kq4d5e6f7g8h9j0k{}", &id[..8]),
        "orderId": id, "status": "paid", "amount": money(amount), "currency": "usd",
        "paymentProvider": null, "paymentUrl": null, "createdAt": order.json["createdAt"]});
    fox.balance -= charged;
    reply(200, payment)
}

// ---------------------------------------------------------------------------------
// Cryptorefills
// ---------------------------------------------------------------------------------

#[derive(Default)]
struct Cr {
    orders: BTreeMap<String, Value>,
    created: u64,
}

/// Brand families by country, as `GET /v5/products/country/{cc}` returns them.
fn cr_families(country: &str) -> Vec<Value> {
    if country != "US" {
        return Vec::new();
    }
    vec![
        json!({"family": "Target", "brand": "Target", "brand_id": "9f8e7d6c", "kind": "giftcard",
        "category": "retail", "additional_categories": ["food"], "country_code": "US",
        "default_denomination": "", "is_out_of_stock": false,
        "logo_url": "https://cdn.cryptorefills.com/logos_v2/target.webp",
        "logo_base_url": "https://cdn.cryptorefills.com/logos_v2/target", "bg_color": "#CC0000",
        "rich_description": {"description": "<p>Shop at Target.</p>",
            "how_to_redeem": "<ol><li>Enter the code at checkout.</li></ol>",
            "term_and_conditions": "<p>No expiry.</p>", "locale": "en"},
        "products": [
            {"product_id": "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b", "is_dynamic": false,
             "denomination": "10 USD", "localized_denomination": "$10",
             "coin": "USDC", "coin_amount": "10.1200", "payment_method": "USDC-SOL",
             "delivery_type": "by_email", "points": "9", "product_type": "physical",
             "face_value": {"currency_code": "USD", "amount": {"type": "fixed", "price": "10"}}},
            {"product_id": "2f3e4d5c-6b7a-4899-8a1b-2c3d4e5f6a7b", "is_dynamic": true,
             "coin": "USDC", "payment_method": "USDC-SOL", "delivery_type": "by_email",
             "points": "4", "product_type": "physical",
             "range": {"min": 5.0, "max": 200.0, "currency": "USD", "step_size": 1.0, "default": "200.0"},
             "face_value": {"currency_code": "USD", "amount": {"type": "range", "min": "5.00", "max": "200.00"}}}
        ]}),
        json!({"family": "eSIM", "brand": "eSIM", "brand_id": "513ce431", "kind": "mobile_recharge",
        "category": "e-sim", "additional_categories": [], "country_code": "US",
        "default_denomination": "", "is_out_of_stock": false,
        "logo_url": "https://cdn.cryptorefills.com/logos_v2/esim.webp",
        "products": [
            {"product_id": "4b5c6d7e-8f9a-4b0c-9d1e-2f3a4b5c6d7e", "is_dynamic": false,
             "denomination": "1 GB 7 days", "localized_denomination": "1 GB 7 days",
             "coin": "USDC", "coin_amount": "4.5300", "payment_method": "USDC-SOL",
             "delivery_type": "by_email", "points": "4", "product_type": "physical",
             "face_value": {"currency_code": "USD", "amount": {"type": "fixed", "price": "4.5"}}}
        ]}),
    ]
}

fn cr_brand(family: &Value) -> Value {
    let (min, max) = if family["family"] == "Target" {
        ("$5", "$200")
    } else {
        ("1 GB 7 days", "1 GB 7 days")
    };
    json!({"family": family["family"], "brand": family["brand"], "brand_id": family["brand_id"],
        "logo_url": family["logo_url"], "logo_base_url": family["logo_url"], "bg_color": "#FFFFFF",
        "min": min, "max": max, "category": family["category"],
        "additional_categories": family["additional_categories"], "is_out_of_stock": false,
        "country_code": family["country_code"], "kind": family["kind"],
        "product_type": "physical", "brand_tags": []})
}

/// A Cryptorefills error body `{status, detail, moreDetails}`.
fn cr_error(status: u16, detail: &str, more: Value) -> Response {
    reply(
        status,
        json!({"status": status, "detail": detail, "moreDetails": more}),
    )
}

fn cryptorefills(shared: &Arc<Shared>, path: &str, request: &Request) -> Response {
    // Production does not enforce X-Cr-Application (WIRE-EVIDENCE, M): recorded only.
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let get = request.method == Method::GET;
    let post = request.method == Method::POST;
    match segments[..] {
        ["v2", "brands"] if get => brands(request),
        ["v3", "payment_vias"] if get => reply(200, payment_vias()),
        ["v5", "products", "country", country] if get => products(country, request),
        ["v4", "products", "price"] if get => price(request),
        ["v5", "orders", "validations"] if post => validate_cr_order(request),
        ["v5", "orders"] if post => create_cr_order(shared, request),
        ["v5", "orders", id] if get => match lock(&shared.cr).orders.get(id) {
            Some(order) => reply(200, order.clone()),
            None => reply(404, json!({"message": "Order not found"})),
        },
        ["v5", "orders", id, "subscribe"] if get => subscribe(shared, id),
        ["_standin", "pay", id] if post => {
            if !lock(&shared.cr).orders.contains_key(id) {
                return reply(404, json!({"message": "Order not found"}));
            }
            tokio::spawn(progress(shared.clone(), id.to_owned()));
            reply(200, json!({"paying": id}))
        }
        _ => cr_error(404, "NOT_FOUND", Value::Null),
    }
}

fn brands(request: &Request) -> Response {
    let Some(country) = request.param("country_code") else {
        return cr_error(400, "country_code is required", Value::Null);
    };
    let families = cr_families(country);
    let all: Vec<Value> = families.iter().map(cr_brand).collect();
    let categories: Vec<Value> = families
        .iter()
        .map(|f| json!({"kind": f["kind"], "category": f["category"], "brands": [cr_brand(f)]}))
        .collect();
    reply(
        200,
        json!({"country_code": country, "last_user_purchases": [], "suggestions": [],
            "all_brands": all, "popular_brands": all.first().cloned().into_iter().collect::<Vec<_>>(),
            "categories": categories}),
    )
}

fn payment_vias() -> Value {
    json!([{"name": "USER_WALLET", "available": true, "currencies": [
        {"name": "USDC", "is_suspended": false, "threshold": "10", "networks": [
            {"name": "Solana", "base_token": "SOL", "threshold": "0.56", "is_suspended": false,
             "smart_contract_engine": "SVM",
             "smart_contract": {"engine": "SVM", "address": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
                                "decimals": 6, "symbol": "USDC"}},
            {"name": "Base", "base_token": "ETH", "threshold": "1", "is_suspended": false}]},
        {"name": "USDT", "is_suspended": false, "threshold": "10", "networks": [
            {"name": "Polygon (Matic)", "base_token": "MATIC", "threshold": "1", "is_suspended": false},
            {"name": "Tron", "base_token": "TRX", "threshold": "5", "is_suspended": true}]}]}])
}

/// Without `family_name` production answers 400 (WIRE-EVIDENCE, H).
fn products(country: &str, request: &Request) -> Response {
    let Some(family) = request.param("family_name") else {
        return cr_error(400, "family_name is required", Value::Null);
    };
    let found: Vec<Value> = cr_families(country)
        .into_iter()
        .filter(|f| f["family"].as_str().unwrap().eq_ignore_ascii_case(family))
        .collect();
    reply(200, Value::Array(found))
}

fn family_of(brand: &str, country: &str) -> Option<Value> {
    cr_families(country).into_iter().find(|f| {
        f["family"].as_str().unwrap().eq_ignore_ascii_case(brand)
            || f["brand"].as_str().unwrap().eq_ignore_ascii_case(brand)
    })
}

fn range_product(family: &Value) -> Option<Value> {
    family["products"]
        .as_array()?
        .iter()
        .find(|p| p["is_dynamic"] == true)
        .cloned()
}

/// Coin amount of a face value on a range product: 1.2 % over the face value.
fn range_coin_units(value: f64) -> i64 {
    (value * 1.012 * 10_000.0).round() as i64
}

/// Whether `value` is in the range and on its step.
fn on_range(range: &Value, value: f64) -> bool {
    let min = range["min"].as_f64().unwrap();
    let max = range["max"].as_f64().unwrap();
    let step = range["step_size"].as_f64().unwrap();
    let steps = (value - min) / step;
    (min..=max).contains(&value) && (steps - steps.round()).abs() < 1e-9
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn price(request: &Request) -> Response {
    let (Some(brand), Some(country), Some(face_value)) = (
        request.param("brand_name"),
        request.param("country_code"),
        request.param("face_value"),
    ) else {
        return cr_error(
            400,
            "brand_name, country_code and face_value are required",
            Value::Null,
        );
    };
    let coin = request.param("coin").unwrap_or("USDC");
    let Some(family) = family_of(brand, country) else {
        return cr_error(400, "PRODUCT_NOT_AVAILABLE", Value::Null);
    };
    let value = face_value.trim().parse::<f64>().ok();
    let fixed = family["products"].as_array().unwrap().iter().find(|p| {
        p["denomination"] == face_value
            || value.is_some_and(|v| {
                number_of(&p["face_value"]["amount"]["price"]).is_some_and(|price| price == v)
            })
    });
    let common = |p: &Value| {
        json!({"product_id": p["product_id"], "is_dynamic": p["is_dynamic"], "coin": coin,
            "payment_method": p["payment_method"], "delivery_type": p["delivery_type"],
            "points": p["points"], "product_type": p["product_type"]})
    };
    if let Some(product) = fixed {
        let mut answer = common(product);
        answer["coin_amount"] = product["coin_amount"].clone();
        answer["original_coin_amount"] = product["coin_amount"].clone();
        return reply(200, answer);
    }
    match (range_product(&family), value) {
        (Some(product), Some(value)) if on_range(&product["range"], value) => {
            let mut answer = common(&product);
            answer["range"] = product["range"].clone();
            answer["coin_amount"] = json!(money(range_coin_units(value)));
            answer["original_coin_amount"] = answer["coin_amount"].clone();
            reply(200, answer)
        }
        _ => cr_error(
            400,
            "PRODUCT_NOT_AVAILABLE",
            json!({"face_value": face_value}),
        ),
    }
}

struct CrLine {
    family: Value,
    product: Value,
    beneficiary: String,
    denomination: String,
    product_value: Option<Value>,
    coin_units: i64,
}

struct CrChecked {
    email: String,
    coin: String,
    network: String,
    lines: Vec<CrLine>,
    kyc_missing: bool,
}

enum CrRejection {
    /// `{status, detail, moreDetails}` on both endpoints.
    Error(u16, String, Value),
    /// A product that does not exist: `problems` on validation, an error on create.
    Problem(&'static str, Value),
}

fn is_email(text: &str) -> bool {
    text.split_once('@')
        .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
}

/// What both `POST /v5/orders/validations` and `POST /v5/orders` accept: flat
/// deliveries, one per unit, up to 10 (WIRE-EVIDENCE, H).
fn check_cr_order(body: &Value) -> Result<CrChecked, CrRejection> {
    let bad = |detail: &str, more: Value| Err(CrRejection::Error(400, detail.to_owned(), more));
    let Some(object) = body.as_object() else {
        return bad("INVALID_REQUEST_BODY", Value::Null);
    };
    let email = object
        .get("email")
        .or_else(|| object.get("user").and_then(|u| u.get("email")))
        .and_then(Value::as_str);
    let Some(email) = email.filter(|e| is_email(e)) else {
        return bad("INVALID_EMAIL", json!({"email": email}));
    };
    let payment = &body["payment"];
    if payment["type"] != "via" || payment["payment_via"] != "USER_WALLET" {
        return bad("INVALID_PAYMENT", json!({"payment": payment}));
    }
    let coin = payment["coin"].as_str().unwrap_or_default();
    let vias = payment_vias();
    let Some(currency) = vias[0]["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == coin)
    else {
        return bad("INVALID_COIN", json!({"coin": coin}));
    };
    let networks = currency["networks"].as_array().unwrap();
    let network = match payment["network"].as_str() {
        None => networks[0].clone(),
        Some(name) => match networks.iter().find(|n| n["name"] == name) {
            Some(network) => network.clone(),
            None => return bad("INVALID_NETWORK", json!({"coin": coin, "network": name})),
        },
    };
    if network["is_suspended"] == true {
        return bad(
            "SUSPENDED_NETWORK",
            json!({"coin": coin, "network": network["name"]}),
        );
    }
    let deliveries = match body.get("deliveries") {
        Some(Value::Array(d)) if (1..=10).contains(&d.len()) => d,
        _ => {
            return bad(
                "INVALID_DELIVERIES",
                json!({"reason": "deliveries: 1 to 10 entries"}),
            );
        }
    };
    let mut lines = Vec::new();
    let mut kyc_missing = email == KYC_EMAIL;
    for (i, delivery) in deliveries.iter().enumerate() {
        let Some(delivery) = delivery.as_object() else {
            return bad("INVALID_DELIVERY", json!({"index": i}));
        };
        // The seed's nested form ({kind, quantity, deliverable}) is not what production takes.
        if delivery.contains_key("deliverable") || delivery.contains_key("quantity") {
            return bad(
                "INVALID_DELIVERY",
                json!({"index": i, "reason": "deliveries are flat: beneficiary_account, brand_name, country_code, denomination"}),
            );
        }
        let text = |key: &str| {
            delivery
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        };
        let (Some(beneficiary), Some(brand), Some(country), Some(denomination)) = (
            text("beneficiary_account"),
            text("brand_name"),
            text("country_code"),
            text("denomination"),
        ) else {
            return bad(
                "INVALID_DELIVERY",
                json!({"index": i, "reason": "beneficiary_account, brand_name, country_code and denomination are required"}),
            );
        };
        let Some(family) = family_of(brand, country) else {
            return Err(CrRejection::Problem(
                "NOT_AVAILABLE_PRODUCT",
                json!({"reason": format!("unknown product {brand} in {country}")}),
            ));
        };
        // Gift cards and eSIMs go to an email; mobile top-ups to a phone.
        let wants_email = family["kind"] != "mobile_recharge" || family["category"] == "e-sim";
        if wants_email && !is_email(beneficiary) {
            return bad(
                "INVALID_BENEFICIARY_ACCOUNT",
                json!({"index": i, "reason": "an email address"}),
            );
        }
        kyc_missing |= beneficiary == KYC_EMAIL;
        let (product, product_value, coin_units) = if denomination == "range" {
            let Some(product) = range_product(&family) else {
                return Err(CrRejection::Problem(
                    "NOT_AVAILABLE_PRODUCT",
                    json!({"reason": format!("{brand} has no custom amount")}),
                ));
            };
            let given = delivery
                .get("product_value")
                .cloned()
                .unwrap_or(Value::Null);
            let Some(value) = number_of(&given) else {
                return bad(
                    "INVALID_PRODUCT_VALUE",
                    json!({"index": i, "product_value": given}),
                );
            };
            if !on_range(&product["range"], value) {
                let range = &product["range"];
                return bad(
                    "INVALID_PRODUCT_VALUE",
                    json!({"index": i, "product_value": given, "min": range["min"],
                           "max": range["max"], "step_size": range["step_size"]}),
                );
            }
            (product, Some(given), range_coin_units(value))
        } else {
            // The product's own denomination string ("10 USD"), nothing else.
            let found = family["products"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["denomination"] == denomination)
                .cloned();
            let Some(product) = found else {
                return Err(CrRejection::Problem(
                    "NOT_AVAILABLE_PRODUCT",
                    json!({"reason": format!("no denomination {denomination:?} for {brand}")}),
                ));
            };
            let coin_units = units(product["coin_amount"].as_str().unwrap()).unwrap();
            (product, None, coin_units)
        };
        lines.push(CrLine {
            family,
            product,
            beneficiary: beneficiary.to_owned(),
            denomination: denomination.to_owned(),
            product_value,
            coin_units,
        });
    }
    Ok(CrChecked {
        email: email.to_owned(),
        coin: coin.to_owned(),
        network: network["name"].as_str().unwrap().to_owned(),
        lines,
        kyc_missing,
    })
}

fn cr_deliverable(line: &CrLine) -> Value {
    let mut deliverable = json!({
        "denomination": line.denomination, "family": line.family["family"],
        "brand_name": line.family["brand"], "beneficiary_account": line.beneficiary,
        "country_code": line.family["country_code"], "delivery_type": line.product["delivery_type"],
        "points": line.product["points"], "coin_amount": money(line.coin_units), "currency_code": "USD",
    });
    match &line.product_value {
        Some(value) => {
            deliverable["product_value"] = value.clone();
            deliverable["localized_denomination"] =
                json!(format!("${}", number_of(value).unwrap()));
        }
        None => {
            deliverable["localized_denomination"] = line.product["localized_denomination"].clone();
        }
    }
    deliverable
}

fn read_body(request: &Request) -> Result<Value, Box<Response>> {
    serde_json::from_slice(&request.body)
        .map_err(|_| Box::new(cr_error(400, "INVALID_REQUEST_BODY", Value::Null)))
}

fn validate_cr_order(request: &Request) -> Response {
    let body = match read_body(request) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    match check_cr_order(&body) {
        Err(CrRejection::Error(status, detail, more)) => cr_error(status, &detail, more),
        Err(CrRejection::Problem(code, more)) => reply(
            400,
            json!({"problems": [{"problem": code, "moreDetails": more}]}),
        ),
        Ok(checked) => {
            let total: i64 = checked.lines.iter().map(|l| l.coin_units).sum();
            let deliveries: Vec<Value> = checked
                .lines
                .iter()
                .enumerate()
                .map(|(i, line)| {
                    json!({"id": format!("4d5e6f{i:02x}"), "delivery_state": "Created",
                        "kind": line.family["kind"], "deliverable": cr_deliverable(line)})
                })
                .collect();
            let problems = if checked.kyc_missing {
                json!([{"problem": "KYC_MISSING", "moreDetails": null}])
            } else {
                Value::Null
            };
            reply(
                200,
                json!({"coin": checked.coin, "coin_amount": money(total),
                    "original_coin_amount": money(total), "coupon_code": null,
                    "loyalty_summary": null, "deliveries": deliveries, "problems": problems}),
            )
        }
    }
}

fn create_cr_order(shared: &Shared, request: &Request) -> Response {
    let body = match read_body(request) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    match check_cr_order(&body) {
        Err(CrRejection::Error(status, detail, more)) => cr_error(status, &detail, more),
        Err(CrRejection::Problem(code, more)) => cr_error(400, code, more),
        Ok(checked) if checked.kyc_missing => cr_error(400, "KYC_MISSING", Value::Null),
        Ok(checked) => {
            let order = lock(&shared.cr).create(&checked);
            shared.changed.send_modify(|v| *v += 1);
            reply(200, order)
        }
    }
}

impl Cr {
    fn create(&mut self, checked: &CrChecked) -> Value {
        self.created += 1;
        let n = self.created;
        let id = format!("2f1e0d9c-8b7a-4c6d-9e5f-{n:012x}");
        let total = money(checked.lines.iter().map(|l| l.coin_units).sum());
        let (wallet, method, protocol, qr) = match checked.network.as_str() {
            "Solana" => (
                SOLANA_WALLET.to_owned(),
                format!("{}-SOL", checked.coin),
                "SOLANA_LIKE",
                format!("solana:{SOLANA_WALLET}?amount={total}"),
            ),
            _ => {
                let wallet = "0x3f5CE5FBFe3E9af3971dD833D26bA9b5C936f0bE";
                (
                    wallet.to_owned(),
                    format!("{}-EVM", checked.coin),
                    "EVM_LIKE",
                    format!("ethereum:{wallet}?amount={total}"),
                )
            }
        };
        let created = (1_791_000_000 + n * 60).to_string();
        let deliveries: Vec<Value> = checked
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                json!({"id": format!("0b1c2d3e-4f5a-4b6c-8d7e-{n:08x}{i:04x}"),
                    "delivery_state": "WaitingForPayment", "kind": line.family["kind"],
                    "deliverable": cr_deliverable(line)})
            })
            .collect();
        let order = json!({
            "order_id": id, "created_at": created, "updated_at": created,
            "order_state": "WaitingForPayment", "payment_state": "WalletCreated",
            "payment_via": "USER_WALLET", "wallet_address": wallet,
            "payment_method": method, "payment_method_protocol": protocol,
            "network": checked.network, "coin": checked.coin,
            "coin_amount": total, "original_price": total, "sent_coin_amount": "0",
            "payment_value": total.parse::<f64>().unwrap(),
            "payment_id": format!("6a7b8c9d-0e1f-4a2b-8c3d-{n:012x}"),
            "payment_requested_at": created, "qr_text": qr,
            "qr_url": format!("https://api.cryptorefills.com:443/v3/qrs/{id}"),
            "user": {"email": checked.email}, "is_payment_processor_external": false,
            "deliveries": deliveries,
        });
        self.orders.insert(id, order.clone());
        order
    }
}

/// The pin code the stand-in delivers for delivery `i` of an order.
fn pin_code(order_id: &str, i: usize) -> String {
    let tail = &order_id[order_id.len() - 4..];
    format!("TGT-8842-{tail}-{:04}", 5530 + i)
}

async fn progress(shared: Arc<Shared>, id: String) {
    for step in ["PaymentReceived", "WaitingForDelivery", "Done"] {
        {
            let mut cr = lock(&shared.cr);
            let Some(order) = cr.orders.get_mut(&id) else {
                return;
            };
            let updated = order["updated_at"]
                .as_str()
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(1_791_000_000)
                + 120;
            order["updated_at"] = json!(updated.to_string());
            order["order_state"] = json!(step);
            order["sent_coin_amount"] = order["coin_amount"].clone();
            order["payment_state"] = json!(if step == "Done" {
                "PaymentCompleted"
            } else {
                "PaymentReceived"
            });
            if step == "Done" {
                for (i, delivery) in order["deliveries"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .enumerate()
                {
                    delivery["delivery_state"] = json!("Done");
                    let d = &mut delivery["deliverable"];
                    d["pin_code"] = json!(pin_code(&id, i));
                    d["pin_serial"] = json!(format!("0412{i:02}"));
                    d["security_code"] = json!("7731");
                    d["barcode_image_url"] = json!(format!(
                        "https://cdn.cryptorefills.com/barcodes/{id}-{i}.png"
                    ));
                    d["redeem_instructions"] = json!(
                        "<ol><li>Show the barcode at checkout or enter the code at target.com.</li></ol>"
                    );
                }
            }
        }
        shared.changed.send_modify(|v| *v += 1);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn is_final(order: &Value) -> bool {
    matches!(
        order["order_state"].as_str(),
        Some("Done" | "Expired" | "Canceled" | "PaymentFailed" | "PaymentSetupFailed" | "Refunded")
    )
}

/// `GET /v5/orders/{id}/subscribe`: unnamed `data:` events carrying the order JSON, one
/// per change, then `event: stop` + `data: {}` once the order is final.
fn subscribe(shared: &Arc<Shared>, id: &str) -> Response {
    if !lock(&shared.cr).orders.contains_key(id) {
        return reply(404, json!({"message": "Order not found"}));
    }
    struct Cursor {
        shared: Arc<Shared>,
        id: String,
        changes: watch::Receiver<u64>,
        last: Option<String>,
    }
    let cursor = Cursor {
        shared: shared.clone(),
        id: id.to_owned(),
        changes: shared.changed.subscribe(),
        last: None,
    };
    let events = futures::stream::unfold(Some(cursor), |cursor| async move {
        let mut cursor = cursor?;
        loop {
            let (text, done) = {
                let cr = lock(&cursor.shared.cr);
                let order = cr.orders.get(&cursor.id)?;
                (order.to_string(), is_final(order))
            };
            if cursor.last.as_ref() != Some(&text) {
                let mut chunk = format!("data: {text}\n\n");
                if done {
                    chunk += "event: stop\ndata: {}\n\n";
                    return Some((Ok::<_, Infallible>(Bytes::from(chunk)), None));
                }
                cursor.last = Some(text);
                return Some((Ok(Bytes::from(chunk)), Some(cursor)));
            }
            if cursor.changes.changed().await.is_err() {
                return None;
            }
        }
    });
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(events))
        .unwrap()
}
