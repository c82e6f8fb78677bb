//! Integration tests of the generated FoxReload client over real HTTP on 127.0.0.1.
//!
//! Every test starts an `httpmock` server, points `Client::with_api_key` at it and checks
//! both sides of the exchange: what the client sends (method, path, query, headers, JSON
//! body) and what it makes of the answer (decoded values, error variants).
//!
//! Response bodies are raw JSON text (not `serde_json::Value`) wherever the exact bytes
//! on the wire matter, e.g. the number `50.000` or unknown fields.

use std::num::NonZeroU64;
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use foxreload::mock::MockServerExt;
use foxreload::types::{
    self, CreateOrderError, CryptoTopupStatus, GetMeError, GetOrderError, OrderStatus,
    PaymentStatus, ValidationErrorLocItem,
};
use foxreload::{Client, Error};
use httpmock::{Method, MockServer, Then, When};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const API_KEY: &str = "fr_live_7Qm2kX9pL4vN8rT1wZ3c";

/// Seed response of `get_order` (status `completed`, codes in `items[].externalData`).
const SEED_GET_ORDER_COMPLETED: &str =
    include_str!("../../../specs/foxreload/examples/get_order.completed.json");
/// Seed request body of `create_order`.
const SEED_CREATE_ORDER_REQUEST: &str =
    include_str!("../../../specs/foxreload/examples/create_order.request.json");

const ORDER_ID: &str = "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f";
const PRODUCT_ID: &str = "product_01krgfgww8eth9xvvysd6y7r4j";

fn client(server: &MockServer) -> Client {
    Client::with_api_key(&server.base_url(), API_KEY).expect("client builds")
}

/// What every FoxReload request must carry: the API key, JSON accept, the crate's
/// user agent, and not progenitor's `api-version` header (dropped at generation).
fn authed(when: When) -> When {
    when.header("x-api-key", API_KEY)
        .header_missing("api-version")
        .header("accept", "application/json")
        .header_prefix("user-agent", "foxreload-rs/")
}

/// A 200 answer with `body` sent byte for byte.
fn json_ok(then: Then, body: &str) -> Then {
    json_status(then, 200, body)
}

fn json_status(then: Then, status: u16, body: &str) -> Then {
    then.status(status)
        .header("content-type", "application/json")
        .body(body)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("valid decimal literal")
}

fn utc(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("valid RFC 3339 literal")
        .with_timezone(&chrono::Utc)
}

/// The request body as JSON, for `is_true` matchers.
fn body_json(req: &httpmock::HttpMockRequest) -> Value {
    serde_json::from_slice(req.body_ref()).unwrap_or(Value::Null)
}

// ---------------------------------------------------------------------------------------
// 1. Each operation once, with a realistic payload
// ---------------------------------------------------------------------------------------

mod happy_path {
    use super::*;

    /// The status of a declared error body, or why the answer was not one.
    fn declared<E: std::fmt::Debug>(err: Error<E>) -> Result<(), Result<u16, String>> {
        match err {
            Error::ErrorResponse(response) => Err(Ok(response.status().as_u16())),
            other => Err(Err(format!("{other:?}"))),
        }
    }

    /// Every response example in `specs/foxreload/examples` (seed and production shapes)
    /// decodes through its operation over real HTTP: successes as values, error bodies
    /// as the declared error type.
    #[tokio::test]
    async fn every_example_answer_decodes_through_its_operation() {
        let manifest: Vec<Value> = serde_json::from_str(include_str!(
            "../../../specs/foxreload/examples/manifest.json"
        ))
        .unwrap();
        let examples =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs/foxreload/examples");
        let mut decoded = 0;
        for entry in manifest.iter().filter(|e| e["part"] == "response") {
            let file = entry["file"].as_str().unwrap();
            let status: u16 = entry["status"].as_str().unwrap().parse().unwrap();
            let body = std::fs::read_to_string(examples.join(file)).unwrap();
            let server = MockServer::start_async().await;
            server
                .mock_async(|when, then| {
                    when.any_request();
                    json_status(then, status, &body);
                })
                .await;
            let client = client(&server);
            let outcome = match entry["operation"].as_str().unwrap() {
                "list_categories" => client
                    .list_categories()
                    .send()
                    .await
                    .map_or_else(declared, |_| Ok(())),
                "get_category" => client
                    .get_category()
                    .category_id_or_slug("x")
                    .send()
                    .await
                    .map_or_else(declared, |_| Ok(())),
                "list_products" => client
                    .list_products()
                    .category_id_or_slug("x")
                    .send()
                    .await
                    .map_or_else(declared, |_| Ok(())),
                "search_products" => client
                    .search_products()
                    .query("x")
                    .send()
                    .await
                    .map_or_else(declared, |_| Ok(())),
                "get_product" => client
                    .get_product()
                    .product_id("x")
                    .send()
                    .await
                    .map_or_else(declared, |_| Ok(())),
                "create_order" => {
                    let body: types::CreateOrderRequest =
                        serde_json::from_str(SEED_CREATE_ORDER_REQUEST).unwrap();
                    client
                        .create_order()
                        .body(body)
                        .send()
                        .await
                        .map_or_else(declared, |_| Ok(()))
                }
                "pay_order" => client
                    .pay_order()
                    .order_id("x")
                    .body(types::PayOrderRequest {
                        payment_provider: None,
                        payment_return_url: None,
                    })
                    .send()
                    .await
                    .map_or_else(declared, |_| Ok(())),
                "get_order" => client
                    .get_order()
                    .order_id("x")
                    .send()
                    .await
                    .map_or_else(declared, |_| Ok(())),
                "list_orders" => client
                    .list_orders()
                    .send()
                    .await
                    .map_or_else(declared, |_| Ok(())),
                "list_balances" => client
                    .list_balances()
                    .send()
                    .await
                    .map_or_else(declared, |_| Ok(())),
                "get_me" => client
                    .get_me()
                    .send()
                    .await
                    .map_or_else(declared, |_| Ok(())),
                "get_topup_rates" => client
                    .get_topup_rates()
                    .currency("usd")
                    .send()
                    .await
                    .map_or_else(declared, |_| Ok(())),
                other => panic!("{file}: add {other} to this test"),
            };
            match outcome {
                Ok(()) => assert!(status < 300, "{file}: HTTP {status} decoded as success"),
                Err(Ok(got)) => assert_eq!((got, status >= 400), (status, true), "{file}"),
                Err(Err(err)) => panic!("{file}: {err}"),
            }
            decoded += 1;
        }
        assert!(decoded >= 25, "{decoded} examples");
    }

    #[tokio::test]
    async fn list_categories_sends_cursor_query_and_decodes_the_production_page() {
        let server = MockServer::start_async().await;
        let mock = server.list_categories(|when, then| {
            let when = when
                .parent_id_or_slug("steam")
                .cursor("eyJvZmZzZXQiOjJ9")
                .limit(NonZeroU64::new(2))
                .with_stock_only(true)
                .x_language("en")
                .x_currency(None);
            authed(when.into_inner());
            json_ok(
                then.into_inner(),
                include_str!("../../../specs/foxreload/examples/list_categories.page.json"),
            );
        });

        let page = client(&server)
            .list_categories()
            .parent_id_or_slug("steam")
            .cursor("eyJvZmZzZXQiOjJ9")
            .limit(2u64)
            .with_stock_only(true)
            .x_language("en")
            .send()
            .await
            .expect("list_categories succeeds");

        assert_eq!(page.status(), 200);
        let page = page.into_inner();
        let first = &page.items[0];
        assert_eq!(first.id, "019e2c41-7a0b-7c33-9d10-2f3e4a5b6c7d");
        assert_eq!(first.slug.as_deref(), Some("pubg-mobile"));
        assert_eq!(first.parent_id, None);
        assert_eq!(first.has_products, Some(true));
        assert_eq!(first.best_offer_price, Some(dec("0.9800")));
        assert!(page.next_cursor.is_some());
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn list_products_requires_a_category_and_decodes_null_prices_and_stock() {
        let server = MockServer::start_async().await;
        let mock = server.list_products(|when, then| {
            let when = when
                .category_id_or_slug("steam")
                .limit(NonZeroU64::new(200))
                .offset(40u64)
                .x_language("en")
                .x_currency("usd");
            authed(when.into_inner());
            json_ok(
                then.into_inner(),
                include_str!("../../../specs/foxreload/examples/list_products.page.json"),
            );
        });

        let missing = client(&server).list_products().send().await.unwrap_err();
        assert!(matches!(missing, Error::InvalidRequest(_)), "{missing:?}");
        let page = client(&server)
            .list_products()
            .category_id_or_slug("steam")
            .limit(200u64)
            .offset(40u64)
            .x_language("en")
            .x_currency("usd")
            .send()
            .await
            .expect("list_products succeeds")
            .into_inner();

        let top_up = &page.items[0];
        assert_eq!(top_up.id, "product_01kq2w3e4r5t6y7u8i9o0p1a2s");
        assert_eq!(top_up.price, Some(dec("4.7700")));
        assert_eq!(top_up.price.unwrap().to_string(), "4.7700");
        assert_eq!(
            (top_up.order_min_quantity, top_up.order_max_quantity),
            (Some(1), Some(300))
        );
        assert_eq!(
            top_up.required_note_fields.as_deref(),
            Some(&["login".to_owned()][..])
        );
        assert_eq!(
            top_up.note_field_types.as_ref().unwrap()["login"],
            types::NoteFieldType::String
        );
        let unpriced = &page.items[1];
        assert_eq!((unpriced.price, unpriced.quantity), (None, None));
        assert_eq!(
            unpriced.note_field_types.as_ref().unwrap()["player_id"],
            types::NoteFieldType::Integer
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn search_products_sends_the_required_query_and_decodes_a_bare_array() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                authed(when)
                    .method(Method::GET)
                    .path("/api/products/search")
                    .query_param("query", "steam 500")
                    .query_param_missing("limit")
                    .query_param_missing("offset")
                    .header_missing("x-language")
                    .header_missing("x-currency");
                json_ok(
                    then,
                    include_str!("../../../specs/foxreload/examples/search_products.array.json"),
                );
            })
            .await;

        let found = client(&server)
            .search_products()
            .query("steam 500")
            .send()
            .await
            .expect("search_products succeeds")
            .into_inner();

        assert!(!found.is_empty());
        assert_eq!(found[0].id, "product_01kq2w3e4r5t6y7u8i9o0p1a2s");
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn get_product_reads_one_product_by_id() {
        let server = MockServer::start_async().await;
        let mock = server.get_product(|when, then| {
            authed(
                when.product_id("product_01kq2w3e4r5t6y7u8i9o0p1a2s")
                    .into_inner(),
            );
            json_ok(
                then.into_inner(),
                include_str!("../../../specs/foxreload/examples/get_product.steam_topup.json"),
            );
        });
        let product = client(&server)
            .get_product()
            .product_id("product_01kq2w3e4r5t6y7u8i9o0p1a2s")
            .send()
            .await
            .unwrap()
            .into_inner();
        assert_eq!(product.order_max_quantity, Some(300));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn create_order_posts_the_seed_body_and_decodes_the_active_order() {
        let server = MockServer::start_async().await;
        let mut seed_body: Value = serde_json::from_str(SEED_CREATE_ORDER_REQUEST).unwrap();
        // `isMock` is a plain boolean, sent as false unless set.
        seed_body["isMock"] = json!(false);
        let mock = server.create_order(|when, then| {
            authed(when.into_inner())
                .header("content-type", "application/json")
                .json_body(seed_body);
            json_ok(
                then.into_inner(),
                r#"{
                  "id": "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f",
                  "status": "active",
                  "items": [
                    {
                      "product": {"id": "product_01krgfgww8eth9xvvysd6y7r4j", "name": "Steam 500 RUB"},
                      "quantity": 5,
                      "price": "500.00",
                      "externalData": null,
                      "error": null
                    }
                  ],
                  "totalPrice": "2500.00",
                  "currency": "RUB",
                  "note": null,
                  "createdAt": "2025-05-14T09:21:37.512Z",
                  "updatedAt": null
                }"#,
            );
        });

        let request: types::CreateOrderRequest =
            serde_json::from_str(SEED_CREATE_ORDER_REQUEST).expect("seed request decodes");
        assert_eq!(request.items[0].item_id, PRODUCT_ID);
        assert_eq!(request.items[0].quantity.get(), 5);

        let order = client(&server)
            .create_order()
            .body(request)
            .send()
            .await
            .expect("create_order succeeds")
            .into_inner();

        assert_eq!(order.id, ORDER_ID);
        assert_eq!(order.status, OrderStatus::Active);
        assert_eq!(order.total_price, Some(dec("2500.00")));
        assert_eq!(order.currency.as_deref(), Some("RUB"));
        assert_eq!(order.created_at, Some(utc("2025-05-14T09:21:37.512Z")));
        assert_eq!(order.updated_at, None);
        assert_eq!(order.items.len(), 1);
        let item = &order.items[0];
        assert_eq!(item.product.id, PRODUCT_ID);
        assert_eq!(item.product.name, "Steam 500 RUB");
        assert_eq!(item.quantity, 5);
        assert_eq!(item.price, Some(dec("500.00")));
        // Not paid yet: no codes.
        assert_eq!(item.external_data, None);
        assert_eq!(item.error, None);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn get_order_decodes_the_seed_completed_order_and_its_codes() {
        let server = MockServer::start_async().await;
        let mock = server.get_order(|when, then| {
            authed(when.order_id("order-uuid").into_inner()).path("/api/orders/order-uuid");
            json_ok(then.into_inner(), SEED_GET_ORDER_COMPLETED);
        });

        let order = client(&server)
            .get_order()
            .order_id("order-uuid")
            .send()
            .await
            .expect("get_order succeeds")
            .into_inner();

        assert_eq!(order.id, "order-uuid");
        assert_eq!(order.status, OrderStatus::Completed);
        assert_eq!(order.items.len(), 1);
        let item = &order.items[0];
        assert_eq!(item.product.id, "product_01krg...");
        assert_eq!(item.product.name, "Steam 500 RUB");
        assert_eq!(item.quantity, 5);
        assert_eq!(item.external_data, Some(json!(["XXXX-YYYY-ZZZZ", "..."])));
        assert_eq!(item.error, None);
        // Absent from the seed: optional fields stay empty.
        assert_eq!(item.price, None);
        assert_eq!(order.total_price, None);
        assert_eq!(order.created_at, None);
        mock.assert_async().await;
    }

    /// An eSIM line delivers activation data as an object; a line may mix a code string
    /// and an object. The whole order decodes and keeps both as sent.
    #[tokio::test]
    async fn get_order_decodes_activation_data_objects_beside_codes() {
        let server = MockServer::start_async().await;
        let id = "2d6b1f0a-5c3e-4e8f-9a7b-6c5d4e3f2a1b";
        let mock = server.get_order(|when, then| {
            authed(when.order_id(id).into_inner()).path(format!("/api/orders/{id}"));
            json_ok(
                then.into_inner(),
                include_str!(
                    "../../../specs/foxreload/examples/get_order.completed_activation_data.json"
                ),
            );
        });

        let order = client(&server)
            .get_order()
            .order_id(id)
            .send()
            .await
            .expect("activation data decodes")
            .into_inner();

        assert_eq!(order.status, OrderStatus::Completed);
        assert_eq!(
            order.items[0].external_data,
            Some(json!([{"code": "LPA:1$smdp.example.net$4F2A-9C1B-7D3E-8A6F", "pin": "1234"}]))
        );
        assert_eq!(
            order.items[1].external_data,
            Some(json!(["STEAM-K7QX-2M9P-4RTD", {"codes": ["STEAM-8WLB-3HNC-6ZVE"]}]))
        );
        assert_eq!(order.total_price, Some(dec("14.6700")));
        mock.assert_async().await;
    }

    /// Whatever `externalData` holds (one object instead of an array, a number, null),
    /// the order still decodes.
    #[tokio::test]
    async fn any_external_data_value_decodes() {
        for (external_data, expected) in [
            (
                r#"{"iccid": "8944110068234567891"}"#,
                Some(json!({"iccid": "8944110068234567891"})),
            ),
            ("[123456, true]", Some(json!([123456, true]))),
            ("\"ONE-CODE\"", Some(json!("ONE-CODE"))),
            ("null", None),
        ] {
            let server = MockServer::start_async().await;
            let body = format!(
                r#"{{"id": "{ORDER_ID}", "status": "completed", "items": [{{"product": {{"id": "{PRODUCT_ID}", "name": "eSIM"}}, "quantity": 1, "externalData": {external_data}}}]}}"#
            );
            server
                .mock_async(|when, then| {
                    authed(when).path(format!("/api/orders/{ORDER_ID}"));
                    json_ok(then, &body);
                })
                .await;
            let order = client(&server)
                .get_order()
                .order_id(ORDER_ID)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{external_data}: {e:?}"))
                .into_inner();
            assert_eq!(order.items[0].external_data, expected, "{external_data}");
        }
    }

    /// An external provider: `paymentProvider` and `paymentReturnUrl` are sent; the
    /// answer's `paymentUrl` is where the buyer pays.
    #[tokio::test]
    async fn pay_order_with_an_external_provider_sends_the_return_url() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                authed(when)
                    .method(Method::POST)
                    .path(format!("/api/orders/{ORDER_ID}/pay"))
                    .is_true(|req| {
                        body_json(req)
                            == serde_json::from_str::<Value>(include_str!(
                                "../../../specs/foxreload/examples/pay_order.request.external_provider.json"
                            ))
                            .unwrap()
                    });
                json_ok(
                    then,
                    r#"{"id": "payment_01kq4d5e6f7g8h9j0k5e000001", "orderId": "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f",
                        "status": "pending", "amount": "4.7700", "currency": "usd",
                        "paymentProvider": "pally", "paymentUrl": "https://pay.example.net/c/7Q2M"}"#,
                );
            })
            .await;

        let payment = client(&server)
            .pay_order()
            .order_id(ORDER_ID)
            .body(types::PayOrderRequest {
                payment_provider: Some("pally".into()),
                payment_return_url: Some("https://shop.example.com/orders/1042/paid".into()),
            })
            .send()
            .await
            .expect("pay_order succeeds")
            .into_inner();

        assert_eq!(payment.payment_provider.as_deref(), Some("pally"));
        assert_eq!(
            payment.payment_url.as_deref(),
            Some("https://pay.example.net/c/7Q2M")
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn list_orders_sends_the_status_filter_and_decodes_the_order_page() {
        let server = MockServer::start_async().await;
        let mock = server.list_orders(|when, then| {
            let when = when
                .status(&OrderStatus::Completed)
                .limit(NonZeroU64::new(10))
                .offset(0u64);
            authed(when.into_inner()).query_param("status", "completed");
            json_ok(
                then.into_inner(),
                r#"{
                  "items": [
                    {
                      "id": "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f",
                      "status": "completed",
                      "items": [
                        {
                          "product": {"id": "product_01krgfgww8eth9xvvysd6y7r4j", "name": "Steam 500 RUB"},
                          "quantity": 2,
                          "price": "500.00",
                          "externalData": ["7K3D-QW9P-2MXT", "R8VN-4HJC-ZL6B"],
                          "error": null
                        }
                      ],
                      "totalPrice": "1000.00",
                      "currency": "RUB",
                      "note": "batch-2025-05-14",
                      "createdAt": "2025-05-14T09:21:37Z",
                      "updatedAt": "2025-05-14T09:21:52Z"
                    }
                  ],
                  "limit": 10,
                  "offset": 0,
                  "total": 1
                }"#,
            );
        });

        let page = client(&server)
            .list_orders()
            .status(OrderStatus::Completed)
            .limit(10u64)
            .offset(0u64)
            .send()
            .await
            .expect("list_orders succeeds")
            .into_inner();

        assert_eq!(
            (page.limit, page.offset, page.total),
            (Some(10), Some(0), Some(1))
        );
        assert_eq!(page.items.len(), 1);
        let order = &page.items[0];
        assert_eq!(order.id, ORDER_ID);
        assert_eq!(order.status, OrderStatus::Completed);
        assert_eq!(order.total_price, Some(dec("1000.00")));
        assert_eq!(order.updated_at, Some(utc("2025-05-14T09:21:52Z")));
        assert_eq!(
            order.items[0].external_data,
            Some(json!(["7K3D-QW9P-2MXT", "R8VN-4HJC-ZL6B"]))
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn pay_order_posts_a_balance_payment_and_decodes_the_payment() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                authed(when)
                    .method(Method::POST)
                    .path(format!("/api/orders/{ORDER_ID}/pay"))
                    .header("content-type", "application/json")
                    // Pay from the balance: no provider (`{}`, which production takes
                    // as it takes `{"paymentProvider": null}`).
                    .is_true(|req| body_json(req) == serde_json::json!({}));
                json_ok(
                    then,
                    r#"{
                      "id": "payment_01krgj7t2v4x6z8b0d2f4h6k8m",
                      "orderId": "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f",
                      "status": "paid",
                      "amount": "2500.00",
                      "currency": "RUB",
                      "paymentProvider": null,
                      "paymentUrl": null,
                      "createdAt": "2025-05-14T09:22:05Z"
                    }"#,
                );
            })
            .await;

        let payment = client(&server)
            .pay_order()
            .order_id(ORDER_ID)
            .body(types::PayOrderRequest {
                payment_provider: None,
                payment_return_url: None,
            })
            .send()
            .await
            .expect("pay_order succeeds")
            .into_inner();

        assert_eq!(
            payment.id.as_deref(),
            Some("payment_01krgj7t2v4x6z8b0d2f4h6k8m")
        );
        assert_eq!(payment.order_id.as_deref(), Some(ORDER_ID));
        assert_eq!(payment.status, Some(PaymentStatus::Paid));
        assert_eq!(payment.amount, Some(dec("2500.00")));
        assert_eq!(payment.currency.as_deref(), Some("RUB"));
        assert_eq!(payment.payment_provider, None);
        assert_eq!(payment.payment_url, None);
        assert_eq!(payment.created_at, Some(utc("2025-05-14T09:22:05Z")));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn create_crypto_topup_posts_money_as_a_decimal_string_and_decodes_the_address() {
        let server = MockServer::start_async().await;
        let mock = server.create_crypto_topup(|when, then| {
            authed(when.into_inner())
                .header("content-type", "application/json")
                .json_body(json!({
                    "amount": "150.50",
                    "currency": "USD",
                    "coin": "USDT",
                    "network": "TRC20"
                }));
            json_ok(
                then.into_inner(),
                r#"{
                  "id": "topup_01krgk3n5p7r9t1v3x5z7b9d1f",
                  "status": "pending",
                  "amount": "150.50",
                  "currency": "USD",
                  "coin": "USDT",
                  "network": "TRC20",
                  "coinAmount": "150.874221",
                  "address": "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE",
                  "expiresAt": "2025-05-14T10:21:37Z",
                  "createdAt": "2025-05-14T09:21:37Z"
                }"#,
            );
        });

        let topup = client(&server)
            .create_crypto_topup()
            .body(types::CreateCryptoTopupRequest {
                amount: dec("150.50"),
                currency: Some("USD".to_owned()),
                coin: "USDT".to_owned(),
                network: "TRC20".to_owned(),
            })
            .send()
            .await
            .expect("create_crypto_topup succeeds")
            .into_inner();

        assert_eq!(topup.id, "topup_01krgk3n5p7r9t1v3x5z7b9d1f");
        assert_eq!(topup.status, CryptoTopupStatus::Pending);
        assert_eq!(topup.amount, Some(dec("150.50")));
        assert_eq!(topup.coin_amount, Some(dec("150.874221")));
        assert_eq!(topup.coin.as_deref(), Some("USDT"));
        assert_eq!(topup.network.as_deref(), Some("TRC20"));
        assert_eq!(
            topup.address.as_deref(),
            Some("TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE")
        );
        assert_eq!(topup.expires_at, Some(utc("2025-05-14T10:21:37Z")));
        assert_eq!(topup.created_at, Some(utc("2025-05-14T09:21:37Z")));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn get_me_decodes_the_account() {
        let server = MockServer::start_async().await;
        let account = types::Account {
            id: Some("account_01kr9m3x5c7v9b1n3m5q7w9e1r".to_owned()),
            email: Some("procurement@example-games.ae".to_owned()),
            name: Some("Example Games FZ-LLC".to_owned()),
            currency: Some("USD".to_owned()),
            is_active: None,
        };
        let mock = server.get_me(|when, then| {
            authed(when.into_inner()).path("/api/access/me");
            then.ok(&account);
        });

        let me = client(&server)
            .get_me()
            .send()
            .await
            .expect("get_me succeeds");

        assert_eq!(me.status(), 200);
        let me = me.into_inner();
        assert_eq!(me.id.as_deref(), Some("account_01kr9m3x5c7v9b1n3m5q7w9e1r"));
        assert_eq!(me.email.as_deref(), Some("procurement@example-games.ae"));
        assert_eq!(me.currency.as_deref(), Some("USD"));
        assert_eq!(me, account);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn list_balances_decodes_one_balance_per_currency() {
        let server = MockServer::start_async().await;
        let mock = server.list_balances(|when, then| {
            authed(when.into_inner()).path("/api/access/me/balances/");
            json_ok(
                then.into_inner(),
                r#"[
                  {"currency": "USD", "available": "1520.75"},
                  {"currency": "RUB", "available": 12.5},
                  {"currency": "EUR", "available": "0.00"}
                ]"#,
            );
        });

        let balances = client(&server)
            .list_balances()
            .send()
            .await
            .expect("list_balances succeeds")
            .into_inner();

        let got: Vec<(&str, Decimal)> = balances
            .iter()
            .map(|b| (b.currency.as_str(), b.available))
            .collect();
        assert_eq!(
            got,
            vec![
                ("USD", dec("1520.75")),
                ("RUB", Decimal::new(125, 1)),
                ("EUR", Decimal::ZERO),
            ]
        );
        mock.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// 2-4. Decoding: open enums, unknown fields, money
// ---------------------------------------------------------------------------------------

mod decoding {
    use super::*;

    #[tokio::test]
    async fn unknown_order_status_is_kept_and_the_rest_of_the_order_decodes() {
        let server = MockServer::start_async().await;
        let mock = server.get_order(|when, then| {
            authed(when.order_id(ORDER_ID).into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "id": "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f",
                  "status": "refunded",
                  "items": [
                    {
                      "product": {"id": "product_01krgfgww8eth9xvvysd6y7r4j", "name": "Steam 500 RUB"},
                      "quantity": 1,
                      "price": "500.00",
                      "externalData": ["7K3D-QW9P-2MXT"],
                      "error": null
                    }
                  ],
                  "totalPrice": "500.00",
                  "currency": "RUB"
                }"#,
            );
        });

        let order = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("an unknown status must not fail decoding")
            .into_inner();

        assert_eq!(order.status, OrderStatus::Unknown("refunded".to_owned()));
        assert!(order.status.is_unknown());
        assert_eq!(order.status.as_str(), "refunded");
        assert_eq!(order.id, ORDER_ID);
        assert_eq!(order.total_price, Some(dec("500.00")));
        assert_eq!(order.items[0].product.id, PRODUCT_ID);
        assert_eq!(
            order.items[0].external_data,
            Some(json!(["7K3D-QW9P-2MXT"]))
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn unknown_status_is_sent_back_verbatim_as_a_filter() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                authed(when)
                    .method(Method::GET)
                    .path("/api/orders/")
                    .query_param("status", "refunded");
                json_ok(then, r#"{"items": []}"#);
            })
            .await;

        let page = client(&server)
            .list_orders()
            .status(OrderStatus::from("refunded"))
            .send()
            .await
            .expect("list_orders succeeds")
            .into_inner();

        assert!(page.items.is_empty());
        // OrderPage's paging fields are optional (the spec only assumes them).
        assert_eq!((page.limit, page.offset, page.total), (None, None, None));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn unknown_payment_and_topup_statuses_decode_as_unknown() {
        let server = MockServer::start_async().await;
        let pay = server
            .mock_async(|when, then| {
                authed(when)
                    .method(Method::POST)
                    .path(format!("/api/orders/{ORDER_ID}/pay"));
                json_ok(
                    then,
                    r#"{"id": "payment_01krgj7t2v4x6z8b0d2f4h6k8m",
                        "orderId": "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f",
                        "status": "chargeback", "amount": "10.00"}"#,
                );
            })
            .await;
        let topup = server
            .mock_async(|when, then| {
                authed(when)
                    .method(Method::POST)
                    .path("/api/topups/crypto/");
                json_ok(
                    then,
                    r#"{"id": "topup_01krgk3n5p7r9t1v3x5z7b9d1f", "status": "underpaid"}"#,
                );
            })
            .await;
        let client = client(&server);

        let payment = client
            .pay_order()
            .order_id(ORDER_ID)
            .body(types::PayOrderRequest {
                payment_provider: None,
                payment_return_url: None,
            })
            .send()
            .await
            .expect("pay_order succeeds")
            .into_inner();
        assert_eq!(
            payment.status,
            Some(PaymentStatus::Unknown("chargeback".to_owned()))
        );
        assert_eq!(payment.amount, Some(dec("10.00")));

        let topup_value = client
            .create_crypto_topup()
            .body(types::CreateCryptoTopupRequest {
                amount: dec("10"),
                currency: None,
                coin: "USDT".to_owned(),
                network: "TRC20".to_owned(),
            })
            .send()
            .await
            .expect("create_crypto_topup succeeds")
            .into_inner();
        assert_eq!(
            topup_value.status,
            CryptoTopupStatus::Unknown("underpaid".to_owned())
        );
        assert_eq!(topup_value.address, None);

        pay.assert_async().await;
        topup.assert_async().await;
    }

    #[tokio::test]
    async fn unknown_fields_at_every_level_are_ignored() {
        let server = MockServer::start_async().await;
        let order_mock = server.get_order(|when, then| {
            authed(when.order_id(ORDER_ID).into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "id": "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f",
                  "status": "completed",
                  "paymentStatus": "paid",
                  "meta": {"source": "api", "ip": "203.0.113.7", "tags": [1, 2, 3]},
                  "items": [
                    {
                      "product": {
                        "id": "product_01krgfgww8eth9xvvysd6y7r4j",
                        "name": "Steam 500 RUB",
                        "sku": "STEAM-RUB-500",
                        "region": {"code": "RU", "name": "Russia"}
                      },
                      "quantity": 1,
                      "price": "500.00",
                      "externalData": ["7K3D-QW9P-2MXT"],
                      "deliveredAt": "2025-05-14T09:21:52Z",
                      "supplierRef": null,
                      "error": null
                    }
                  ],
                  "totalPrice": "500.00",
                  "currency": "RUB"
                }"#,
            );
        });
        let products_mock = server.list_products(|when, then| {
            authed(when.into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "items": [
                    {
                      "id": "product_01krgfgww8eth9xvvysd6y7r4j",
                      "name": "Steam 500 RUB",
                      "price": "500.00",
                      "platform": {"name": "Steam", "activation": "global"},
                      "rating": 4.8
                    }
                  ],
                  "limit": 20,
                  "offset": 0,
                  "total": 1,
                  "hasMore": false,
                  "requestId": "req_9f8e7d6c"
                }"#,
            );
        });
        let client = client(&server);

        let order = client
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("extra fields must be ignored")
            .into_inner();
        assert_eq!(order.id, ORDER_ID);
        assert_eq!(order.status, OrderStatus::Completed);
        assert_eq!(order.items[0].product.id, PRODUCT_ID);
        assert_eq!(order.items[0].product.name, "Steam 500 RUB");
        assert_eq!(
            order.items[0].external_data,
            Some(json!(["7K3D-QW9P-2MXT"]))
        );
        assert_eq!(order.total_price, Some(dec("500.00")));

        let page = client
            .list_products()
            .category_id_or_slug("steam")
            .send()
            .await
            .expect("extra fields must be ignored")
            .into_inner();
        assert_eq!(page.total, Some(1));
        assert_eq!(page.items[0].id, PRODUCT_ID);
        assert_eq!(page.items[0].price, Some(dec("500.00")));

        order_mock.assert_async().await;
        products_mock.assert_async().await;
    }

    #[tokio::test]
    async fn money_decodes_exactly_from_a_string_and_from_a_number() {
        let server = MockServer::start_async().await;
        let mock = server.get_order(|when, then| {
            authed(when.order_id(ORDER_ID).into_inner());
            // Raw text: `50.000` must reach the client as written, not re-serialized.
            json_ok(
                then.into_inner(),
                r#"{
                  "id": "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f",
                  "status": "processing",
                  "items": [
                    {
                      "product": {"id": "product_01krgfgww8eth9xvvysd6y7r4j", "name": "Steam 500 RUB"},
                      "quantity": 3,
                      "price": 50.000
                    },
                    {
                      "product": {"id": "product_01krgh2c5d7e9f1g3h5j7k9m1n", "name": "PUBG Mobile 60 UC"},
                      "quantity": 1,
                      "price": "0.10"
                    }
                  ],
                  "totalPrice": "150.5",
                  "currency": "USD"
                }"#,
            );
        });

        let order = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("get_order succeeds")
            .into_inner();

        assert_eq!(order.status, OrderStatus::Processing);
        // From a string: exact value and scale.
        let total = order.total_price.expect("totalPrice present");
        assert_eq!(total, Decimal::new(1505, 1));
        assert_eq!(total.to_string(), "150.5");
        let dime = order.items[1].price.expect("price present");
        assert_eq!(dime, Decimal::new(10, 2));
        assert_eq!(dime.to_string(), "0.10");
        // From a number: exact value (0.1 + 0.2 style float noise would break this).
        let unit = order.items[0].price.expect("price present");
        assert_eq!(unit, Decimal::new(50, 0));
        assert_eq!(unit, dec("50.000"));
        assert_eq!(unit * Decimal::from(order.items[0].quantity), dec("150"));
        mock.assert_async().await;
    }

    /// A JSON *number* reaches `rust_decimal` through an `f64` (serde_json is built
    /// without `arbitrary_precision`, which breaks untagged enums): amounts of up to
    /// 15 significant digits decode exactly, the number's trailing zeros are not kept.
    #[tokio::test]
    async fn money_sent_as_a_json_number_is_exact_to_fifteen_significant_digits() {
        let server = MockServer::start_async().await;
        let mock = server.list_balances(|when, then| {
            authed(when.into_inner());
            json_ok(
                then.into_inner(),
                r#"[{"currency": "IDR", "available": 1234567890123.45},
                    {"currency": "BTC", "available": 0.00000001},
                    {"currency": "USD", "available": 999999999999.999}]"#,
            );
        });

        let balances = client(&server)
            .list_balances()
            .send()
            .await
            .expect("list_balances succeeds")
            .into_inner();

        assert_eq!(balances[0].available, dec("1234567890123.45"));
        assert_eq!(balances[1].available, dec("0.00000001"));
        assert_eq!(balances[2].available, dec("999999999999.999"));
        mock.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// 5-6. Errors
// ---------------------------------------------------------------------------------------

mod errors {
    use super::*;

    /// A proxy's HTML page on a status the spec declares with a JSON body.
    #[tokio::test]
    async fn an_error_body_of_another_shape_keeps_its_status() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.method(Method::GET)
                    .path(format!("/api/orders/{ORDER_ID}"));
                then.status(404)
                    .header("content-type", "text/html")
                    .body("<h1>Not Found</h1>");
            })
            .await;
        let err = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect_err("404 is an error");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
        let Error::UnexpectedResponse(response) = err else {
            panic!("expected UnexpectedResponse, got {err:?}");
        };
        assert_eq!(response.text().await.unwrap(), "<h1>Not Found</h1>");
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn a_redirect_to_another_origin_is_refused_without_sending_the_key() {
        let elsewhere = MockServer::start_async().await;
        let stolen = elsewhere
            .mock_async(|when, then| {
                when.any_request();
                then.status(200);
            })
            .await;
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.any_request();
                then.status(302)
                    .header("location", format!("{}/collect", elsewhere.base_url()));
            })
            .await;
        let err = client(&server).get_me().send().await.expect_err("refused");
        let Error::CommunicationError(err) = err else {
            panic!("expected CommunicationError, got {err:?}");
        };
        assert!(err.is_redirect(), "{err}");
        assert_eq!(stolen.calls_async().await, 0);
    }

    #[tokio::test]
    async fn invalid_api_key_is_a_401_error_detail() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.method(Method::GET)
                    .path("/api/access/me")
                    .header("x-api-key", "fr_live_revoked")
                    .header_missing("api-version");
                json_status(then, 401, r#"{"detail": "Invalid API key"}"#);
            })
            .await;

        let client = Client::with_api_key(&server.base_url(), "fr_live_revoked").unwrap();
        let err = client.get_me().send().await.expect_err("401 is an error");

        assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
        assert!(!err.is_retryable());
        let Error::ErrorResponse(response) = err else {
            panic!("expected ErrorResponse, got {err:?}");
        };
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.into_inner(),
            GetMeError::ErrorDetail(types::ErrorDetail {
                detail: "Invalid API key".to_owned(),
                code: None,
            })
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn unknown_order_is_a_404_error_detail() {
        let server = MockServer::start_async().await;
        let mock = server.get_order(|when, then| {
            authed(
                when.order_id("00000000-0000-0000-0000-000000000000")
                    .into_inner(),
            );
            then.not_found(&GetOrderError::ErrorDetail(types::ErrorDetail {
                detail: "Order not found".to_owned(),
                code: Some(types::ErrorCode::NotFound),
            }));
        });

        let err = client(&server)
            .get_order()
            .order_id("00000000-0000-0000-0000-000000000000")
            .send()
            .await
            .expect_err("404 is an error");

        let Error::ErrorResponse(response) = err else {
            panic!("expected ErrorResponse, got {err:?}");
        };
        assert_eq!(response.status(), 404);
        match response.into_inner() {
            GetOrderError::ErrorDetail(e) => assert_eq!(e.detail, "Order not found"),
            other => panic!("expected ErrorDetail, got {other:?}"),
        }
        mock.assert_async().await;
    }

    /// A deployment that has seen the `idempotencyKey` answers `ORDER_ALREADY_EXISTS`:
    /// a declared error with its code, not an order.
    #[tokio::test]
    async fn order_already_exists_is_a_declared_error_with_its_code() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                authed(when).method(Method::POST).path("/api/orders/");
                json_status(
                    then,
                    409,
                    include_str!(
                        "../../../specs/foxreload/examples/error.order_already_exists.json"
                    ),
                );
            })
            .await;
        let body: types::CreateOrderRequest =
            serde_json::from_str(SEED_CREATE_ORDER_REQUEST).unwrap();

        let err = client(&server)
            .create_order()
            .body(body)
            .send()
            .await
            .expect_err("a refusal");

        let Error::ErrorResponse(response) = err else {
            panic!("expected ErrorResponse, got {err:?}");
        };
        assert_eq!(response.status(), 409);
        match response.into_inner() {
            CreateOrderError::ErrorDetail(e) => {
                assert_eq!(e.code, Some(types::ErrorCode::OrderAlreadyExists))
            }
            other => panic!("expected ErrorDetail, got {other:?}"),
        }
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn fastapi_validation_error_is_a_422_http_validation_error() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                authed(when)
                    .method(Method::POST)
                    .path("/api/orders/")
                    // The client does not enforce `maxItems: 10`: all 11 lines go out.
                    .is_true(|req| {
                        body_json(req)["items"]
                            .as_array()
                            .is_some_and(|items| items.len() == 11)
                    });
                // pydantic v2 shape, with its extra `input`/`ctx` keys.
                json_status(
                    then,
                    422,
                    r#"{
                      "detail": [
                        {
                          "type": "too_long",
                          "loc": ["body", "items"],
                          "msg": "List should have at most 10 items after validation, not 11",
                          "input": [],
                          "ctx": {"field_type": "List", "max_length": 10, "actual_length": 11}
                        },
                        {
                          "type": "greater_than",
                          "loc": ["body", "items", 0, "quantity"],
                          "msg": "Input should be greater than 0",
                          "input": 0,
                          "ctx": {"gt": 0}
                        }
                      ]
                    }"#,
                );
            })
            .await;

        let line = types::CreateOrderItem {
            item_id: PRODUCT_ID.to_owned(),
            quantity: NonZeroU64::new(1).unwrap(),
            note: None,
        };
        let err = client(&server)
            .create_order()
            .body(types::CreateOrderRequest {
                items: vec![line; 11],
                idempotency_key: None,
                is_mock: false,
                note: None,
                total_price: None,
            })
            .send()
            .await
            .expect_err("422 is an error");

        let Error::ErrorResponse(response) = err else {
            panic!("expected ErrorResponse, got {err:?}");
        };
        assert_eq!(response.status(), 422);
        let CreateOrderError::HttpValidationError(validation) = response.into_inner() else {
            panic!("expected the HttpValidationError variant");
        };
        assert_eq!(validation.detail.len(), 2);
        let too_long = &validation.detail[0];
        assert_eq!(too_long.type_, "too_long");
        assert_eq!(
            too_long.msg,
            "List should have at most 10 items after validation, not 11"
        );
        assert_eq!(
            too_long.loc,
            vec![
                ValidationErrorLocItem::String("body".to_owned()),
                ValidationErrorLocItem::String("items".to_owned()),
            ]
        );
        let loc: Vec<String> = validation.detail[1]
            .loc
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(loc, ["body", "items", "0", "quantity"]);
        assert_eq!(
            validation.detail[1].loc[2],
            ValidationErrorLocItem::Integer(0)
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn rate_limit_is_a_429_with_a_readable_retry_after() {
        let server = MockServer::start_async().await;
        let mock = server.list_products(|when, then| {
            authed(when.into_inner());
            then.into_inner()
                .status(429)
                .header("content-type", "application/json")
                .header("Retry-After", "1")
                .body(r#"{"detail": "Too many requests"}"#);
        });

        let err = client(&server)
            .list_products()
            .category_id_or_slug("steam")
            .send()
            .await
            .expect_err("429 is an error");

        // 429 is left undeclared by the generator so a proxy's body cannot hide it:
        // status, Retry-After and body all stay readable.
        assert!(err.is_retryable());
        let Error::UnexpectedResponse(response) = err else {
            panic!("expected UnexpectedResponse, got {err:?}");
        };
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .expect("Retry-After header kept on the error")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(Duration::from_secs(retry_after), Duration::from_secs(1));
        let body: types::ErrorDetail = response.json().await.unwrap();
        assert_eq!(body.detail, "Too many requests");
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn undocumented_500_with_html_is_an_unexpected_response() {
        let server = MockServer::start_async().await;
        let html = "<html><head><title>500 Internal Server Error</title></head>\
                    <body><h1>Internal Server Error</h1></body></html>";
        let mock = server
            .mock_async(|when, then| {
                authed(when).method(Method::GET).path("/api/categories/");
                then.status(500)
                    .header("content-type", "text/html; charset=utf-8")
                    .body(html);
            })
            .await;

        let err = client(&server)
            .list_categories()
            .send()
            .await
            .expect_err("500 is an error");

        assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
        let Error::UnexpectedResponse(response) = err else {
            panic!("expected UnexpectedResponse, got {err:?}");
        };
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers()[reqwest::header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(response.text().await.unwrap(), html);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn malformed_json_on_200_is_an_invalid_response_payload() {
        let server = MockServer::start_async().await;
        let truncated = r#"{"id": "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f", "status": "completed", "items": [{"product": {"id": "#;
        let mock = server.get_order(|when, then| {
            authed(when.order_id(ORDER_ID).into_inner());
            json_ok(then.into_inner(), truncated);
        });

        let err = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect_err("truncated JSON is an error");

        let Error::InvalidResponsePayload(bytes, json_err) = err else {
            panic!("expected InvalidResponsePayload, got {err:?}");
        };
        assert_eq!(&bytes[..], truncated.as_bytes());
        assert!(json_err.is_eof(), "{json_err}");
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn well_formed_json_missing_a_required_field_is_an_invalid_response_payload() {
        let server = MockServer::start_async().await;
        let body = r#"{"id": "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f", "status": "completed"}"#;
        let mock = server.get_order(|when, then| {
            authed(when.order_id(ORDER_ID).into_inner());
            json_ok(then.into_inner(), body);
        });

        let err = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect_err("an order without items is an error");

        let Error::InvalidResponsePayload(bytes, json_err) = err else {
            panic!("expected InvalidResponsePayload, got {err:?}");
        };
        assert_eq!(&bytes[..], body.as_bytes());
        assert!(json_err.is_data(), "{json_err}");
        assert!(json_err.to_string().contains("items"), "{json_err}");
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn connection_closed_after_accept_is_a_communication_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (accepted_tx, accepted_rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Accept and drop at once; keep accepting in case the client reconnects.
            for stream in listener.incoming() {
                drop(stream);
                if accepted_tx.send(()).is_err() {
                    break;
                }
            }
        });

        let client = Client::with_api_key(&format!("http://{addr}"), API_KEY).unwrap();
        let err = client
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect_err("a dropped connection is an error");

        // The client did reach the listener: this is not a refused connection.
        accepted_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the listener accepted a connection");
        assert_eq!(err.status(), None);
        assert!(err.is_retryable());
        let Error::CommunicationError(reqwest_err) = err else {
            panic!("expected CommunicationError, got {err:?}");
        };
        assert!(!reqwest_err.is_connect(), "{reqwest_err:?}");
        assert!(!reqwest_err.is_timeout(), "{reqwest_err:?}");
    }
}
