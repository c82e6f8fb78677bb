//! Integration tests of the generated Cryptorefills client over real HTTP on 127.0.0.1.
//!
//! Every test starts an `httpmock` server (or, where the wire itself matters, a bare
//! `TcpListener`), points `Client::with_partner` at it and checks both sides of the
//! exchange: what the client sends (method, path, query, partner headers, JSON body) and
//! what it makes of the answer (decoded values, open enums, money, error variants).
//!
//! Response bodies are raw JSON text (not `serde_json::Value`) so that the exact bytes on
//! the wire reach the client: numbers such as `50.000`, unknown fields, `null`s. Where
//! production bytes matter they come from `specs/cryptorefills/examples` (captured or
//! rebuilt from production evidence), through `include_str!`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use cryptorefills::mock::MockServerExt;
use cryptorefills::types::{
    self, DeliveryState, DeliveryType, FaceValueAmountType, FaceValueBound, HttpErrorCode,
    HttpErrorStatus, OrderState, PaymentState, ProblemCode, ProductKind,
};
use cryptorefills::{Client, Error, PartnerHeaders};
use futures::StreamExt;
use httpmock::{HttpMockRequest, Method, MockServer, Then, When};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

const PARTNER_ID: &str = "crp_live_5b7e21a9f04c";
const APP_VERSION: &str = "2.4.1";
const COUNTRY: &str = "DE";

/// Production order id (a UUID) of the example orders.
const ORDER_ID: &str = "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f";
/// The seed's order id, as the legacy `{id, status}` example spells it.
const SEED_ORDER_ID: &str = "ord_abc123xyz";
/// The Solana address the example order is paid to.
const SOLANA_WALLET: &str = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM";
/// The buyer's own wallet, to refund to.
const REFUND_WALLET: &str = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU";
const BUYER: &str = "buyer@example.com";
const END_USER_IP: &str = "203.0.113.7";
const END_USER_AGENT: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";

/// One file of `specs/cryptorefills/examples`, byte for byte.
macro_rules! example {
    ($file:literal) => {
        include_str!(concat!("../../../specs/cryptorefills/examples/", $file))
    };
}

/// Which example answers which operation, with which status.
const MANIFEST: &str = example!("manifest.json");

/// Seed request body of `validate_order` (flat, `email`, no network).
const SEED_VALIDATE_ORDER_REQUEST: &str = example!("validate_order.request.json");
/// Seed request body of `create_order` (nested `kind`/`quantity`/`deliverable`).
const SEED_CREATE_ORDER_REQUEST: &str = example!("create_order.request.json");
/// What production integrations send to `create_order`: flat, one entry per unit.
const FLAT_CREATE_ORDER_REQUEST: &str = example!("create_order.flat.request.json");
/// Range products: `denomination: "range"` plus `product_value` (string and number).
const RANGE_CREATE_ORDER_REQUEST: &str = example!("create_order.range.request.json");
/// The flat `validate_order` body, with a promo code.
const FLAT_VALIDATE_ORDER_REQUEST: &str = example!("validate_order.flat.request.json");

/// `create_order`'s answer: two Target cards waiting for 20.24 USDC on Solana.
const ORDER_WAITING_FOR_PAYMENT: &str = example!("create_order.waiting_for_payment.json");
/// `create_order`'s answer for BTC on Lightning: a BOLT11 invoice, a range product.
const ORDER_LIGHTNING: &str = example!("create_order.lightning.json");
/// The Target order once delivered: codes in `deliveries[].deliverable`.
const ORDER_DONE: &str = example!("get_order.done.json");
/// Epoch times as JSON integers, `coin_amount` as a number.
const ORDER_CREATED_AT_NUMBER: &str = example!("get_order.created_at_number.json");
/// Epoch times as fractional JSON numbers.
const ORDER_CREATED_AT_FRACTIONAL: &str = example!("get_order.created_at_fractional.json");
/// The seed's `{id, status}` shape.
const ORDER_LEGACY: &str = example!("get_order.legacy_id_status.json");
/// A refunded mobile top-up (partial payment after expiry).
const ORDER_TOP_UP_REFUNDED: &str = example!("get_order.top_up_refunded.json");

const VALIDATION_PROBLEMS_NULL: &str = example!("validate_order.problems_null.json");
const VALIDATION_PROBLEMS_EMPTY: &str = example!("validate_order.problems_empty.json");
const VALIDATION_PROBLEMS_LIST: &str = example!("validate_order.problems_list.json");

const PRODUCTS: &str = example!("list_products.response.json");
const PRICE: &str = example!("get_price.response.json");
const BRANDS: &str = example!("list_brands.response.json");
const PAYMENT_VIAS: &str = example!("list_payment_vias.response.json");

/// `{status, detail, moreDetails}`: SUSPENDED_NETWORK.
const ERROR_SUSPENDED: &str = example!("create_order.error.suspended.json");
/// `{status, detail, reason}`.
const ERROR_REASON: &str = example!("create_order.error.reason.json");
/// 422 `{"detail": "LOGIN_REQUIRED"}`.
const ERROR_LOGIN_REQUIRED: &str = example!("create_order.error.login_required.json");
/// `{message}`.
const ERROR_MESSAGE: &str = example!("get_order.error.message.json");
/// A 400 carrying `problems`.
const ERROR_PROBLEMS: &str = example!("validate_order.error.problems.json");

/// Unnamed order events, then `stop`.
const STREAM: &str = example!("subscribe_order.stream.txt");
/// A comment, unnamed, `message`-named and `id`-carrying order events, then `stop`.
const STREAM_NAMED: &str = example!("subscribe_order.stream_named.txt");

fn partner() -> PartnerHeaders {
    PartnerHeaders::new(PARTNER_ID, APP_VERSION).with_country(COUNTRY)
}

fn client(server: &MockServer) -> Client {
    Client::with_partner(&server.base_url(), &partner()).expect("client builds")
}

/// How many times the request carries header `name` (case-insensitive).
fn header_count(req: &HttpMockRequest, name: &str) -> usize {
    req.headers_vec()
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .count()
}

/// What every Cryptorefills request must carry: the three partner headers, once each,
/// with the client's values; the crate's user agent; and not progenitor's
/// `api-version` header (dropped at generation).
fn partnered(when: When) -> When {
    partner_headers(when).header_prefix("user-agent", "cryptorefills-rs/")
}

/// [`partnered`] without the user agent: a request made for an end user carries theirs.
fn partner_headers(when: When) -> When {
    when.header("x-cr-application", PARTNER_ID)
        .header("x-cr-version", APP_VERSION)
        .header("x-country-iso-code", COUNTRY)
        .is_true(|req| {
            ["x-cr-application", "x-cr-version", "x-country-iso-code"]
                .iter()
                .all(|name| header_count(req, name) == 1)
        })
        .header_missing("api-version")
}

/// A JSON operation: partner headers plus `Accept: application/json`.
fn json_call(when: When) -> When {
    partnered(when).header("accept", "application/json")
}

/// No query string at all.
fn no_query(when: When) -> When {
    when.is_true(|req| req.query_params().is_empty())
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

/// A 200 `text/event-stream` answer with `body` sent byte for byte.
fn event_stream(then: Then, body: &str) -> Then {
    then.status(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("valid decimal literal")
}

fn country(code: &str) -> types::CountryCode {
    types::CountryCode::try_from(code).expect("valid country code")
}

/// The request body as JSON, for `is_true` matchers.
fn body_json(req: &HttpMockRequest) -> Value {
    serde_json::from_slice(req.body_ref()).unwrap_or(Value::Null)
}

fn json_value(text: &str) -> Value {
    serde_json::from_str(text).expect("example is JSON")
}

/// `example` as the client sends it back: `Money` fields (`product_value`) go out as
/// JSON strings (`rust_decimal` serializes to a string), whatever the example wrote.
fn money_as_strings(example: Value) -> Value {
    match example {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| match value {
                    Value::Number(n) if key == "product_value" => {
                        (key, Value::String(n.to_string()))
                    }
                    other => (key, money_as_strings(other)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(money_as_strings).collect()),
        other => other,
    }
}

fn seed_validate_request() -> types::ValidateOrderRequest {
    serde_json::from_str(SEED_VALIDATE_ORDER_REQUEST).expect("seed validate request decodes")
}

fn seed_create_request() -> types::CreateOrderRequest {
    serde_json::from_str(SEED_CREATE_ORDER_REQUEST).expect("seed create request decodes")
}

fn flat_create_request() -> types::CreateOrderRequest {
    serde_json::from_str(FLAT_CREATE_ORDER_REQUEST).expect("flat create request decodes")
}

fn decoded_order(text: &str) -> types::Order {
    serde_json::from_str(text).expect("example order decodes")
}

/// One flat unit of a fixed product in the US.
fn delivery(brand: &str, denomination: &str, beneficiary: &str) -> types::DeliveryRequest {
    types::DeliveryRequest {
        beneficiary_account: beneficiary.to_owned().into(),
        brand_name: brand.to_owned(),
        country_code: country("US"),
        denomination: denomination.to_owned(),
        localized_denomination: None,
        product_value: None,
    }
}

/// One flat unit of a range product in the US: `denomination: "range"` + `product_value`.
fn range_delivery(brand: &str, value: &str, beneficiary: &str) -> types::DeliveryRequest {
    types::DeliveryRequest {
        product_value: Some(dec(value)),
        ..delivery(brand, "range", beneficiary)
    }
}

fn pay_with(coin: &str, network: &str) -> types::PaymentRequest {
    types::PaymentRequest {
        coin: coin.to_owned(),
        network: Some(network.to_owned()),
        payment_via: "USER_WALLET".to_owned(),
        type_: types::PaymentType::Via,
    }
}

fn buyer(newsletter: Option<bool>) -> types::OrderUser {
    types::OrderUser {
        email: BUYER.to_owned(),
        has_accepted_newsletter: newsletter,
    }
}

/// Method and path each operation is served on (`ORDER_ID`, country `US`).
fn route(operation: &str) -> (Method, String) {
    match operation {
        "list_payment_vias" => (Method::GET, "/v3/payment_vias".to_owned()),
        "list_brands" => (Method::GET, "/v2/brands".to_owned()),
        "get_homepage" => (Method::GET, "/v2/homepage".to_owned()),
        "list_products" => (Method::GET, "/v5/products/country/US".to_owned()),
        "get_price" => (Method::GET, "/v4/products/price".to_owned()),
        "validate_order" => (Method::POST, "/v5/orders/validations".to_owned()),
        "create_order" => (Method::POST, "/v5/orders".to_owned()),
        "get_order" => (Method::GET, format!("/v5/orders/{ORDER_ID}")),
        "subscribe_order" => (Method::GET, format!("/v5/orders/{ORDER_ID}/subscribe")),
        other => panic!("no route for {other}: add it to `route`"),
    }
}

/// All bytes of a `subscribe_order` stream.
async fn collect(stream: cryptorefills::ByteStream) -> String {
    let mut stream = stream.into_inner();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("stream chunk"));
    }
    String::from_utf8(out).expect("UTF-8 stream")
}

/// The `data` of each order event, found the simple way (one `data` line per event in
/// these fixtures): unnamed events and events named `message`; not `stop`, not
/// comments. Enough to check the payloads survive, not an SSE parser.
fn order_payloads(text: &str) -> Vec<&str> {
    text.split("\n\n")
        .filter(|block| {
            block
                .lines()
                .filter_map(|l| l.strip_prefix("event:"))
                .all(|name| name.trim() == "message")
        })
        .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. Each operation once, with a realistic payload
// ---------------------------------------------------------------------------------------

mod happy_path {
    use super::*;

    /// What became of one example answer.
    enum Outcome {
        /// Decoded as the operation's value (which `check` looked at), with this status.
        Success(u16),
        /// Decoded as the declared error body, with this status.
        Declared(u16, types::HttpError),
        /// Anything else.
        Other(String),
    }

    fn success<T>(
        result: Result<cryptorefills::ResponseValue<T>, Error<types::HttpError>>,
        check: impl FnOnce(T),
    ) -> Outcome {
        match result {
            Ok(response) => {
                let status = response.status().as_u16();
                check(response.into_inner());
                Outcome::Success(status)
            }
            Err(Error::ErrorResponse(response)) => {
                Outcome::Declared(response.status().as_u16(), response.into_inner())
            }
            Err(other) => Outcome::Other(format!("{other:?}")),
        }
    }

    /// Every example answer in `specs/cryptorefills/examples/manifest.json` goes through
    /// its operation over real HTTP, served with its status on the operation's path:
    /// 2xx answers decode as values, 4xx bodies as the declared `HttpError`. Every
    /// stream example comes back byte for byte through `ByteStream`, and its order
    /// events decode as `get_order` answers.
    #[tokio::test]
    async fn every_example_answer_decodes_through_its_operation() {
        let manifest: Vec<Value> = serde_json::from_str(MANIFEST).unwrap();
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../specs/cryptorefills/examples");
        let (mut responses, mut streams) = (0, 0);
        for entry in &manifest {
            let part = entry["part"].as_str().unwrap();
            if part == "request" {
                continue;
            }
            let file = entry["file"].as_str().unwrap();
            let operation = entry["operation"].as_str().unwrap();
            let status: u16 = entry["status"].as_str().unwrap().parse().unwrap();
            let body = std::fs::read_to_string(examples.join(file)).unwrap();
            let (method, path) = route(operation);
            let server = MockServer::start_async().await;
            let mock = server
                .mock_async(|when, then| {
                    let (accept, content_type) = match part {
                        "stream" => ("text/event-stream", "text/event-stream"),
                        _ => ("application/json", "application/json"),
                    };
                    partnered(when)
                        .method(method)
                        .path(path)
                        .header("accept", accept);
                    then.status(status)
                        .header("content-type", content_type)
                        .body(&body);
                })
                .await;
            let client = client(&server);

            if part == "stream" {
                assert_eq!(operation, "subscribe_order", "{file}");
                let response = client
                    .subscribe_order()
                    .order_id(ORDER_ID)
                    .send()
                    .await
                    .unwrap_or_else(|err| panic!("{file}: {err:?}"));
                assert_eq!(response.status().as_u16(), status, "{file}");
                let text = collect(response.into_inner()).await;
                assert_eq!(text, body, "{file}: the stream bytes changed");
                assert!(text.ends_with("event: stop\ndata: {}\n\n"), "{file}");
                let payloads = order_payloads(&text);
                assert!(!payloads.is_empty(), "{file}: no order event");
                assert_eq!(entry["events"], "get_order", "{file}");
                for data in payloads {
                    let order: types::Order = serde_json::from_str(data)
                        .unwrap_or_else(|err| panic!("{file}: event is not an Order: {err}"));
                    assert_eq!(order.order_id.as_deref(), Some(ORDER_ID), "{file}");
                    assert!(order.order_state.is_some(), "{file}");
                }
                mock.assert_async().await;
                streams += 1;
                continue;
            }

            assert_eq!(part, "response", "{file}");
            let an_order = |order: types::Order| {
                assert!(
                    order.order_id.is_some() || order.id.is_some(),
                    "{file}: an order without id"
                );
                assert!(
                    order.order_state.is_some() || order.status.is_some(),
                    "{file}: an order without state"
                );
            };
            let outcome = match operation {
                "list_payment_vias" => success(client.list_payment_vias().send().await, |v| {
                    assert!(v.iter().all(|via| via.name.is_some()), "{file}")
                }),
                "list_brands" => success(
                    client.list_brands().country_code("US").send().await,
                    |catalog| assert!(!catalog.all_brands.is_empty(), "{file}"),
                ),
                "get_homepage" => success(
                    client.get_homepage().country_code("US").send().await,
                    |_| (),
                ),
                "list_products" => success(
                    client
                        .list_products()
                        .country_code("US")
                        .family_name("Target")
                        .send()
                        .await,
                    |families| assert!(families.iter().all(|f| !f.products.is_empty()), "{file}"),
                ),
                "get_price" => success(
                    client
                        .get_price()
                        .brand_name("Amazon.com")
                        .country_code("US")
                        .face_value("50")
                        .coin("USDC")
                        .send()
                        .await,
                    |_| (),
                ),
                "validate_order" => {
                    let body: types::ValidateOrderRequest =
                        serde_json::from_str(FLAT_VALIDATE_ORDER_REQUEST).unwrap();
                    success(client.validate_order().body(body).send().await, |result| {
                        if entry["enums"] == "open" {
                            let problems = result.problems.expect("problems");
                            assert!(problems.iter().any(|p| p.problem.is_unknown()), "{file}");
                        }
                    })
                }
                "create_order" => success(
                    client
                        .create_order()
                        .body(flat_create_request())
                        .send()
                        .await,
                    an_order,
                ),
                "get_order" => {
                    success(client.get_order().order_id(ORDER_ID).send().await, an_order)
                }
                other => panic!("{file}: add {other} to this test"),
            };
            match outcome {
                Outcome::Success(got) => {
                    assert_eq!(got, status, "{file}");
                    assert!(got < 300, "{file}: HTTP {status} decoded as success");
                }
                Outcome::Declared(got, error) => {
                    assert_eq!(got, status, "{file}");
                    assert!(status >= 400, "{file}: HTTP {status} decoded as an error");
                    assert_ne!(
                        error,
                        types::HttpError::default(),
                        "{file}: nothing of the error body was kept"
                    );
                }
                Outcome::Other(err) => panic!("{file}: HTTP {status} did not decode: {err}"),
            }
            mock.assert_async().await;
            responses += 1;
        }
        let count = |part: &str| manifest.iter().filter(|e| e["part"] == part).count();
        assert_eq!((responses, streams), (count("response"), count("stream")));
        assert!(
            responses >= 19 && streams >= 2,
            "{responses} answers, {streams} streams"
        );
    }

    /// Every example request body decodes into its operation's request type and goes out
    /// on the wire as written, except that `product_value` always leaves as a string.
    #[tokio::test]
    async fn every_example_request_goes_out_as_written() {
        let manifest: Vec<Value> = serde_json::from_str(MANIFEST).unwrap();
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../specs/cryptorefills/examples");
        let mut sent = 0;
        for entry in manifest.iter().filter(|e| e["part"] == "request") {
            let file = entry["file"].as_str().unwrap();
            let operation = entry["operation"].as_str().unwrap();
            let text = std::fs::read_to_string(examples.join(file)).unwrap();
            let expected = money_as_strings(json_value(&text));
            let (method, path) = route(operation);
            let server = MockServer::start_async().await;
            let mock = server
                .mock_async(|when, then| {
                    json_call(when)
                        .method(method)
                        .path(path)
                        .header("content-type", "application/json")
                        .json_body(expected);
                    match operation {
                        "create_order" => json_ok(then, ORDER_WAITING_FOR_PAYMENT),
                        _ => json_ok(then, VALIDATION_PROBLEMS_NULL),
                    };
                })
                .await;
            let client = client(&server);
            let result = match operation {
                "create_order" => {
                    let body: types::CreateOrderRequest =
                        serde_json::from_str(&text).unwrap_or_else(|err| panic!("{file}: {err}"));
                    client.create_order().body(body).send().await.map(|_| ())
                }
                "validate_order" => {
                    let body: types::ValidateOrderRequest =
                        serde_json::from_str(&text).unwrap_or_else(|err| panic!("{file}: {err}"));
                    client.validate_order().body(body).send().await.map(|_| ())
                }
                other => panic!("{file}: add {other} to this test"),
            };
            result.unwrap_or_else(|err| {
                panic!("{file}: the body did not go out as written: {err:?}")
            });
            mock.assert_async().await;
            sent += 1;
        }
        assert!(sent >= 6, "{sent} request examples");
    }

    #[tokio::test]
    async fn list_payment_vias_decodes_the_nested_vias_currencies_and_networks() {
        let server = MockServer::start_async().await;
        let mock = server.list_payment_vias(|when, then| {
            no_query(json_call(when.into_inner())).path("/v3/payment_vias");
            json_ok(then.into_inner(), PAYMENT_VIAS);
        });

        let response = client(&server)
            .list_payment_vias()
            .send()
            .await
            .expect("list_payment_vias succeeds");

        assert_eq!(response.status(), 200);
        let vias = response.into_inner();
        assert_eq!(vias.len(), 2);
        let wallet = &vias[0];
        assert_eq!(wallet.name.as_deref(), Some("USER_WALLET"));
        assert_eq!(wallet.available, Some(true));
        let coins: Vec<_> = wallet
            .currencies
            .iter()
            .map(|c| c.name.as_deref().unwrap())
            .collect();
        assert_eq!(coins, ["USDC", "USDT", "BTC"]);

        let usdc = &wallet.currencies[0];
        assert_eq!(usdc.is_suspended, Some(false));
        assert_eq!(usdc.threshold, Some(dec("10")));
        let solana = &usdc.networks[0];
        assert_eq!(solana.name.as_deref(), Some("Solana"));
        assert_eq!(solana.base_token.as_deref(), Some("SOL"));
        assert_eq!(solana.threshold.unwrap().to_string(), "0.56");
        assert_eq!(solana.chain_id, None);
        assert_eq!(solana.smart_contract_engine.as_deref(), Some("SVM"));
        let contract = solana.smart_contract.as_ref().expect("USDC mint on Solana");
        assert_eq!(
            contract.address.as_deref(),
            Some("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
        );
        assert_eq!(
            (contract.decimals, contract.symbol.as_deref()),
            (Some(6), Some("USDC"))
        );
        let base = &usdc.networks[1];
        assert_eq!(base.chain_id, Some(8453));
        assert_eq!(base.estimated_transfer_cost.as_deref(), Some("€0"));
        assert_eq!(base.smart_contract, None);

        let usdt = &wallet.currencies[1];
        assert_eq!(usdt.networks[0].name.as_deref(), Some("Polygon (Matic)"));
        assert_eq!(usdt.networks[0].chain_id, Some(137));
        let tron = &usdt.networks[1];
        assert_eq!(
            (tron.name.as_deref(), tron.is_suspended),
            (Some("Tron"), Some(true))
        );
        assert_eq!(tron.threshold, Some(dec("5")));

        // BTC: no coin threshold; a network threshold sent as a JSON number.
        let btc = &wallet.currencies[2];
        assert_eq!(btc.threshold, None);
        assert_eq!(btc.networks[0].threshold, None);
        assert_eq!(btc.networks[1].name.as_deref(), Some("Mainnet"));
        assert_eq!(btc.networks[1].threshold, Some(dec("0.0001")));

        let kucoin = &vias[1];
        assert_eq!(kucoin.name.as_deref(), Some("KUCOIN_PAY"));
        assert_eq!(kucoin.available, Some(false));
        assert!(kucoin.currencies[0].networks.is_empty());

        // What a caller can pay with now: available vias, coins and networks not suspended.
        let payable: Vec<String> = vias
            .iter()
            .filter(|via| via.available != Some(false))
            .flat_map(|via| {
                via.currencies
                    .iter()
                    .filter(|c| c.is_suspended != Some(true))
                    .flat_map(move |c| {
                        c.networks
                            .iter()
                            .filter(|n| n.is_suspended != Some(true))
                            .map(move |n| {
                                format!(
                                    "{}/{}/{}",
                                    via.name.as_deref().unwrap(),
                                    c.name.as_deref().unwrap(),
                                    n.name.as_deref().unwrap()
                                )
                            })
                    })
            })
            .collect();
        assert_eq!(
            payable,
            [
                "USER_WALLET/USDC/Solana",
                "USER_WALLET/USDC/Base",
                "USER_WALLET/USDT/Polygon (Matic)",
                "USER_WALLET/BTC/Lightning",
                "USER_WALLET/BTC/Mainnet",
            ]
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn list_brands_sends_the_country_code_and_decodes_the_catalog() {
        let server = MockServer::start_async().await;
        let mock = server.list_brands(|when, then| {
            json_call(
                when.country_code(&country("US"))
                    .promo_code(None)
                    .into_inner(),
            )
            .path("/v2/brands")
            .is_true(|req| req.query_params() == [("country_code".to_owned(), "US".to_owned())]);
            json_ok(then.into_inner(), BRANDS);
        });

        let catalog = client(&server)
            .list_brands()
            .country_code("US")
            .send()
            .await
            .expect("list_brands succeeds")
            .into_inner();

        assert_eq!(catalog.country_code.as_deref(), Some("US"));
        assert!(catalog.suggestions.is_empty());
        assert!(catalog.last_user_purchases.is_empty());
        let names: Vec<_> = catalog
            .all_brands
            .iter()
            .map(|b| b.brand.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["Amazon.com", "eSIM", "Sold Out Co"]);

        let amazon = &catalog.all_brands[0];
        assert_eq!(amazon.family.as_deref(), Some("Amazon.com"));
        assert_eq!(amazon.brand_id.as_deref(), Some("d18e3e04"));
        assert_eq!(amazon.kind, Some(ProductKind::Giftcard));
        assert_eq!(amazon.category.as_deref(), Some("e-commerce"));
        assert_eq!(
            amazon.additional_categories,
            ["electronics", "entertainment"]
        );
        // `min`/`max` are display labels, not numbers.
        assert_eq!(
            (amazon.min.as_deref(), amazon.max.as_deref()),
            (Some("$5"), Some("$500"))
        );
        assert_eq!(amazon.is_out_of_stock, Some(false));
        assert_eq!(amazon.product_type.as_deref(), Some("physical"));
        assert_eq!(amazon.bg_color.as_deref(), Some("#FFFFFF"));
        assert_eq!(
            amazon.logo_base_url.as_deref(),
            Some("https://cdn.cryptorefills.com/logos_v2/amazon-com")
        );
        assert!(amazon.brand_tags.is_empty());

        // eSIM brands come as mobile_recharge, category e-sim.
        let esim = &catalog.all_brands[1];
        assert_eq!(esim.kind, Some(ProductKind::MobileRecharge));
        assert_eq!(esim.category.as_deref(), Some("e-sim"));
        assert_eq!(esim.min.as_deref(), Some("1 GB 3 days"));

        let sold_out = &catalog.all_brands[2];
        assert_eq!(
            (sold_out.min.as_deref(), sold_out.max.as_deref()),
            (None, None)
        );
        assert_eq!(sold_out.is_out_of_stock, Some(true));
        assert!(sold_out.additional_categories.is_empty());

        assert_eq!(catalog.popular_brands.len(), 1);
        assert_eq!(
            catalog.popular_brands[0].brand_id.as_deref(),
            Some("d18e3e04")
        );

        let categories: Vec<_> = catalog
            .categories
            .iter()
            .map(|c| (c.kind.clone(), c.category.as_deref(), c.brands.len()))
            .collect();
        assert_eq!(
            categories,
            [
                (Some(ProductKind::MobileRecharge), Some("e-sim"), 1),
                (Some(ProductKind::Giftcard), Some("e-commerce"), 1),
                // `category: null`.
                (Some(ProductKind::Giftcard), None, 0),
            ]
        );
        assert_eq!(
            catalog.categories[0].brands[0].brand.as_deref(),
            Some("eSIM")
        );
        assert!(catalog.categories[1].popular_brands.is_empty());
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn get_homepage_sends_the_country_code_and_decodes_the_sections() {
        let server = MockServer::start_async().await;
        let mock = server.get_homepage(|when, then| {
            json_call(when.country_code(&country("US")).into_inner())
                .path("/v2/homepage")
                .is_true(|req| req.query_params().len() == 1);
            json_ok(
                then.into_inner(),
                r#"{
                  "sections": [
                    {
                      "title": "Trending",
                      "brands": [
                        {"family": "Amazon.com", "brand": "Amazon.com", "kind": "giftcard"},
                        {"family": "Steam", "brand": "Steam", "kind": "giftcard"}
                      ]
                    },
                    {
                      "title": "Stay connected",
                      "brands": [{"family": "eSIM", "brand": "eSIM", "kind": "mobile_recharge", "category": "e-sim"}]
                    },
                    {"title": "Coming soon"}
                  ]
                }"#,
            );
        });

        let homepage = client(&server)
            .get_homepage()
            .country_code("US")
            .send()
            .await
            .expect("get_homepage succeeds")
            .into_inner();

        let titles: Vec<_> = homepage
            .sections
            .iter()
            .map(|s| s.title.as_deref().unwrap())
            .collect();
        assert_eq!(titles, ["Trending", "Stay connected", "Coming soon"]);
        let trending: Vec<_> = homepage.sections[0]
            .brands
            .iter()
            .map(|b| b.brand.as_deref().unwrap())
            .collect();
        assert_eq!(trending, ["Amazon.com", "Steam"]);
        let esim = &homepage.sections[1].brands[0];
        assert_eq!(esim.kind, Some(ProductKind::MobileRecharge));
        assert_eq!(esim.category.as_deref(), Some("e-sim"));
        // `brands` absent: an empty list.
        assert!(homepage.sections[2].brands.is_empty());
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn list_products_sends_the_path_country_and_all_filters() {
        let server = MockServer::start_async().await;
        let mock = server.list_products(|when, then| {
            let when = when
                .country_code(&country("US"))
                .family_name("Target")
                .brand_name("Target")
                .coin("USDC")
                .payment_method("USDC-SOL")
                .lang("en")
                .promo_code("SAVE10");
            json_call(when.into_inner())
                .path("/v5/products/country/US")
                .is_true(|req| req.query_params().len() == 6);
            json_ok(then.into_inner(), PRODUCTS);
        });

        let families = client(&server)
            .list_products()
            .country_code("US")
            .family_name("Target")
            .brand_name("Target")
            .coin("USDC")
            .payment_method("USDC-SOL")
            .lang("en")
            .promo_code("SAVE10")
            .send()
            .await
            .expect("list_products succeeds")
            .into_inner();

        let brands: Vec<_> = families
            .iter()
            .map(|f| f.brand.as_deref().unwrap())
            .collect();
        assert_eq!(brands, ["Target", "Amazon.com", "eSIM"]);

        let target = &families[0];
        assert_eq!(target.family.as_deref(), Some("Target"));
        assert_eq!(target.brand_id.as_deref(), Some("9f8e7d6c"));
        assert_eq!(target.kind, Some(ProductKind::Giftcard));
        assert_eq!(target.category.as_deref(), Some("retail"));
        assert_eq!(target.additional_categories, ["food"]);
        assert_eq!(target.country_code.as_deref(), Some("US"));
        assert_eq!(target.default_denomination.as_deref(), Some(""));
        assert_eq!(target.is_out_of_stock, Some(false));
        assert_eq!(
            target.product_tc.as_deref(),
            Some("Redeemable at Target stores and target.com.")
        );
        let rich = target.rich_description.as_ref().expect("rich description");
        assert_eq!(rich.markup.as_deref(), Some("html"));
        assert_eq!(
            rich.how_to_redeem.as_deref(),
            Some("<ol><li>Enter the code at checkout.</li></ol>")
        );
        assert_eq!(
            rich.term_and_conditions.as_deref(),
            Some("<p>No expiry.</p>")
        );
        assert_eq!(rich.locale.as_deref(), Some("en"));

        // A fixed product: ordered with its own `denomination`, priced in `coin_amount`.
        let fixed = &target.products[0];
        assert_eq!(fixed.is_dynamic, Some(false));
        assert_eq!(
            fixed.product_id.as_deref(),
            Some("1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b")
        );
        assert_eq!(fixed.denomination.as_deref(), Some("10 USD"));
        assert_eq!(fixed.localized_denomination.as_deref(), Some("$10"));
        assert_eq!(fixed.coin.as_deref(), Some("USDC"));
        assert_eq!(fixed.coin_amount.unwrap().to_string(), "10.1200");
        assert_eq!(fixed.payment_method.as_deref(), Some("USDC-SOL"));
        assert_eq!(fixed.delivery_type, Some(DeliveryType::ByEmail));
        assert_eq!(fixed.points, Some(dec("9")));
        assert_eq!(fixed.range, None);
        let face = fixed.face_value.as_ref().unwrap();
        assert_eq!(face.currency_code.as_deref(), Some("USD"));
        let amount = face.amount.as_ref().unwrap();
        assert_eq!(amount.type_, Some(FaceValueAmountType::Fixed));
        assert_eq!(amount.price, Some(dec("10")));
        assert_eq!((amount.min.as_ref(), amount.max.as_ref()), (None, None));

        // A range product: no denomination or coin amount; bounds as strings.
        let range = &target.products[1];
        assert_eq!(range.is_dynamic, Some(true));
        assert_eq!(
            (range.denomination.as_deref(), range.coin_amount),
            (None, None)
        );
        let bounds = range.range.as_ref().expect("range bounds");
        assert_eq!(bounds.min, Some(dec("5")));
        assert_eq!(bounds.max, Some(dec("200")));
        assert_eq!(bounds.step_size, Some(Decimal::ONE));
        assert_eq!(bounds.default, Some(dec("200")));
        assert_eq!(bounds.currency.as_deref(), Some("USD"));
        let amount = range.face_value.as_ref().unwrap().amount.as_ref().unwrap();
        assert_eq!(amount.type_, Some(FaceValueAmountType::Range));
        let Some(FaceValueBound::Variant0(min)) = &amount.min else {
            panic!("min as a decimal: {:?}", amount.min);
        };
        assert_eq!(min.to_string(), "5.00");
        assert_eq!(amount.max, Some(FaceValueBound::Variant0(dec("200.00"))));

        // Range bounds as `{amount, currency}`.
        let amazon = &families[1];
        assert_eq!(amazon.rich_description, None);
        let amount = amazon.products[0]
            .face_value
            .as_ref()
            .unwrap()
            .amount
            .as_ref()
            .unwrap();
        assert_eq!(
            amount.min,
            Some(FaceValueBound::Variant1(types::MoneyAmount {
                amount: dec("5"),
                currency: Some("USD".to_owned()),
            }))
        );
        let Some(FaceValueBound::Variant1(max)) = &amount.max else {
            panic!("max as an amount with currency: {:?}", amount.max);
        };
        assert_eq!(
            (max.amount, max.currency.as_deref()),
            (dec("500"), Some("USD"))
        );

        // eSIM plans: mobile_recharge, a fixed price as a number, free-form benefits.
        let esim = &families[2];
        assert_eq!(esim.kind, Some(ProductKind::MobileRecharge));
        assert_eq!(esim.category.as_deref(), Some("e-sim"));
        let plan = &esim.products[0];
        assert_eq!(plan.denomination.as_deref(), Some("1 GB 7 days"));
        assert_eq!(plan.coin_amount, Some(dec("4.5300")));
        let amount = plan.face_value.as_ref().unwrap().amount.as_ref().unwrap();
        assert_eq!(amount.price, Some(dec("4.5")));
        assert_eq!(plan.benefits.len(), 1);
        assert_eq!(plan.benefits[0]["type"], "DATA");
        assert_eq!(plan.benefits[0]["amount"]["base"]["amount"], 1);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn list_products_sends_only_the_family_and_decodes_a_top_up_range() {
        let server = MockServer::start_async().await;
        let mock = server.list_products(|when, then| {
            let when = when
                .country_code(&country("US"))
                .family_name("T-Mobile")
                .brand_name(None)
                .coin(None)
                .payment_method(None)
                .lang(None)
                .promo_code(None);
            json_call(when.into_inner())
                .path("/v5/products/country/US")
                .is_true(|req| req.query_params() == [("family_name".to_owned(), "T-Mobile".to_owned())]);
            json_ok(
                then.into_inner(),
                r#"[
                  {
                    "family": "T-Mobile",
                    "brand": "T-Mobile",
                    "country_code": "US",
                    "kind": "mobile_recharge",
                    "redeem_method": ["by_phone"],
                    "products": [
                      {
                        "product_id": "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f",
                        "is_dynamic": true,
                        "delivery_type": "by_phone",
                        "currency_code": "USD",
                        "amount": 10,
                        "range": {"min": 10, "max": "100.00", "step_size": 0.5, "currency": "USD"},
                        "face_value": {
                          "currency_code": "USD",
                          "amount": {"type": "range", "minimum": 10, "maximum": {"amount": "100.00"}, "step": 0.5}
                        }
                      }
                    ]
                  }
                ]"#,
            );
        });

        let families = client(&server)
            .list_products()
            .country_code("US")
            .family_name("T-Mobile")
            .send()
            .await
            .expect("list_products succeeds")
            .into_inner();

        let topup = &families[0];
        assert_eq!(topup.kind, Some(ProductKind::MobileRecharge));
        assert_eq!(topup.redeem_method, ["by_phone"]);
        let product = &topup.products[0];
        assert_eq!(product.delivery_type, Some(DeliveryType::ByPhone));
        assert_eq!(product.currency_code.as_deref(), Some("USD"));
        assert_eq!(product.amount, Some(dec("10")));
        let range = product.range.as_ref().unwrap();
        assert_eq!(range.min, Some(Decimal::from(10)));
        assert_eq!(range.max.unwrap().to_string(), "100.00");
        assert_eq!(range.step_size, Some(dec("0.5")));
        // The other spellings of the bounds.
        let amount = product
            .face_value
            .as_ref()
            .unwrap()
            .amount
            .as_ref()
            .unwrap();
        assert_eq!((amount.min.as_ref(), amount.max.as_ref()), (None, None));
        assert_eq!(amount.minimum, Some(FaceValueBound::Variant0(dec("10"))));
        assert_eq!(
            amount.maximum,
            Some(FaceValueBound::Variant1(types::MoneyAmount {
                amount: dec("100.00"),
                currency: None,
            }))
        );
        assert_eq!(amount.step, Some(dec("0.5")));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn get_price_sends_the_four_query_parameters_and_decodes_the_price() {
        let server = MockServer::start_async().await;
        let mock = server.get_price(|when, then| {
            let when = when
                .brand_name("Amazon.com")
                .country_code(&country("US"))
                .face_value("50")
                .coin("USDC")
                .promo_code(None);
            json_call(when.into_inner())
                .path("/v4/products/price")
                .is_true(|req| req.query_params().len() == 4);
            json_ok(then.into_inner(), PRICE);
        });

        let price = client(&server)
            .get_price()
            .brand_name("Amazon.com")
            .country_code("US")
            .face_value("50")
            .coin("USDC")
            .send()
            .await
            .expect("get_price succeeds")
            .into_inner();

        assert_eq!(price.coin_amount, dec("50.61"));
        assert_eq!(price.coin_amount.to_string(), "50.6100");
        assert_eq!(price.original_coin_amount, Some(dec("50.6100")));
        assert_eq!(price.coin.as_deref(), Some("USDC"));
        assert_eq!(
            price.product_id.as_deref(),
            Some("3a4b5c6d-7e8f-4a9b-8c0d-1e2f3a4b5c6d")
        );
        assert_eq!(price.is_dynamic, Some(true));
        assert_eq!(price.payment_method.as_deref(), Some("USDC-SOL"));
        assert_eq!(price.delivery_type, Some(DeliveryType::ByEmail));
        assert_eq!(price.points, Some(dec("45")));
        assert_eq!(price.product_type.as_deref(), Some("physical"));
        let range = price.range.as_ref().expect("range of the product");
        assert_eq!((range.min, range.max), (Some(dec("5")), Some(dec("500"))));
        // `"default": "500.0"` keeps its scale.
        assert_eq!(range.default.unwrap().to_string(), "500.0");
        assert_eq!(range.currency.as_deref(), Some("USD"));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn validate_order_posts_the_seed_body_and_null_problems_mean_valid() {
        let server = MockServer::start_async().await;
        let seed = json_value(SEED_VALIDATE_ORDER_REQUEST);
        let mock = server.validate_order(|when, then| {
            json_call(when.x_forwarded_for(None).into_inner())
                .path("/v5/orders/validations")
                .header("content-type", "application/json")
                .json_body(seed);
            json_ok(then.into_inner(), VALIDATION_PROBLEMS_NULL);
        });

        let request = seed_validate_request();
        assert_eq!(request.email.as_deref(), Some("END_USER_EMAIL"));
        assert_eq!(request.user, None);
        assert_eq!(request.payment.type_, types::PaymentType::Via);
        assert_eq!(request.payment.network, None);
        assert_eq!(request.deliveries[0].denomination, "100 USD");
        assert_eq!(
            request.deliveries[0].localized_denomination.as_deref(),
            Some("$100")
        );
        assert_eq!(request.deliveries[0].country_code.as_str(), "US");

        let result = client(&server)
            .validate_order()
            .body(request)
            .send()
            .await
            .expect("validate_order succeeds");

        assert_eq!(result.status(), 200);
        let result = result.into_inner();
        assert_eq!(result.problems, None, "`problems: null` means valid");
        assert_eq!(result.error, None);
        // The priced preview.
        assert_eq!(result.coin.as_deref(), Some("USDC"));
        assert_eq!(result.coin_amount.unwrap().to_string(), "10.1200");
        assert_eq!(result.coupon_code, None);
        assert_eq!(result.loyalty_summary, None);
        let preview = &result.deliveries[0];
        assert_eq!(preview.delivery_state, Some(DeliveryState::Created));
        let deliverable = preview.deliverable.as_ref().unwrap();
        assert_eq!(deliverable.denomination.as_deref(), Some("10 USD"));
        assert_eq!(deliverable.original_price, Some(dec("10.12")));
        assert_eq!(deliverable.points, Some(dec("9")));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn validate_order_posts_the_flat_production_body() {
        let server = MockServer::start_async().await;
        let expected = json_value(FLAT_VALIDATE_ORDER_REQUEST);
        let mock = server.validate_order(|when, then| {
            json_call(when.into_inner()).json_body(expected);
            json_ok(then.into_inner(), VALIDATION_PROBLEMS_NULL);
        });

        let request = types::ValidateOrderRequest {
            acquisition: None,
            coupon: None,
            deliveries: vec![delivery("Target", "10 USD", BUYER)],
            email: Some(BUYER.to_owned()),
            lang: Some("en".to_owned()),
            payment: pay_with("USDC", "Solana"),
            promo_code: Some("SAVE10".to_owned()),
            refund_wallet_address: None,
            user: Some(buyer(Some(false))),
        };
        assert_eq!(
            serde_json::from_str::<types::ValidateOrderRequest>(FLAT_VALIDATE_ORDER_REQUEST)
                .unwrap(),
            request
        );

        let result = client(&server)
            .validate_order()
            .body(request)
            .send()
            .await
            .expect("validate_order succeeds")
            .into_inner();
        assert_eq!(result.problems, None);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn create_order_posts_flat_deliveries_and_decodes_the_order_waiting_for_payment() {
        let server = MockServer::start_async().await;
        let expected = json_value(FLAT_CREATE_ORDER_REQUEST);
        let mock = server.create_order(|when, then| {
            json_call(when.into_inner())
                .path("/v5/orders")
                .header("content-type", "application/json")
                .json_body(expected);
            json_ok(then.into_inner(), ORDER_WAITING_FOR_PAYMENT);
        });

        // Two cards: two flat entries, one per unit.
        let unit =
            || types::CreateOrderDeliveryItem::DeliveryRequest(delivery("Target", "10 USD", BUYER));
        let request = types::CreateOrderRequest {
            acquisition: Some(types::Acquisition {
                utm_source: Some("your_platform".to_owned()),
            }),
            coupon: None,
            deliveries: vec![unit(), unit()],
            email: Some(BUYER.to_owned()),
            lang: Some("en".to_owned()),
            payment: pay_with("USDC", "Solana"),
            promo_code: None,
            refund_wallet_address: Some(REFUND_WALLET.to_owned()),
            user: buyer(Some(false)),
        };
        assert_eq!(flat_create_request(), request);

        let response = client(&server)
            .create_order()
            .body(request)
            .send()
            .await
            .expect("create_order succeeds");
        assert_eq!(response.status(), 200);
        let order = response.into_inner();

        assert_eq!(order.order_id.as_deref(), Some(ORDER_ID));
        assert_eq!(order.order_state, Some(OrderState::WaitingForPayment));
        assert_eq!(order.payment_state, Some(PaymentState::WalletCreated));
        // The seed's aliases are absent in production answers.
        assert_eq!((order.id.as_deref(), order.status.as_ref()), (None, None));
        // Epoch seconds sent as a string.
        assert_eq!(order.created_at, Some(Decimal::from(1_791_000_000)));
        assert_eq!(order.payment_requested_at, order.created_at);
        assert_eq!(order.updated_at, order.created_at);
        assert_eq!(order.wallet_address.as_deref(), Some(SOLANA_WALLET));
        assert_eq!(order.coin.as_deref(), Some("USDC"));
        assert_eq!(order.coin_amount.unwrap().to_string(), "20.2400");
        assert_eq!(order.original_price, Some(dec("20.24")));
        assert_eq!(order.sent_coin_amount, Some(Decimal::ZERO));
        assert_eq!(order.payment_value, Some(dec("20.24")));
        assert_eq!(order.network.as_deref(), Some("Solana"));
        assert_eq!(order.payment_via.as_deref(), Some("USER_WALLET"));
        assert_eq!(order.payment_method.as_deref(), Some("USDC-SOL"));
        assert_eq!(
            order.payment_method_protocol.as_deref(),
            Some("SOLANA_LIKE")
        );
        assert_eq!(
            order.payment_id.as_deref(),
            Some("6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d")
        );
        assert!(
            order
                .qr_text
                .as_deref()
                .unwrap()
                .starts_with(&format!("solana:{SOLANA_WALLET}?amount=20.24"))
        );
        assert!(order.qr_url.as_deref().unwrap().ends_with(ORDER_ID));
        assert_eq!(order.user.as_ref().unwrap().email.as_deref(), Some(BUYER));
        assert_eq!(order.is_payment_processor_external, Some(false));

        assert_eq!(order.deliveries.len(), 2, "one delivery per unit");
        for delivery in &order.deliveries {
            assert_eq!(
                delivery.delivery_state,
                Some(DeliveryState::WaitingForPayment)
            );
            assert_eq!(delivery.kind, Some(ProductKind::Giftcard));
            assert_eq!(delivery.quantity, None);
            let deliverable = delivery.deliverable.as_ref().unwrap();
            assert_eq!(deliverable.brand_name.as_deref(), Some("Target"));
            assert_eq!(deliverable.family.as_deref(), Some("Target"));
            assert_eq!(deliverable.denomination.as_deref(), Some("10 USD"));
            assert_eq!(deliverable.localized_denomination.as_deref(), Some("$10"));
            assert_eq!(
                deliverable
                    .beneficiary_account
                    .as_deref()
                    .map(String::as_str),
                Some(BUYER)
            );
            assert_eq!(deliverable.delivery_type, Some(DeliveryType::ByEmail));
            assert_eq!(deliverable.coin_amount.unwrap().to_string(), "10.1200");
            assert_eq!(deliverable.currency_code.as_deref(), Some("USD"));
            assert_eq!(deliverable.pin_code, None, "no code before payment");
        }
        assert_ne!(order.deliveries[0].id, order.deliveries[1].id);
        mock.assert_async().await;
    }

    /// A range product goes out as `denomination: "range"` + `product_value`; the
    /// answer may be a 201, and for Lightning `wallet_address` is a BOLT11 invoice.
    #[tokio::test]
    async fn create_order_sends_range_products_and_a_201_is_a_created_order() {
        let server = MockServer::start_async().await;
        let expected = money_as_strings(json_value(RANGE_CREATE_ORDER_REQUEST));
        let mock = server.create_order(|when, then| {
            json_call(when.x_forwarded_for(END_USER_IP).into_inner())
                .json_body(expected)
                .is_true(|req| body_json(req)["deliveries"][1]["product_value"] == "25");
            json_status(then.into_inner(), 201, ORDER_LIGHTNING);
        });

        let response = client(&server)
            .create_order()
            .x_forwarded_for(END_USER_IP)
            .body_map(|body| {
                body.email(Some(BUYER.to_owned()))
                    .user(buyer(Some(false)))
                    .lang(Some("en".to_owned()))
                    .payment(pay_with("BTC", "Lightning"))
                    .deliveries(vec![
                        types::CreateOrderDeliveryItem::from(range_delivery(
                            "Amazon.com",
                            "50",
                            BUYER,
                        )),
                        types::CreateOrderDeliveryItem::from(range_delivery(
                            "T-Mobile",
                            "25",
                            "+14155551234",
                        )),
                    ])
            })
            .send()
            .await
            .expect("a 201 is a created order");

        assert_eq!(response.status(), 201);
        let order = response.into_inner();
        assert_eq!(
            order.order_id.as_deref(),
            Some("5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a")
        );
        assert_eq!(order.order_state, Some(OrderState::WaitingForPayment));
        assert_eq!(order.network.as_deref(), Some("Lightning"));
        assert_eq!(
            order.payment_method_protocol.as_deref(),
            Some("LIGHTNING_LIKE")
        );
        let invoice = order.wallet_address.as_deref().unwrap();
        assert!(invoice.starts_with("lnbc"), "{invoice}");
        assert_eq!(order.qr_text, Some(format!("lightning:{invoice}")));
        assert_eq!(order.coin_amount.unwrap().to_string(), "0.00051234");
        assert_eq!(order.payment_value, Some(dec("50.61")));
        assert_eq!(order.created_at, Some(Decimal::from(1_791_003_600)));
        let deliverable = order.deliveries[0].deliverable.as_ref().unwrap();
        assert_eq!(deliverable.denomination.as_deref(), Some("range"));
        assert_eq!(deliverable.product_value, Some(dec("50")));
        assert_eq!(deliverable.points, Some(dec("45")));
        mock.assert_async().await;
    }

    /// The seed's nested form (`kind`, `quantity`, `deliverable`) still decodes and goes
    /// out unchanged; the generated mock answers it with `created` (201).
    #[tokio::test]
    async fn create_order_still_serializes_the_seed_nested_form() {
        let server = MockServer::start_async().await;
        let seed = json_value(SEED_CREATE_ORDER_REQUEST);
        let answer = decoded_order(ORDER_WAITING_FOR_PAYMENT);
        let mock = server.create_order(|when, then| {
            json_call(when.body(&seed_create_request()).into_inner())
                .path("/v5/orders")
                .json_body(seed);
            then.created(&answer);
        });

        let request = seed_create_request();
        let types::CreateOrderDeliveryItem::CreateOrderDelivery(line) = &request.deliveries[0]
        else {
            panic!(
                "the seed's line is the nested form: {:?}",
                request.deliveries[0]
            );
        };
        assert_eq!(line.kind, ProductKind::Giftcard);
        assert_eq!(line.quantity.get(), 1);
        assert_eq!(line.deliverable.brand_name, "Airbnb");
        assert_eq!(line.deliverable.denomination, "100");
        assert_eq!(
            line.deliverable.beneficiary_account.as_str(),
            "END_USER_EMAIL"
        );
        assert_eq!(request.payment.network.as_deref(), Some("Solana"));
        assert_eq!(request.user.has_accepted_newsletter, Some(true));
        assert_eq!(request.email, None);

        let response = client(&server)
            .create_order()
            .body(request)
            .send()
            .await
            .expect("create_order succeeds");
        assert_eq!(response.status(), 201);
        assert_eq!(response.into_inner(), answer);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn get_order_decodes_a_done_order_with_its_delivered_codes() {
        let server = MockServer::start_async().await;
        let mock = server.get_order(|when, then| {
            no_query(json_call(when.order_id(ORDER_ID).into_inner()))
                .path(format!("/v5/orders/{ORDER_ID}"));
            json_ok(then.into_inner(), ORDER_DONE);
        });

        let order = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("get_order succeeds")
            .into_inner();

        assert_eq!(order.order_id.as_deref(), Some(ORDER_ID));
        assert_eq!(order.order_state, Some(OrderState::Done));
        assert_eq!(order.payment_state, Some(PaymentState::PaymentCompleted));
        assert_eq!(order.sent_coin_amount, order.coin_amount);
        assert_eq!(order.updated_at, Some(Decimal::from(1_791_000_420)));
        assert_eq!(order.deliveries.len(), 2);
        assert!(
            order
                .deliveries
                .iter()
                .all(|d| d.delivery_state == Some(DeliveryState::Done))
        );

        let card = order.deliveries[0].deliverable.as_ref().unwrap();
        assert_eq!(card.pin_code.as_deref(), Some("TGT-8842-1177-5530"));
        assert_eq!(card.pin_serial.as_deref(), Some("041236"));
        assert_eq!(card.security_code.as_deref(), Some("7731"));
        assert_eq!(
            card.barcode_image_url.as_deref(),
            Some("https://cdn.cryptorefills.com/barcodes/0b1c2d3e.png")
        );
        assert_eq!(
            card.redeem_instructions.as_deref(),
            Some("<ol><li>Show the barcode at checkout or enter the code at target.com.</li></ol>")
        );

        // A code that is a URL to visit; `null` secrets decode as None.
        let link = order.deliveries[1].deliverable.as_ref().unwrap();
        assert_eq!(
            link.pin_code.as_deref(),
            Some("https://redeem.example.com/c/Zk29Qa")
        );
        assert_eq!(
            (
                link.pin_serial.as_deref(),
                link.security_code.as_deref(),
                link.barcode_image_url.as_deref()
            ),
            (None, None, None)
        );
        assert_eq!(
            link.redeem_instructions.as_deref(),
            Some("<p>Open the link to reveal your card.</p>")
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn get_order_decodes_a_refunded_top_up() {
        let server = MockServer::start_async().await;
        let order_id = "9c8d7e6f-5a4b-4c3d-8e2f-1a0b9c8d7e6f";
        let mock = server.get_order(|when, then| {
            json_call(when.order_id(order_id).into_inner());
            json_ok(then.into_inner(), ORDER_TOP_UP_REFUNDED);
        });

        let order = client(&server)
            .get_order()
            .order_id(order_id)
            .send()
            .await
            .expect("get_order succeeds")
            .into_inner();

        assert_eq!(order.order_state, Some(OrderState::Refunded));
        assert_eq!(
            order.payment_state,
            Some(PaymentState::ExpiredAfterPaymentDetection)
        );
        assert_eq!(order.received_amount.unwrap().to_string(), "12.0000");
        assert_eq!(order.refund_wallet_address.as_deref(), Some(REFUND_WALLET));
        let refund = order.refund.as_ref().expect("refund details");
        assert_eq!(refund.amount, Some(dec("12")));
        assert_eq!(refund.currency.as_deref(), Some("USDC"));
        assert_eq!(
            refund.reason.as_deref(),
            Some("partial payment after expiry")
        );
        let delivery = &order.deliveries[0];
        assert_eq!(delivery.kind, Some(ProductKind::MobileRecharge));
        assert_eq!(delivery.delivery_state, Some(DeliveryState::Created));
        let deliverable = delivery.deliverable.as_ref().unwrap();
        assert_eq!(deliverable.delivery_type, Some(DeliveryType::ByPhone));
        assert_eq!(
            deliverable
                .beneficiary_account
                .as_deref()
                .map(String::as_str),
            Some("+14155551234")
        );
        assert_eq!(deliverable.denomination.as_deref(), Some("range"));
        assert_eq!(deliverable.product_value, Some(dec("30")));
        assert_eq!(
            (
                deliverable.pin_code.as_deref(),
                deliverable.failure_reason.as_deref()
            ),
            (None, None)
        );
        mock.assert_async().await;
    }

    /// The seed's `{id, status}` spelling still decodes, into the alias fields.
    #[tokio::test]
    async fn get_order_decodes_the_seed_id_and_status_shape() {
        let server = MockServer::start_async().await;
        let mock = server.get_order(|when, then| {
            json_call(when.order_id(SEED_ORDER_ID).into_inner());
            json_ok(then.into_inner(), ORDER_LEGACY);
        });

        let order = client(&server)
            .get_order()
            .order_id(SEED_ORDER_ID)
            .send()
            .await
            .expect("get_order succeeds")
            .into_inner();

        assert_eq!(order.id.as_deref(), Some(SEED_ORDER_ID));
        assert_eq!(order.status, Some(OrderState::Expired));
        assert_eq!(
            (order.order_id.as_deref(), order.order_state.as_ref()),
            (None, None)
        );
        // Read `order_id` first, then `id`.
        let id = order.order_id.as_deref().or(order.id.as_deref());
        assert_eq!(id, Some(SEED_ORDER_ID));
        assert!(order.deliveries.is_empty());
        mock.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// 2. validate_order outcomes
// ---------------------------------------------------------------------------------------

mod validation {
    use super::*;

    #[tokio::test]
    async fn several_problems_come_back_at_once_and_an_unknown_code_is_kept() {
        let server = MockServer::start_async().await;
        let mock = server.validate_order(|when, then| {
            json_call(when.into_inner()).is_true(|req| body_json(req)["payment"]["coin"] == "USDT");
            json_ok(then.into_inner(), VALIDATION_PROBLEMS_LIST);
        });

        let mut request: types::ValidateOrderRequest =
            serde_json::from_str(FLAT_VALIDATE_ORDER_REQUEST).unwrap();
        request.payment = pay_with("USDT", "Tron");
        let result = client(&server)
            .validate_order()
            .body(request)
            .send()
            .await
            .expect("problems come in a 200")
            .into_inner();

        assert_eq!(result.coin.as_deref(), Some("USDT"));
        assert_eq!(result.coin_amount, Some(Decimal::ZERO));
        assert_eq!(
            (
                result.coupon_code.as_deref(),
                result.loyalty_summary.as_ref()
            ),
            (None, None)
        );
        assert!(result.deliveries.is_empty());
        let problems = result.problems.expect("problems present");
        let codes: Vec<_> = problems.iter().map(|p| p.problem.clone()).collect();
        assert_eq!(
            codes,
            [
                ProblemCode::OutOfStock,
                ProblemCode::NotAllowedPaymentVia,
                ProblemCode::KycMissing,
                ProblemCode::FullnameMissing,
                ProblemCode::Unknown("SOME_CODE_ADDED_NEXT_YEAR".to_owned()),
            ]
        );
        assert_eq!(problems[0].more_details, None);
        assert_eq!(
            problems[1].more_details,
            Some(json!(["USER_WALLET", "GATE_PAY"]))
        );
        assert_eq!(
            problems[2].more_details,
            Some(json!({"reason": "tier limit"}))
        );
        // `moreDetails: null`.
        assert_eq!(problems[4].more_details, None);
        assert!(problems[4].problem.is_unknown());
        assert_eq!(problems[4].problem.as_str(), "SOME_CODE_ADDED_NEXT_YEAR");
        assert_eq!(problems[4].problem.to_string(), "SOME_CODE_ADDED_NEXT_YEAR");
        assert!(!problems[3].problem.is_unknown());
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn more_details_of_every_shape_are_kept() {
        let server = MockServer::start_async().await;
        let mock = server.validate_order(|when, then| {
            json_call(when.into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "problems": [
                    {
                      "problem": "INVALID_BENEFICIARY_ACCOUNT",
                      "moreDetails": {"beneficiary_account": "END_USER_EMAIL", "expected": "email"}
                    },
                    {
                      "problem": "UNSUPPORTED_PROTOCOL_COIN_COMBINATION",
                      "moreDetails": {
                        "supported": [
                          {"protocol": "Solana", "coin": "USDC"},
                          {"protocol": "Ethereum", "coin": "USDT"}
                        ]
                      }
                    },
                    {"problem": "AMOUNT_LESS_THEN_MINIMUM_ALLOWED", "moreDetails": "5 USDC"},
                    {"problem": "PRODUCT_COUNT_EXCEEDED", "moreDetails": 10}
                  ]
                }"#,
            );
        });

        let problems = client(&server)
            .validate_order()
            .body(seed_validate_request())
            .send()
            .await
            .expect("problems come in a 200")
            .into_inner()
            .problems
            .expect("problems present");

        assert_eq!(problems[0].problem, ProblemCode::InvalidBeneficiaryAccount);
        assert_eq!(
            problems[0].more_details,
            Some(json!({"beneficiary_account": "END_USER_EMAIL", "expected": "email"}))
        );
        assert_eq!(
            problems[1].problem.as_str(),
            "UNSUPPORTED_PROTOCOL_COIN_COMBINATION"
        );
        let supported = &problems[1].more_details.as_ref().unwrap()["supported"];
        assert_eq!(supported[0], json!({"protocol": "Solana", "coin": "USDC"}));
        assert_eq!(supported.as_array().map(Vec::len), Some(2));
        assert_eq!(
            problems[2].problem,
            ProblemCode::AmountLessThenMinimumAllowed
        );
        assert_eq!(problems[2].more_details, Some(json!("5 USDC")));
        assert_eq!(problems[3].more_details, Some(json!(10)));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn an_unknown_problem_code_decodes_as_unknown_next_to_known_ones() {
        let server = MockServer::start_async().await;
        let mock = server.validate_order(|when, then| {
            json_call(when.into_inner()).is_true(|req| body_json(req)["promo_code"] == "SUMMER25");
            json_ok(
                then.into_inner(),
                r#"{
                  "coin": "USDC",
                  "coin_amount": "100.3528",
                  "coupon_code": "SUMMER25",
                  "problems": [
                    {"problem": "COUPON_NOT_VALID_FOR_PAYMENT_VIA", "moreDetails": {"coupon": "SUMMER25"}},
                    {"problem": "COUPON_EXPIRED"}
                  ]
                }"#,
            );
        });

        let mut request = seed_validate_request();
        request.promo_code = Some("SUMMER25".to_owned());
        let result = client(&server)
            .validate_order()
            .body(request)
            .send()
            .await
            .expect("an unknown problem code must not fail decoding")
            .into_inner();

        assert_eq!(result.coupon_code.as_deref(), Some("SUMMER25"));
        let problems = result.problems.unwrap();
        assert_eq!(
            problems[0].problem,
            ProblemCode::Unknown("COUPON_NOT_VALID_FOR_PAYMENT_VIA".to_owned())
        );
        assert!(problems[0].problem.is_unknown());
        assert_eq!(
            problems[0].more_details,
            Some(json!({"coupon": "SUMMER25"}))
        );
        assert_eq!(problems[1].problem, ProblemCode::CouponExpired);
        assert!(!problems[1].problem.is_unknown());
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn absent_null_and_empty_problems_all_mean_valid() {
        let server = MockServer::start_async().await;
        async fn answer_for<'a>(
            server: &'a MockServer,
            lang: &'static str,
            body: &'static str,
        ) -> httpmock::Mock<'a> {
            server
                .mock_async(|when, then| {
                    json_call(when)
                        .method(Method::POST)
                        .path("/v5/orders/validations")
                        .is_true(move |req| body_json(req)["lang"] == lang);
                    json_ok(then, body);
                })
                .await
        }
        let absent = answer_for(&server, "en", "{}").await;
        let null = answer_for(&server, "es", VALIDATION_PROBLEMS_NULL).await;
        let empty = answer_for(&server, "de", VALIDATION_PROBLEMS_EMPTY).await;
        let client = &client(&server);
        let validate = move |lang: &str| {
            let mut request = seed_validate_request();
            request.lang = Some(lang.to_owned());
            client.validate_order().body(request).send()
        };

        let result = validate("en").await.unwrap().into_inner();
        assert_eq!(result, types::ValidationResult::default());
        assert_eq!(result.problems, None);

        let result = validate("es").await.unwrap().into_inner();
        assert_eq!(result.problems, None);
        assert_eq!(result.deliveries.len(), 1);

        let result = validate("de").await.unwrap().into_inner();
        assert_eq!(result.problems, Some(vec![]));
        // The preview of a range product, priced with a coupon; numbers as JSON numbers.
        assert_eq!(result.coin_amount, Some(dec("75.98")));
        assert_eq!(result.original_coin_amount, Some(dec("75.98")));
        assert_eq!(result.coupon_code.as_deref(), Some("SAVE10"));
        assert_eq!(result.loyalty_summary, Some(json!({"points": 68})));
        let deliverable = result.deliveries[0].deliverable.as_ref().unwrap();
        assert_eq!(deliverable.denomination.as_deref(), Some("range"));
        assert_eq!(deliverable.product_value, Some(dec("75")));

        absent.assert_async().await;
        null.assert_async().await;
        empty.assert_async().await;
    }

    /// Some answers carry an `error` text instead of problems.
    #[tokio::test]
    async fn an_error_text_in_a_200_is_kept() {
        let server = MockServer::start_async().await;
        let mock = server.validate_order(|when, then| {
            json_call(when.into_inner());
            json_ok(
                then.into_inner(),
                r#"{"error": "Product not available in your region", "problems": null}"#,
            );
        });

        let result = client(&server)
            .validate_order()
            .body(seed_validate_request())
            .send()
            .await
            .expect("validate_order succeeds")
            .into_inner();

        assert_eq!(
            result.error.as_deref(),
            Some("Product not available in your region")
        );
        assert_eq!(result.problems, None);
        mock.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// 3. subscribe_order: the raw Server-Sent Events stream
// ---------------------------------------------------------------------------------------

mod sse {
    use super::*;

    #[tokio::test]
    async fn the_event_stream_arrives_byte_for_byte_with_comments_and_stop() {
        let server = MockServer::start_async().await;
        let mock = server.subscribe_order(|when, then| {
            partnered(when.order_id(ORDER_ID).into_inner())
                .path(format!("/v5/orders/{ORDER_ID}/subscribe"));
            event_stream(then.into_inner(), STREAM_NAMED);
        });

        let response = client(&server)
            .subscribe_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("subscribe_order succeeds");

        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()[reqwest::header::CONTENT_TYPE],
            "text/event-stream"
        );
        let text = collect(response.into_inner()).await;
        assert_eq!(text, STREAM_NAMED);
        assert!(text.starts_with(": stream opened\n\n"));
        assert!(text.contains("\nevent: message\ndata: {"));
        assert!(text.contains("\nid: 3\ndata: {"));
        assert!(text.ends_with("event: stop\ndata: {}\n\n"));

        // Unnamed and `message` events carry an `Order` as `get_order` returns it.
        let orders: Vec<types::Order> = order_payloads(&text)
            .into_iter()
            .map(|data| serde_json::from_str(data).expect("event data is an Order"))
            .collect();
        let states: Vec<_> = orders.iter().map(|o| o.order_state.clone()).collect();
        assert_eq!(
            states,
            [
                Some(OrderState::WaitingForPayment),
                Some(OrderState::PaymentReceived),
                Some(OrderState::Done),
            ]
        );
        assert_eq!(orders[0].wallet_address.as_deref(), Some(SOLANA_WALLET));
        assert_eq!(orders[1].sent_coin_amount, Some(dec("20.24")));
        // The last event is the same order `get_order` answers once Done.
        assert_eq!(orders[2], decoded_order(ORDER_DONE));
        let code = orders[2].deliveries[0].deliverable.as_ref().unwrap();
        assert_eq!(code.pin_code.as_deref(), Some("TGT-8842-1177-5530"));
        mock.assert_async().await;
    }

    /// The spec tells callers to send `Accept: text/event-stream`; progenitor sets no
    /// `Accept` for it, so the crate's `pre` hook does.
    #[tokio::test]
    async fn subscribe_order_asks_for_an_event_stream() {
        let server = MockServer::start_async().await;
        let mock = server.subscribe_order(|when, then| {
            no_query(partnered(when.order_id(ORDER_ID).into_inner()))
                .header("accept", "text/event-stream")
                .is_true(|req| header_count(req, "accept") == 1);
            event_stream(then.into_inner(), STREAM);
        });

        let response = client(&server)
            .subscribe_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("subscribe_order succeeds");
        let text = collect(response.into_inner()).await;
        assert_eq!(text, STREAM);
        // Four unnamed order events, then `stop`.
        assert_eq!(order_payloads(&text).len(), 4);
        mock.assert_async().await;
    }

    /// Reads one HTTP/1.1 request head from `sock`.
    fn read_head(sock: &mut std::net::TcpStream) -> String {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = sock.read(&mut buf).expect("read request");
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(head).expect("ASCII request head")
    }

    fn write_chunk(sock: &mut std::net::TcpStream, data: &str) {
        write!(sock, "{:x}\r\n{data}\r\n", data.len()).unwrap();
        sock.flush().unwrap();
    }

    /// With a server that holds the second event back, the first one is readable from
    /// the stream before the body ends: the client does not buffer the whole response.
    #[tokio::test]
    async fn events_are_readable_before_the_stream_ends() {
        const FIRST: &str = "data: {\"order_id\":\"2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f\",\
                             \"order_state\":\"PaymentStarted\"}\n\n";
        const SECOND: &str = ": keep-alive\n\nevent: stop\ndata: {}\n\n";
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (head_tx, head_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            head_tx.send(read_head(&mut sock)).unwrap();
            sock.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                  cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n",
            )
            .unwrap();
            write_chunk(&mut sock, FIRST);
            // Hold the rest until the client has seen the first event.
            go_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("the client read the first event");
            write_chunk(&mut sock, SECOND);
            sock.write_all(b"0\r\n\r\n").unwrap();
            sock.flush().unwrap();
        });

        let client = Client::with_partner(&format!("http://{addr}"), &partner()).unwrap();
        let response = client
            .subscribe_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("headers arrive before the body ends");
        let mut stream = response.into_inner_stream();

        let mut seen = Vec::new();
        while seen.len() < FIRST.len() {
            let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .expect("first event arrives while the stream is still open")
                .expect("stream not ended")
                .expect("chunk");
            seen.extend_from_slice(&chunk);
        }
        assert_eq!(seen, FIRST.as_bytes());
        let first: types::Order =
            serde_json::from_str(order_payloads(FIRST)[0]).expect("an order event");
        assert_eq!(first.order_state, Some(OrderState::PaymentStarted));
        go_tx.send(()).unwrap();
        while let Some(chunk) = stream.next().await {
            seen.extend_from_slice(&chunk.expect("chunk"));
        }
        assert_eq!(String::from_utf8(seen).unwrap(), format!("{FIRST}{SECOND}"));
        server.join().unwrap();

        // The request as it went out on the wire.
        let head = head_rx.recv().unwrap();
        let mut lines = head.split("\r\n");
        assert_eq!(
            lines.next(),
            Some(format!("GET /v5/orders/{ORDER_ID}/subscribe HTTP/1.1").as_str())
        );
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        let get = |name: &str| -> Vec<&str> {
            headers
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(get("x-cr-application"), [PARTNER_ID]);
        assert_eq!(get("x-cr-version"), [APP_VERSION]);
        assert_eq!(get("x-country-iso-code"), [COUNTRY]);
        assert_eq!(get("accept"), ["text/event-stream"]);
        assert!(get("api-version").is_empty(), "{head}");
    }

    #[tokio::test]
    async fn unknown_order_on_the_stream_is_a_404_error_response() {
        let server = MockServer::start_async().await;
        let mock = server.subscribe_order(|when, then| {
            partnered(when.order_id("ord_missing000").into_inner());
            json_status(
                then.into_inner(),
                404,
                r#"{"status": 404, "detail": "ORDER_NOT_FOUND"}"#,
            );
        });

        let err = client(&server)
            .subscribe_order()
            .order_id("ord_missing000")
            .send()
            .await
            .map(|_| ())
            .expect_err("404 is an error");

        let Error::ErrorResponse(response) = err else {
            panic!("expected ErrorResponse, got {err:?}");
        };
        assert_eq!(response.status(), 404);
        let body = response.into_inner();
        assert_eq!(
            (body.status, body.detail.as_deref()),
            (Some(HttpErrorStatus::Integer(404)), Some("ORDER_NOT_FOUND"))
        );
        mock.assert_async().await;
    }

    /// An unknown order may also answer a stream whose only event is `stop` with an
    /// `error`: the bytes come through, and there is no order event in them.
    #[tokio::test]
    async fn a_stream_that_only_stops_carries_no_order() {
        const ONLY_STOP: &str = "event: stop\ndata: {\"error\": \"order not found\"}\n\n";
        let server = MockServer::start_async().await;
        let mock = server.subscribe_order(|when, then| {
            partnered(when.order_id("ord_missing000").into_inner());
            event_stream(then.into_inner(), ONLY_STOP);
        });

        let response = client(&server)
            .subscribe_order()
            .order_id("ord_missing000")
            .send()
            .await
            .expect("a 200 stream");
        let text = collect(response.into_inner()).await;
        assert_eq!(text, ONLY_STOP);
        assert!(order_payloads(&text).is_empty());
        mock.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// 4. Decoding: open enums, unknown fields, money, epoch times
// ---------------------------------------------------------------------------------------

mod decoding {
    use super::*;

    #[tokio::test]
    async fn unknown_order_payment_and_delivery_states_are_kept() {
        let server = MockServer::start_async().await;
        let mock = server.get_order(|when, then| {
            json_call(when.order_id(ORDER_ID).into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "order_id": "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f",
                  "order_state": "PartiallyRefunded",
                  "payment_state": "ChargedBack",
                  "coin_amount": "20.2400",
                  "coin": "USDC",
                  "deliveries": [
                    {
                      "id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
                      "delivery_state": "Rejected",
                      "kind": "giftcard",
                      "deliverable": {"delivery_type": "by_carrier_pigeon", "pin_code": null}
                    }
                  ]
                }"#,
            );
        });

        let order = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("unknown states must not fail decoding")
            .into_inner();

        let state = order.order_state.as_ref().unwrap();
        assert_eq!(state, &OrderState::Unknown("PartiallyRefunded".to_owned()));
        assert!(state.is_unknown());
        assert_eq!(state.to_string(), "PartiallyRefunded");
        assert_eq!(
            order.payment_state,
            Some(PaymentState::Unknown("ChargedBack".to_owned()))
        );
        let delivery = &order.deliveries[0];
        assert_eq!(
            delivery.delivery_state.as_ref().map(DeliveryState::as_str),
            Some("Rejected")
        );
        assert!(delivery.delivery_state.as_ref().unwrap().is_unknown());
        assert_eq!(
            delivery.deliverable.as_ref().unwrap().delivery_type,
            Some(DeliveryType::Unknown("by_carrier_pigeon".to_owned()))
        );
        // The rest of the order still decodes.
        assert_eq!(order.order_id.as_deref(), Some(ORDER_ID));
        assert_eq!(order.coin_amount, Some(dec("20.24")));
        assert_eq!(delivery.kind, Some(ProductKind::Giftcard));
        mock.assert_async().await;
    }

    /// The spellings two integrations accept defensively decode as their own variants.
    #[test]
    fn completed_and_cancelled_are_known_order_states() {
        for (text, state) in [
            ("Completed", OrderState::Completed),
            ("Cancelled", OrderState::Cancelled),
            ("Canceled", OrderState::Canceled),
            ("WaitingForManualAction", OrderState::WaitingForManualAction),
            ("PaymentSetupFailed", OrderState::PaymentSetupFailed),
        ] {
            let order: types::Order = serde_json::from_value(json!({"order_state": text})).unwrap();
            assert_eq!(order.order_state, Some(state), "{text}");
        }
    }

    #[tokio::test]
    async fn an_unknown_product_kind_decodes_as_unknown_in_brands_and_products() {
        let server = MockServer::start_async().await;
        let brands_mock = server.list_brands(|when, then| {
            json_call(when.country_code(&country("US")).into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "all_brands": [
                    {"brand": "Xbox Game Pass", "kind": "subscription"},
                    {"brand": "Amazon.com", "kind": "giftcard"}
                  ],
                  "categories": [
                    {"kind": "subscription", "category": "games", "brands": [{"brand": "Xbox Game Pass"}]}
                  ]
                }"#,
            );
        });
        let products_mock = server.list_products(|when, then| {
            json_call(when.country_code(&country("US")).into_inner());
            json_ok(
                then.into_inner(),
                r#"[
                  {
                    "brand": "Xbox Game Pass",
                    "kind": "subscription",
                    "products": [
                      {
                        "denomination": "3 months",
                        "coin_amount": "44.98",
                        "face_value": {"amount": {"type": "subscription", "value": 44.99}}
                      }
                    ]
                  }
                ]"#,
            );
        });
        let client = client(&server);

        let catalog = client
            .list_brands()
            .country_code("US")
            .send()
            .await
            .expect("an unknown kind must not fail decoding")
            .into_inner();
        assert_eq!(
            catalog.all_brands[0].kind,
            Some(ProductKind::Unknown("subscription".to_owned()))
        );
        assert_eq!(catalog.all_brands[1].kind, Some(ProductKind::Giftcard));
        assert_eq!(catalog.categories[0].kind, catalog.all_brands[0].kind);
        assert_eq!(catalog.country_code, None);

        let families = client
            .list_products()
            .country_code("US")
            .family_name("Any")
            .send()
            .await
            .expect("an unknown kind must not fail decoding")
            .into_inner();
        let kind = families[0].kind.as_ref().unwrap();
        assert!(kind.is_unknown());
        assert_eq!(kind.as_str(), "subscription");
        let product = &families[0].products[0];
        assert_eq!(product.coin_amount, Some(dec("44.98")));
        let amount = product
            .face_value
            .as_ref()
            .unwrap()
            .amount
            .as_ref()
            .unwrap();
        assert_eq!(
            amount.type_,
            Some(FaceValueAmountType::Unknown("subscription".to_owned()))
        );
        assert_eq!(amount.value, Some(dec("44.99")));

        brands_mock.assert_async().await;
        products_mock.assert_async().await;
    }

    #[tokio::test]
    async fn unknown_fields_at_every_level_are_ignored() {
        let server = MockServer::start_async().await;
        let order_mock = server.get_order(|when, then| {
            json_call(when.order_id(ORDER_ID).into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "order_id": "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f",
                  "order_state": "Done",
                  "risk_score": 0.02,
                  "metadata": {"source": "partner_api", "tags": [1, 2, 3]},
                  "user": {"email": "buyer@example.com", "tier": 2},
                  "refund": null,
                  "deliveries": [
                    {
                      "id": "0b1c2d3e",
                      "delivery_state": "Done",
                      "kind": "mobile_recharge",
                      "supplier_ref": null,
                      "deliverable": {
                        "brand_name": "eSIM",
                        "category": "e-sim",
                        "operator": {"name": "AT&T", "mcc": "310"},
                        "pin_code": "LPA:1$smdp.example.net$K2-3JH6S-1FQ9ZW",
                        "qr_image_url": "https://esim.example.net/activate/K2-3JH6S.png",
                        "iccid": "8901260123456789012",
                        "qr": {"format": "png"}
                      }
                    }
                  ]
                }"#,
            );
        });
        let validation_mock = server.validate_order(|when, then| {
            json_call(when.into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "problems": [{"problem": "OUT_OF_STOCK", "severity": "error", "retry": false}],
                  "summary": {"subtotal": "10.00", "fees": []},
                  "checked_at": "2025-06-02T14:05:00Z"
                }"#,
            );
        });
        let vias_mock = server.list_payment_vias(|when, then| {
            json_call(when.into_inner());
            json_ok(
                then.into_inner(),
                r#"[{"name": "USER_WALLET", "sort": 1, "currencies": [
                  {"name": "USDC", "decimals": 6, "networks": [
                    {"name": "Solana", "explorer": "https://solscan.io", "smart_contract": {"address": "EPjF", "audited": true}}
                  ]}
                ]}]"#,
            );
        });
        let homepage_mock = server.get_homepage(|when, then| {
            json_call(when.country_code(&country("US")).into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "sections": [
                    {
                      "title": "Trending",
                      "layout": "carousel",
                      "brands": [{"brand": "Amazon.com", "popularity": 97, "badges": ["hot"]}]
                    }
                  ],
                  "generated_at": "2025-06-02T00:00:00Z"
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
        assert_eq!(order.order_state, Some(OrderState::Done));
        assert_eq!(order.refund, None);
        assert_eq!(order.user.unwrap().email.as_deref(), Some(BUYER));
        let deliverable = order.deliveries[0].deliverable.as_ref().unwrap();
        assert_eq!(
            deliverable.pin_code.as_deref(),
            Some("LPA:1$smdp.example.net$K2-3JH6S-1FQ9ZW")
        );
        assert_eq!(
            deliverable.qr_image_url.as_deref(),
            Some("https://esim.example.net/activate/K2-3JH6S.png")
        );
        assert_eq!(deliverable.pin_serial, None);

        let result = client
            .validate_order()
            .body(seed_validate_request())
            .send()
            .await
            .expect("extra fields must be ignored")
            .into_inner();
        let problems = result.problems.unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].problem, ProblemCode::OutOfStock);
        assert_eq!(problems[0].more_details, None);
        assert_eq!(
            result.summary,
            Some(json!({"subtotal": "10.00", "fees": []}))
        );

        let vias = client
            .list_payment_vias()
            .send()
            .await
            .expect("extra fields must be ignored")
            .into_inner();
        let network = &vias[0].currencies[0].networks[0];
        assert_eq!(
            network.smart_contract.as_ref().unwrap().address.as_deref(),
            Some("EPjF")
        );

        let homepage = client
            .get_homepage()
            .country_code("US")
            .send()
            .await
            .expect("extra fields must be ignored")
            .into_inner();
        assert_eq!(
            homepage.sections[0].brands[0].brand.as_deref(),
            Some("Amazon.com")
        );

        order_mock.assert_async().await;
        validation_mock.assert_async().await;
        vias_mock.assert_async().await;
        homepage_mock.assert_async().await;
    }

    /// A JSON *number* reaches `rust_decimal` through an `f64`: amounts of up to 15
    /// significant digits decode exactly; the number's trailing zeros are not kept.
    #[tokio::test]
    async fn money_decodes_exactly_from_strings_and_numbers() {
        let server = MockServer::start_async().await;
        let mock = server.list_products(|when, then| {
            json_call(when.country_code(&country("ID")).into_inner())
                .path("/v5/products/country/ID");
            json_ok(
                then.into_inner(),
                r#"[
                  {
                    "brand": "Telkomsel",
                    "kind": "mobile_recharge",
                    "products": [
                      {"denomination": "50000 IDR", "coin_amount": 3.052511},
                      {"denomination": "100000 IDR", "coin_amount": "6.105022"},
                      {"denomination": "50 IDR", "coin_amount": 50.000},
                      {"denomination": "1 IDR", "coin_amount": "0.000001"},
                      {"denomination": "big", "coin_amount": 1234567890123.45},
                      {
                        "is_dynamic": true,
                        "range": {"min": "0.10", "max": 999999999999.999, "step_size": 0.01}
                      }
                    ]
                  }
                ]"#,
            );
        });

        let families = client(&server)
            .list_products()
            .country_code("ID")
            .family_name("Any")
            .send()
            .await
            .expect("list_products succeeds")
            .into_inner();

        let products = &families[0].products;
        let amounts: Vec<Decimal> = products[..5]
            .iter()
            .map(|p| p.coin_amount.unwrap())
            .collect();
        assert_eq!(
            amounts,
            [
                dec("3.052511"),
                dec("6.105022"),
                dec("50"),
                dec("0.000001"),
                dec("1234567890123.45"),
            ]
        );
        // From a string, the scale is kept as sent.
        assert_eq!(amounts[3].to_string(), "0.000001");
        // No float noise: two decoded amounts add up exactly.
        assert_eq!(amounts[0] + amounts[0], amounts[1]);
        let range = products[5].range.as_ref().unwrap();
        assert_eq!(range.min.unwrap().to_string(), "0.10");
        assert_eq!(range.max, Some(dec("999999999999.999")));
        assert_eq!(range.step_size, Some(dec("0.01")));
        mock.assert_async().await;
    }

    /// `created_at`, `updated_at` and `payment_requested_at` come as strings, integers
    /// and fractional numbers; all decode exactly and truncate to whole seconds.
    #[tokio::test]
    async fn epoch_seconds_decode_from_strings_integers_and_fractions() {
        let server = MockServer::start_async().await;
        let ids = [
            (ORDER_ID, ORDER_WAITING_FOR_PAYMENT),
            (
                "7a6b5c4d-3e2f-4a1b-9c0d-8e7f6a5b4c3d",
                ORDER_CREATED_AT_NUMBER,
            ),
            (
                "8b7c6d5e-4f3a-4b2c-8d1e-9f0a8b7c6d5e",
                ORDER_CREATED_AT_FRACTIONAL,
            ),
        ];
        for (id, body) in ids {
            server
                .mock_async(|when, then| {
                    json_call(when)
                        .method(Method::GET)
                        .path(format!("/v5/orders/{id}"));
                    json_ok(then, body);
                })
                .await;
        }
        let client = &client(&server);
        let get = move |id: &'static str| client.get_order().order_id(id).send();
        let seconds = |t: Option<Decimal>| t.map(|t| t.trunc().to_i64().unwrap());

        // As strings: "1791000000".
        let order = get(ids[0].0).await.unwrap().into_inner();
        assert_eq!(seconds(order.created_at), Some(1_791_000_000));

        // As JSON integers, with `coin_amount` a number too.
        let order = get(ids[1].0).await.unwrap().into_inner();
        assert_eq!(order.created_at, Some(Decimal::from(1_791_007_200)));
        assert_eq!(seconds(order.updated_at), Some(1_791_007_380));
        assert_eq!(order.payment_requested_at, None);
        assert_eq!(order.coin_amount, Some(dec("25.31")));
        assert_eq!(order.network.as_deref(), Some("Polygon (Matic)"));
        assert_eq!(order.order_state, Some(OrderState::PaymentReceived));
        assert_eq!(order.deliveries[0].deliverable, None);

        // As fractional numbers.
        let order = get(ids[2].0).await.unwrap().into_inner();
        assert_eq!(order.created_at, Some(dec("1791010800.25")));
        assert_eq!(seconds(order.created_at), Some(1_791_010_800));
        assert_eq!(order.updated_at, Some(dec("1791010919.75")));
        assert_eq!(seconds(order.updated_at), Some(1_791_010_919));
        assert_eq!(seconds(order.payment_requested_at), Some(1_791_010_800));
        assert_eq!(order.order_state, Some(OrderState::WaitingForDelivery));
        assert!(order.deliveries.is_empty());
    }

    /// A range bound is a decimal (string or number) or `{amount, currency}`, under
    /// `min`/`max` or `minimum`/`maximum`.
    #[tokio::test]
    async fn face_value_bounds_decode_in_every_shape() {
        let server = MockServer::start_async().await;
        let mock = server.list_products(|when, then| {
            json_call(when.country_code(&country("US")).family_name("Amazon.com").into_inner());
            json_ok(
                then.into_inner(),
                r#"[{"brand": "Amazon.com", "products": [
                  {"face_value": {"amount": {"type": "range", "min": "5.00", "max": "500.00"}}},
                  {"face_value": {"amount": {"type": "range", "min": 5, "max": 500.5}}},
                  {"face_value": {"amount": {"type": "range",
                    "min": {"amount": 5, "currency": "USD"}, "max": {"amount": "500.00", "currency": "USD"}}}},
                  {"face_value": {"amount": {"minimum": {"amount": 1}, "maximum": 100}}},
                  {"face_value": {"currency_code": "EUR", "amount": {"type": "fixed", "value": "25"}}}
                ]}]"#,
            );
        });

        let families = client(&server)
            .list_products()
            .country_code("US")
            .family_name("Amazon.com")
            .send()
            .await
            .expect("every bound shape decodes")
            .into_inner();

        let amounts: Vec<&types::FaceValueAmount> = families[0]
            .products
            .iter()
            .map(|p| p.face_value.as_ref().unwrap().amount.as_ref().unwrap())
            .collect();
        let bound = |value: &str| Some(FaceValueBound::Variant0(dec(value)));
        let with_currency = |value: &str, currency: Option<&str>| {
            Some(FaceValueBound::Variant1(types::MoneyAmount {
                amount: dec(value),
                currency: currency.map(str::to_owned),
            }))
        };
        assert_eq!(
            (amounts[0].min.clone(), amounts[0].max.clone()),
            (bound("5.00"), bound("500.00"))
        );
        let Some(FaceValueBound::Variant0(max)) = &amounts[0].max else {
            panic!("{:?}", amounts[0].max);
        };
        assert_eq!(max.to_string(), "500.00");
        assert_eq!(
            (amounts[1].min.clone(), amounts[1].max.clone()),
            (bound("5"), bound("500.5"))
        );
        assert_eq!(
            (amounts[2].min.clone(), amounts[2].max.clone()),
            (
                with_currency("5", Some("USD")),
                with_currency("500.00", Some("USD"))
            )
        );
        assert_eq!(
            (amounts[3].minimum.clone(), amounts[3].maximum.clone()),
            (with_currency("1", None), bound("100"))
        );
        assert_eq!(amounts[3].type_, None);
        assert_eq!(amounts[4].type_, Some(FaceValueAmountType::Fixed));
        assert_eq!(amounts[4].value, Some(dec("25")));
        assert_eq!(
            families[0].products[4]
                .face_value
                .as_ref()
                .unwrap()
                .currency_code
                .as_deref(),
            Some("EUR")
        );
        mock.assert_async().await;
    }

    /// Country codes are pattern-checked in requests only: a lower-case code in a
    /// response still decodes.
    #[tokio::test]
    async fn a_lower_case_country_code_in_a_response_still_decodes() {
        let server = MockServer::start_async().await;
        let order_mock = server.get_order(|when, then| {
            json_call(when.order_id(ORDER_ID).into_inner());
            json_ok(
                then.into_inner(),
                r#"{"order_id": "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f", "order_state": "Done",
                    "deliveries": [{"deliverable": {"brand_name": "Target", "country_code": "us"}}]}"#,
            );
        });
        let brands_mock = server.list_brands(|when, then| {
            json_call(when.country_code(&country("US")).into_inner());
            json_ok(
                then.into_inner(),
                r#"{"country_code": "us", "all_brands": [{"brand": "Target", "country_code": "us"}]}"#,
            );
        });
        let client = client(&server);

        let order = client
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("a lower-case country code decodes")
            .into_inner();
        assert_eq!(
            order.deliveries[0]
                .deliverable
                .as_ref()
                .unwrap()
                .country_code
                .as_deref(),
            Some("us")
        );
        let catalog = client
            .list_brands()
            .country_code("US")
            .send()
            .await
            .expect("a lower-case country code decodes")
            .into_inner();
        assert_eq!(catalog.country_code.as_deref(), Some("us"));
        assert_eq!(catalog.all_brands[0].country_code.as_deref(), Some("us"));
        order_mock.assert_async().await;
        brands_mock.assert_async().await;
    }

    /// Nothing in `Order` is required, so an answer without an order id is still a
    /// successful `Order`: callers must check `order_id` (then `id`) themselves, and
    /// treat an answer carrying `problems` as no order at all.
    #[tokio::test]
    async fn an_answer_without_an_order_id_still_decodes_so_callers_must_check_it() {
        let server = MockServer::start_async().await;
        let mock = server.create_order(|when, then| {
            json_call(when.into_inner());
            json_ok(
                then.into_inner(),
                r#"{"problems": [{"problem": "OUT_OF_STOCK"}]}"#,
            );
        });

        let order = client(&server)
            .create_order()
            .body(flat_create_request())
            .send()
            .await
            .expect("decodes: every Order field is optional")
            .into_inner();

        assert_eq!(order, types::Order::default());
        assert_eq!(order.order_id.as_deref().or(order.id.as_deref()), None);
        mock.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// Client-side checks and what the client sends
// ---------------------------------------------------------------------------------------

mod requests {
    use super::*;

    #[tokio::test]
    async fn a_malformed_country_code_is_refused_before_anything_is_sent() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.any_request();
                then.status(200);
            })
            .await;

        let err = client(&server)
            .list_brands()
            .country_code("usa")
            .send()
            .await
            .expect_err("`usa` is not ISO 3166-1 alpha-2");

        let Error::InvalidRequest(message) = err else {
            panic!("expected InvalidRequest, got {err:?}");
        };
        assert!(message.contains("country_code"), "{message}");
        assert_eq!(mock.calls_async().await, 0);
    }

    #[tokio::test]
    async fn a_missing_order_id_is_refused_before_anything_is_sent() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.any_request();
                then.status(200);
            })
            .await;

        let err = client(&server)
            .get_order()
            .send()
            .await
            .expect_err("order_id is required");

        let Error::InvalidRequest(message) = err else {
            panic!("expected InvalidRequest, got {err:?}");
        };
        assert_eq!(message, "order_id was not initialized");
        assert_eq!(mock.calls_async().await, 0);
    }

    #[tokio::test]
    async fn a_create_order_without_its_required_parts_is_refused_before_anything_is_sent() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.any_request();
                then.status(200);
            })
            .await;
        let client = client(&server);

        let err = client
            .create_order()
            .send()
            .await
            .expect_err("deliveries, payment and user are required");
        let Error::InvalidRequest(message) = err else {
            panic!("expected InvalidRequest, got {err:?}");
        };
        assert!(message.contains("deliveries"), "{message}");

        let err = client
            .create_order()
            .body_map(|body| {
                body.deliveries(vec![types::CreateOrderDeliveryItem::from(delivery(
                    "Target", "10 USD", BUYER,
                ))])
                .payment(pay_with("USDC", "Solana"))
            })
            .send()
            .await
            .expect_err("user is required");
        let Error::InvalidRequest(message) = err else {
            panic!("expected InvalidRequest, got {err:?}");
        };
        assert!(message.contains("user"), "{message}");
        assert_eq!(mock.calls_async().await, 0);
    }

    #[tokio::test]
    async fn the_country_header_defaults_to_us() {
        let server = MockServer::start_async().await;
        let mock = server.list_payment_vias(|when, then| {
            when.into_inner()
                .header("x-cr-application", PARTNER_ID)
                .header("x-cr-version", APP_VERSION)
                .header("x-country-iso-code", "US")
                .header_missing("api-version");
            json_ok(then.into_inner(), "[]");
        });

        let client = Client::with_partner(
            &server.base_url(),
            &PartnerHeaders::new(PARTNER_ID, APP_VERSION),
        )
        .unwrap();
        let vias = client
            .list_payment_vias()
            .send()
            .await
            .expect("list_payment_vias succeeds")
            .into_inner();

        assert!(vias.is_empty());
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn an_order_id_with_reserved_characters_is_percent_encoded_in_the_path() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                json_call(when)
                    .method(Method::GET)
                    .is_true(|req| req.uri().path() == "/v5/orders/ord%20abc%2F1%3F");
                json_ok(
                    then,
                    r#"{"order_id": "ord abc/1?", "order_state": "Created"}"#,
                );
            })
            .await;

        let order = client(&server)
            .get_order()
            .order_id("ord abc/1?")
            .send()
            .await
            .expect("get_order succeeds")
            .into_inner();

        assert_eq!(order.order_id.as_deref(), Some("ord abc/1?"));
        assert_eq!(order.order_state, Some(OrderState::Created));
        mock.assert_async().await;
    }

    /// Calls `operation` (served as `route` says), with the end user's IP and agent when
    /// given.
    async fn call(
        client: &Client,
        operation: &str,
        end_user: Option<(&str, &str)>,
    ) -> Result<(), String> {
        macro_rules! send {
            ($builder:expr) => {{
                let builder = $builder;
                let builder = match end_user {
                    Some((ip, agent)) => builder.x_forwarded_for(ip).user_agent(agent),
                    None => builder,
                };
                builder.send().await.map(drop).map_err(|e| format!("{e:?}"))
            }};
        }
        match operation {
            "list_payment_vias" => send!(client.list_payment_vias()),
            "list_brands" => send!(client.list_brands().country_code("US")),
            "get_homepage" => send!(client.get_homepage().country_code("US")),
            "list_products" => send!(
                client
                    .list_products()
                    .country_code("US")
                    .family_name("Target")
            ),
            "get_price" => send!(
                client
                    .get_price()
                    .brand_name("Target")
                    .country_code("US")
                    .face_value("10")
                    .coin("USDC")
            ),
            "validate_order" => send!(client.validate_order().body(seed_validate_request())),
            "create_order" => send!(client.create_order().body(flat_create_request())),
            "get_order" => send!(client.get_order().order_id(ORDER_ID)),
            "subscribe_order" => send!(client.subscribe_order().order_id(ORDER_ID)),
            other => panic!("add {other} to `call`"),
        }
    }

    /// Every operation declares `X-Forwarded-For` and `User-Agent`: given, each is sent
    /// once with the end user's values (the agent replacing the crate's own); not given,
    /// there is no `X-Forwarded-For` and the agent is the crate's.
    #[tokio::test]
    async fn every_operation_forwards_the_end_user_only_when_given() {
        let operations = [
            "list_payment_vias",
            "list_brands",
            "get_homepage",
            "list_products",
            "get_price",
            "validate_order",
            "create_order",
            "get_order",
            "subscribe_order",
        ];
        for operation in operations {
            let (content_type, body) = match operation {
                "list_payment_vias" => ("application/json", PAYMENT_VIAS),
                "list_brands" => ("application/json", BRANDS),
                "get_homepage" => ("application/json", "{}"),
                "list_products" => ("application/json", PRODUCTS),
                "get_price" => ("application/json", PRICE),
                "validate_order" => ("application/json", VALIDATION_PROBLEMS_NULL),
                "create_order" => ("application/json", ORDER_WAITING_FOR_PAYMENT),
                "get_order" => ("application/json", ORDER_DONE),
                _ => ("text/event-stream", STREAM),
            };
            for end_user in [Some((END_USER_IP, END_USER_AGENT)), None] {
                let (method, path) = route(operation);
                let server = MockServer::start_async().await;
                let mock = server
                    .mock_async(|when, then| {
                        let when = partner_headers(when).method(method).path(path);
                        match end_user {
                            Some((ip, agent)) => when
                                .header("x-forwarded-for", ip)
                                .header("user-agent", agent)
                                .is_true(|req| {
                                    header_count(req, "x-forwarded-for") == 1
                                        && header_count(req, "user-agent") == 1
                                }),
                            None => when
                                .header_missing("x-forwarded-for")
                                .header_prefix("user-agent", "cryptorefills-rs/"),
                        };
                        then.status(200)
                            .header("content-type", content_type)
                            .body(body);
                    })
                    .await;
                call(&client(&server), operation, end_user)
                    .await
                    .unwrap_or_else(|err| panic!("{operation} {end_user:?}: {err}"));
                mock.assert_async().await;
            }
        }
    }

    #[tokio::test]
    async fn promo_codes_go_out_as_query_parameters() {
        let server = MockServer::start_async().await;
        let brands = server.list_brands(|when, then| {
            json_call(
                when.country_code(&country("US"))
                    .promo_code("SAVE10")
                    .into_inner(),
            )
            .is_true(|req| req.query_params().len() == 2);
            json_ok(then.into_inner(), BRANDS);
        });
        let price = server.get_price(|when, then| {
            let when = when
                .brand_name("Amazon.com")
                .country_code(&country("US"))
                .face_value("50")
                .coin("USDC")
                .promo_code("SAVE10");
            json_call(when.into_inner()).is_true(|req| req.query_params().len() == 5);
            json_ok(then.into_inner(), PRICE);
        });
        let client = client(&server);

        client
            .list_brands()
            .country_code("US")
            .promo_code("SAVE10")
            .send()
            .await
            .expect("list_brands succeeds");
        let price_value = client
            .get_price()
            .brand_name("Amazon.com")
            .country_code("US")
            .face_value("50")
            .coin("USDC")
            .promo_code("SAVE10")
            .send()
            .await
            .expect("get_price succeeds")
            .into_inner();
        assert_eq!(price_value.coin_amount, dec("50.61"));
        brands.assert_async().await;
        price.assert_async().await;
    }

    /// Query values with spaces and `&` (brand names such as "Polygon (Matic)" or
    /// "Barnes & Noble") are encoded so the server reads them back whole.
    #[tokio::test]
    async fn query_values_with_reserved_characters_arrive_whole() {
        let server = MockServer::start_async().await;
        let mock = server.get_price(|when, then| {
            let when = when
                .brand_name("Barnes & Noble")
                .country_code(&country("US"))
                .face_value("25.50")
                .coin("USDC");
            json_call(when.into_inner());
            json_ok(then.into_inner(), PRICE);
        });

        client(&server)
            .get_price()
            .brand_name("Barnes & Noble")
            .country_code("US")
            .face_value("25.50")
            .coin("USDC")
            .send()
            .await
            .expect("get_price succeeds");
        mock.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// 5. Errors
// ---------------------------------------------------------------------------------------

mod errors {
    use super::*;

    fn error_body<T: std::fmt::Debug>(
        result: Result<cryptorefills::ResponseValue<T>, Error<types::HttpError>>,
        status: u16,
    ) -> types::HttpError {
        let err = result.expect_err("an error status");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        let Error::ErrorResponse(response) = err else {
            panic!("expected ErrorResponse, got {err:?}");
        };
        assert_eq!(response.status(), status);
        response.into_inner()
    }

    /// An error status the spec declares, with a body that is not an `HttpError`:
    /// the answer keeps its status and its bytes.
    #[tokio::test]
    async fn an_error_body_of_another_shape_keeps_its_status() {
        for (content_type, body) in [
            ("application/json", r#""no such order""#),
            ("application/json", r#"["ORDER_NOT_FOUND"]"#),
            (
                "application/json",
                r#"{"detail": {"code": "ORDER_NOT_FOUND"}}"#,
            ),
            (
                "application/json",
                r#"{"status": true, "detail": "ORDER_NOT_FOUND"}"#,
            ),
            ("text/plain", "Not Found"),
        ] {
            let server = MockServer::start_async().await;
            let mock = server
                .mock_async(|when, then| {
                    when.method(Method::GET)
                        .path(format!("/v5/orders/{ORDER_ID}"));
                    then.status(404)
                        .header("content-type", content_type)
                        .body(body);
                })
                .await;
            let err = client(&server)
                .get_order()
                .order_id(ORDER_ID)
                .send()
                .await
                .expect_err("404 is an error");
            assert_eq!(err.status().map(|s| s.as_u16()), Some(404), "{body}");
            let Error::UnexpectedResponse(response) = err else {
                panic!("{body}: expected UnexpectedResponse, got {err:?}");
            };
            assert_eq!(response.status(), 404);
            assert_eq!(
                response.headers()[reqwest::header::CONTENT_TYPE],
                content_type
            );
            assert_eq!(response.text().await.unwrap(), body);
            mock.assert_async().await;
        }
    }

    #[tokio::test]
    async fn a_redirect_to_another_origin_is_refused_without_sending_the_partner_id() {
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
                then.status(307)
                    .header("location", format!("{}/collect", elsewhere.base_url()));
            })
            .await;
        let err = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect_err("refused");
        let Error::CommunicationError(err) = err else {
            panic!("expected CommunicationError, got {err:?}");
        };
        assert!(err.is_redirect(), "{err}");
        assert_eq!(stolen.calls_async().await, 0);
    }

    /// `{status, detail, moreDetails}`: a suspended network refuses the order.
    #[tokio::test]
    async fn a_suspended_network_is_a_400_with_its_code_and_more_details() {
        let server = MockServer::start_async().await;
        let mock = server.create_order(|when, then| {
            json_call(when.into_inner())
                .is_true(|req| body_json(req)["payment"]["network"] == "Tron");
            json_status(then.into_inner(), 400, ERROR_SUSPENDED);
        });

        let mut request = flat_create_request();
        request.payment = pay_with("USDT", "Tron");
        let result = client(&server).create_order().body(request).send().await;

        let err = result.as_ref().expect_err("400 is an error");
        assert!(!err.is_retryable());
        let body = error_body(result, 400);
        assert_eq!(body.status, Some(HttpErrorStatus::Integer(400)));
        assert_eq!(body.status.as_ref().unwrap().to_string(), "400");
        assert_eq!(body.detail.as_deref(), Some("SUSPENDED_NETWORK"));
        assert_eq!(
            HttpErrorCode::from(body.detail.as_deref().unwrap()),
            HttpErrorCode::SuspendedNetwork
        );
        assert_eq!(
            body.more_details,
            Some(json!({"coin": "USDT", "network": "Tron"}))
        );
        assert_eq!(
            (body.problems, body.message, body.reason),
            (None, None, None)
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn a_suspended_coin_on_validation_is_a_400_with_its_code() {
        let server = MockServer::start_async().await;
        let mock = server.validate_order(|when, then| {
            json_call(when.into_inner()).is_true(|req| body_json(req)["payment"]["coin"] == "USDT");
            json_status(
                then.into_inner(),
                400,
                r#"{"status": 400, "detail": "SUSPENDED_COIN", "moreDetails": {"coin": "USDT"}}"#,
            );
        });

        let mut request = seed_validate_request();
        request.payment = pay_with("USDT", "Ethereum");
        let body = error_body(
            client(&server).validate_order().body(request).send().await,
            400,
        );

        assert_eq!(
            body.detail.as_deref().map(HttpErrorCode::from),
            Some(HttpErrorCode::SuspendedCoin)
        );
        assert_eq!(body.more_details, Some(json!({"coin": "USDT"})));
        mock.assert_async().await;
    }

    /// `{status, detail, reason}`: the detail is a problem code, the reason free text.
    #[tokio::test]
    async fn a_refusal_with_a_reason_decodes_as_http_error() {
        let server = MockServer::start_async().await;
        let mock = server.create_order(|when, then| {
            json_call(when.into_inner());
            json_status(then.into_inner(), 400, ERROR_REASON);
        });

        let body = error_body(
            client(&server)
                .create_order()
                .body(flat_create_request())
                .send()
                .await,
            400,
        );

        assert_eq!(body.status, Some(HttpErrorStatus::Integer(400)));
        let detail = body.detail.as_deref().unwrap();
        assert_eq!(
            HttpErrorCode::from(detail),
            HttpErrorCode::Unknown("INVALID_BENEFICIARY_ACCOUNT".to_owned())
        );
        assert_eq!(
            ProblemCode::from(detail),
            ProblemCode::InvalidBeneficiaryAccount
        );
        assert_eq!(
            body.reason,
            Some(json!("phone must be E.164, e.g. +14155551234"))
        );
        mock.assert_async().await;
    }

    /// `{message}` alone, on a 404.
    #[tokio::test]
    async fn a_message_only_body_decodes_as_http_error() {
        let server = MockServer::start_async().await;
        let mock = server.get_order(|when, then| {
            json_call(when.order_id("ord_missing000").into_inner());
            json_status(then.into_inner(), 404, ERROR_MESSAGE);
        });

        let body = error_body(
            client(&server)
                .get_order()
                .order_id("ord_missing000")
                .send()
                .await,
            404,
        );

        assert_eq!(body.message.as_deref(), Some("Order not found"));
        assert_eq!((body.status, body.detail), (None, None));
        mock.assert_async().await;
    }

    /// Brands that need a verified account answer 422 `{"detail": "LOGIN_REQUIRED"}`,
    /// on `create_order` and on `validate_order`.
    #[tokio::test]
    async fn login_required_is_a_422_with_only_a_detail() {
        let server = MockServer::start_async().await;
        let created = server.create_order(|when, then| {
            json_call(when.into_inner());
            json_status(then.into_inner(), 422, ERROR_LOGIN_REQUIRED);
        });
        let validated = server.validate_order(|when, then| {
            json_call(when.into_inner());
            json_status(then.into_inner(), 422, ERROR_LOGIN_REQUIRED);
        });
        let client = client(&server);

        let on_create = error_body(
            client
                .create_order()
                .body(flat_create_request())
                .send()
                .await,
            422,
        );
        let on_validate = error_body(
            client
                .validate_order()
                .body(seed_validate_request())
                .send()
                .await,
            422,
        );

        for body in [on_create, on_validate] {
            assert_eq!(body.status, None);
            assert_eq!(
                body.detail.as_deref().map(HttpErrorCode::from),
                Some(HttpErrorCode::LoginRequired)
            );
            assert_eq!(
                body,
                types::HttpError {
                    detail: Some("LOGIN_REQUIRED".to_owned()),
                    ..Default::default()
                }
            );
        }
        created.assert_async().await;
        validated.assert_async().await;
    }

    /// A 400 on validation that carries the problems instead of a 200.
    #[tokio::test]
    async fn a_400_may_carry_problems() {
        let server = MockServer::start_async().await;
        let mock = server.validate_order(|when, then| {
            json_call(when.into_inner());
            json_status(then.into_inner(), 400, ERROR_PROBLEMS);
        });

        let body = error_body(
            client(&server)
                .validate_order()
                .body(seed_validate_request())
                .send()
                .await,
            400,
        );

        let problems = body.problems.expect("problems on a 400");
        assert_eq!(problems[0].problem, ProblemCode::NotAvailableProduct);
        assert_eq!(
            problems[0].more_details,
            Some(json!({"reason": "unknown product Tagret"}))
        );
        mock.assert_async().await;
    }

    /// `status` as a string code, and the `error`/`error_code` fields of some answers.
    #[tokio::test]
    async fn a_string_status_and_error_codes_are_kept() {
        let server = MockServer::start_async().await;
        let mock = server.get_price(|when, then| {
            json_call(when.brand_name("Amazon.com").into_inner());
            json_status(
                then.into_inner(),
                400,
                r#"{"status": "BAD_REQUEST", "detail": "INVALID_DENOMINATION",
                    "error": "face value not sold", "error_code": "E1001"}"#,
            );
        });

        let body = error_body(
            client(&server)
                .get_price()
                .brand_name("Amazon.com")
                .country_code("US")
                .face_value("7")
                .coin("USDC")
                .send()
                .await,
            400,
        );

        assert_eq!(
            body.status,
            Some(HttpErrorStatus::String("BAD_REQUEST".to_owned()))
        );
        assert_eq!(body.status.unwrap().to_string(), "BAD_REQUEST");
        assert_eq!(
            body.detail.as_deref().map(ProblemCode::from),
            Some(ProblemCode::InvalidDenomination)
        );
        assert_eq!(body.error.as_deref(), Some("face value not sold"));
        assert_eq!(body.error_code.as_deref(), Some("E1001"));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn an_unknown_partner_is_a_401_error_response() {
        let server = MockServer::start_async().await;
        let mock = server.list_payment_vias(|when, then| {
            when.into_inner()
                .header("x-cr-application", "crp_revoked_000")
                .header_missing("api-version");
            json_status(
                then.into_inner(),
                401,
                r#"{"status": 401, "detail": "Unknown partner application"}"#,
            );
        });

        let client = Client::with_partner(
            &server.base_url(),
            &PartnerHeaders::new("crp_revoked_000", APP_VERSION),
        )
        .unwrap();
        let result = client.list_payment_vias().send().await;

        assert!(!result.as_ref().expect_err("401 is an error").is_retryable());
        let body = error_body(result, 401);
        assert_eq!(
            (body.status.clone(), body.detail.as_deref()),
            (Some(401.into()), Some("Unknown partner application"))
        );
        assert_eq!(
            HttpErrorCode::from(body.detail.unwrap()),
            HttpErrorCode::Unknown("Unknown partner application".to_owned())
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn an_unknown_order_is_a_404_error_response() {
        let server = MockServer::start_async().await;
        let not_found = types::HttpError {
            status: Some(404.into()),
            detail: Some("ORDER_NOT_FOUND".to_owned()),
            more_details: Some(json!({"orderId": "ord_missing000"})),
            ..Default::default()
        };
        let mock = server.get_order(|when, then| {
            json_call(when.order_id("ord_missing000").into_inner());
            then.not_found(&not_found);
        });

        let body = error_body(
            client(&server)
                .get_order()
                .order_id("ord_missing000")
                .send()
                .await,
            404,
        );

        assert_eq!(body.detail.as_deref(), Some("ORDER_NOT_FOUND"));
        assert_eq!(
            body.more_details,
            Some(json!({"orderId": "ord_missing000"}))
        );
        assert_eq!(body, not_found);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn a_refused_order_is_a_422_carrying_the_problems() {
        let server = MockServer::start_async().await;
        let mock = server.create_order(|when, then| {
            json_call(when.body(&seed_create_request()).into_inner());
            json_status(
                then.into_inner(),
                422,
                r#"{
                  "status": 422,
                  "detail": "ORDER_REFUSED",
                  "problems": [
                    {"problem": "MAXIMUM_AMOUNT_PER_ORDER_EXCEEDED", "moreDetails": {"max": "2500"}},
                    {"problem": "LOGIN_REQUIRED"}
                  ]
                }"#,
            );
        });

        let body = error_body(
            client(&server)
                .create_order()
                .body(seed_create_request())
                .send()
                .await,
            422,
        );

        assert_eq!(body.detail.as_deref(), Some("ORDER_REFUSED"));
        let problems = body.problems.expect("problems on a refused order");
        assert_eq!(
            problems
                .iter()
                .map(|p| p.problem.clone())
                .collect::<Vec<_>>(),
            [
                ProblemCode::MaximumAmountPerOrderExceeded,
                ProblemCode::LoginRequired
            ]
        );
        assert_eq!(problems[0].more_details, Some(json!({"max": "2500"})));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn rate_limit_is_a_429_with_a_readable_retry_after() {
        let server = MockServer::start_async().await;
        let mock = server.get_price(|when, then| {
            json_call(when.brand_name("Amazon.com").into_inner());
            then.into_inner()
                .status(429)
                .header("content-type", "application/json")
                .header("Retry-After", "1")
                .body(r#"{"status": 429, "detail": "Too Many Requests"}"#);
        });

        let err = client(&server)
            .get_price()
            .brand_name("Amazon.com")
            .country_code("US")
            .face_value("50")
            .coin("USDC")
            .send()
            .await
            .expect_err("429 is an error");

        // 429 is left undeclared by the generator so proxies' bodies cannot hide it:
        // status, Retry-After and body all stay readable.
        assert!(err.is_retryable());
        let Error::UnexpectedResponse(response) = err else {
            panic!("expected UnexpectedResponse, got {err:?}");
        };
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .expect("Retry-After kept on the error")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(Duration::from_secs(retry_after), Duration::from_secs(1));
        let body: types::HttpError = response.json().await.unwrap();
        assert_eq!(
            (body.status, body.detail.as_deref()),
            (
                Some(HttpErrorStatus::Integer(429)),
                Some("Too Many Requests")
            )
        );
        mock.assert_async().await;
    }

    /// 5xx answers are left undeclared by the generator: an HTML page from a proxy
    /// keeps its status instead of failing to decode as JSON.
    #[tokio::test]
    async fn a_500_html_page_keeps_its_status_and_body() {
        let server = MockServer::start_async().await;
        let html = "<html><head><title>500 Internal Server Error</title></head>\
                    <body><h1>Internal Server Error</h1></body></html>";
        let mock = server.list_brands(|when, then| {
            json_call(when.country_code(&country("US")).into_inner());
            then.into_inner()
                .status(500)
                .header("content-type", "text/html; charset=utf-8")
                .body(html);
        });

        let err = client(&server)
            .list_brands()
            .country_code("US")
            .send()
            .await
            .expect_err("500 is an error");

        assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
        let Error::UnexpectedResponse(response) = err else {
            panic!("expected UnexpectedResponse, got {err:?}");
        };
        assert_eq!(response.text().await.unwrap(), html);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn a_500_with_a_json_body_is_readable_from_the_unexpected_response() {
        let server = MockServer::start_async().await;
        let mock = server.list_brands(|when, then| {
            json_call(when.country_code(&country("US")).into_inner());
            json_status(
                then.into_inner(),
                500,
                r#"{"status": 500, "detail": "Internal Server Error"}"#,
            );
        });

        let err = client(&server)
            .list_brands()
            .country_code("US")
            .send()
            .await
            .expect_err("500 is an error");

        assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
        let Error::UnexpectedResponse(response) = err else {
            panic!("expected UnexpectedResponse, got {err:?}");
        };
        let body: types::HttpError = response.json().await.unwrap();
        assert_eq!(body.detail.as_deref(), Some("Internal Server Error"));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn an_undocumented_504_is_an_unexpected_response_with_its_body() {
        let server = MockServer::start_async().await;
        let html = "<html><body><h1>504 Gateway Time-out</h1></body></html>";
        let mock = server.get_order(|when, then| {
            json_call(when.order_id(ORDER_ID).into_inner());
            then.into_inner()
                .status(504)
                .header("content-type", "text/html")
                .body(html);
        });

        let err = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect_err("504 is an error");

        assert_eq!(err.status().map(|s| s.as_u16()), Some(504));
        assert!(err.is_retryable());
        let Error::UnexpectedResponse(response) = err else {
            panic!("expected UnexpectedResponse, got {err:?}");
        };
        assert_eq!(response.status(), 504);
        assert_eq!(response.text().await.unwrap(), html);
        mock.assert_async().await;
    }

    /// A 2xx the spec does not declare for `create_order` (only 200 and 201 are) comes
    /// back as an unexpected response, with the created order still readable from it.
    #[tokio::test]
    async fn an_undeclared_202_on_create_order_keeps_the_order_readable() {
        let server = MockServer::start_async().await;
        let mock = server.create_order(|when, then| {
            json_call(when.into_inner());
            json_status(then.into_inner(), 202, ORDER_WAITING_FOR_PAYMENT);
        });

        let err = client(&server)
            .create_order()
            .body(flat_create_request())
            .send()
            .await
            .expect_err("202 is not declared");

        let Error::UnexpectedResponse(response) = err else {
            panic!("expected UnexpectedResponse, got {err:?}");
        };
        assert_eq!(response.status(), 202);
        // The order is still readable from the body.
        let order: types::Order = response.json().await.unwrap();
        assert_eq!(order.order_id.as_deref(), Some(ORDER_ID));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn malformed_json_on_200_is_an_invalid_response_payload() {
        let server = MockServer::start_async().await;
        let truncated = r#"{"order_id": "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f", "order_state": "WaitingForPayment", "coin_amount": "20.24"#;
        let mock = server.create_order(|when, then| {
            json_call(when.into_inner());
            json_ok(then.into_inner(), truncated);
        });

        let err = client(&server)
            .create_order()
            .body(flat_create_request())
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

    /// Nothing in an order is required, but what is there must have its type: a
    /// non-numeric epoch time or a numeric state is an invalid payload, bytes kept.
    #[tokio::test]
    async fn an_order_field_of_the_wrong_type_is_an_invalid_response_payload() {
        for (body, named) in [
            (
                r#"{"order_id": "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f", "created_at": "yesterday"}"#,
                "yesterday",
            ),
            (
                r#"{"order_id": "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f", "order_state": 3}"#,
                "OrderState",
            ),
            (
                r#"{"order_id": "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f", "deliveries": {"id": "x"}}"#,
                "sequence",
            ),
        ] {
            let server = MockServer::start_async().await;
            let mock = server.get_order(|when, then| {
                json_call(when.order_id(ORDER_ID).into_inner());
                json_ok(then.into_inner(), body);
            });

            let err = client(&server)
                .get_order()
                .order_id(ORDER_ID)
                .send()
                .await
                .expect_err("a field of the wrong type is an error");

            let Error::InvalidResponsePayload(bytes, json_err) = err else {
                panic!("{body}: expected InvalidResponsePayload, got {err:?}");
            };
            assert_eq!(&bytes[..], body.as_bytes());
            assert!(json_err.is_data(), "{json_err}");
            assert!(json_err.to_string().contains(named), "{json_err}");
            mock.assert_async().await;
        }
    }

    #[tokio::test]
    async fn connection_closed_after_accept_is_a_communication_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
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

        let client = Client::with_partner(&format!("http://{addr}"), &partner()).unwrap();
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
