//! Integration tests of the generated Cryptorefills client over real HTTP on 127.0.0.1.
//!
//! Every test starts an `httpmock` server (or, where the wire itself matters, a bare
//! `TcpListener`), points `Client::with_partner` at it and checks both sides of the
//! exchange: what the client sends (method, path, query, partner headers, JSON body) and
//! what it makes of the answer (decoded values, open enums, money, error variants).
//!
//! Response bodies are raw JSON text (not `serde_json::Value`) so that the exact bytes on
//! the wire reach the client: numbers such as `50.000`, unknown fields, `null`s.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use cryptorefills::mock::MockServerExt;
use cryptorefills::types::{self, HttpErrorCode, OrderState, ProblemCode, ProductKind};
use cryptorefills::{Client, Error, PartnerHeaders};
use futures::StreamExt;
use httpmock::{HttpMockRequest, Method, MockServer, Then, When};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const PARTNER_ID: &str = "crp_live_5b7e21a9f04c";
const APP_VERSION: &str = "2.4.1";
const COUNTRY: &str = "DE";

const ORDER_ID: &str = "ord_abc123xyz";
const SOLANA_WALLET: &str = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU";

/// Seed request body of `validate_order`.
const SEED_VALIDATE_ORDER_REQUEST: &str =
    include_str!("../../../specs/cryptorefills/examples/validate_order.request.json");
/// Seed request body of `create_order`.
const SEED_CREATE_ORDER_REQUEST: &str =
    include_str!("../../../specs/cryptorefills/examples/create_order.request.json");

/// The order `create_order` answers: waiting for 100.352814 USDC on Solana.
const ORDER_WAITING_FOR_PAYMENT: &str = r#"{
  "id": "ord_abc123xyz",
  "status": "WaitingForPayment",
  "wallet_address": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU",
  "coin_amount": "100.352814",
  "coin": "USDC",
  "network": "Solana",
  "payment_via": "USER_WALLET",
  "created_at": "2025-06-02T14:05:11Z",
  "expires_at": "2025-06-02T14:35:11Z",
  "deliveries": [
    {
      "kind": "giftcard",
      "quantity": 1,
      "deliverable": {
        "brand_name": "Airbnb",
        "country_code": "US",
        "denomination": "100",
        "localized_denomination": "$100",
        "beneficiary_account": "END_USER_EMAIL"
      },
      "codes": null
    }
  ],
  "totals": {
    "coin": "USDC",
    "coin_amount": "100.352814",
    "fiat_currency": "USD",
    "fiat_amount": "100.00",
    "discount_amount": "0"
  }
}"#;

/// The same order once delivered: state `Done`, gift card code and PIN present.
const ORDER_DONE: &str = r#"{
  "id": "ord_abc123xyz",
  "status": "Done",
  "wallet_address": null,
  "coin_amount": "100.352814",
  "coin": "USDC",
  "network": "Solana",
  "payment_via": "USER_WALLET",
  "created_at": "2025-06-02T14:05:11Z",
  "expires_at": null,
  "deliveries": [
    {
      "kind": "giftcard",
      "quantity": 1,
      "deliverable": {
        "brand_name": "Airbnb",
        "country_code": "US",
        "denomination": "100",
        "localized_denomination": "$100",
        "beneficiary_account": "END_USER_EMAIL"
      },
      "codes": [
        {
          "code": "AIRB-7K3D-QW9P-2MXT",
          "pin": "4821",
          "url": "https://www.airbnb.com/giftcards/redeem",
          "expires_at": null
        }
      ]
    }
  ],
  "totals": {
    "coin": "USDC",
    "coin_amount": "100.352814",
    "fiat_currency": "USD",
    "fiat_amount": "100.00"
  }
}"#;

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
    when.header("x-cr-application", PARTNER_ID)
        .header("x-cr-version", APP_VERSION)
        .header("x-country-iso-code", COUNTRY)
        .is_true(|req| {
            ["x-cr-application", "x-cr-version", "x-country-iso-code"]
                .iter()
                .all(|name| header_count(req, name) == 1)
        })
        .header_missing("api-version")
        .header_prefix("user-agent", "cryptorefills-rs/")
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

fn seed_validate_request() -> types::ValidateOrderRequest {
    serde_json::from_str(SEED_VALIDATE_ORDER_REQUEST).expect("seed validate request decodes")
}

fn seed_create_request() -> types::CreateOrderRequest {
    serde_json::from_str(SEED_CREATE_ORDER_REQUEST).expect("seed create request decodes")
}

// ---------------------------------------------------------------------------------------
// 1. Each operation once, with a realistic payload
// ---------------------------------------------------------------------------------------

mod happy_path {
    use super::*;

    #[tokio::test]
    async fn list_payment_vias_decodes_usdc_on_solana_and_its_limits() {
        let server = MockServer::start_async().await;
        let mock = server.list_payment_vias(|when, then| {
            no_query(json_call(when.into_inner())).path("/v3/payment_vias");
            json_ok(
                then.into_inner(),
                r#"[
                  {
                    "coin": "USDC",
                    "network": "Solana",
                    "payment_via": "USER_WALLET",
                    "name": "USDC (Solana)",
                    "coin_name": "USD Coin",
                    "network_name": "Solana",
                    "logo_url": "https://cdn.cryptorefills.com/coins/usdc.svg",
                    "min_amount": "1.00",
                    "max_amount": "10000"
                  },
                  {
                    "coin": "USDT",
                    "network": "Ethereum",
                    "payment_via": "USER_WALLET",
                    "coin_name": "Tether USD",
                    "network_name": "Ethereum",
                    "min_amount": 5,
                    "max_amount": 2500.5
                  },
                  {"coin": "USDC", "network": "Base", "payment_via": "USER_WALLET"}
                ]"#,
            );
        });

        let response = client(&server)
            .list_payment_vias()
            .send()
            .await
            .expect("list_payment_vias succeeds");

        assert_eq!(response.status(), 200);
        let vias = response.into_inner();
        assert_eq!(vias.len(), 3);
        let usdc = &vias[0];
        assert_eq!(
            (
                usdc.coin.as_str(),
                usdc.network.as_deref(),
                usdc.payment_via.as_str()
            ),
            ("USDC", Some("Solana"), "USER_WALLET")
        );
        assert_eq!(usdc.name.as_deref(), Some("USDC (Solana)"));
        assert_eq!(usdc.coin_name.as_deref(), Some("USD Coin"));
        assert_eq!(usdc.network_name.as_deref(), Some("Solana"));
        assert_eq!(
            usdc.logo_url.as_deref(),
            Some("https://cdn.cryptorefills.com/coins/usdc.svg")
        );
        assert_eq!(usdc.min_amount, Some(dec("1.00")));
        assert_eq!(usdc.min_amount.unwrap().to_string(), "1.00");
        assert_eq!(usdc.max_amount, Some(dec("10000")));
        // Limits sent as JSON numbers.
        let usdt = &vias[1];
        assert_eq!(usdt.coin, "USDT");
        assert_eq!(usdt.network.as_deref(), Some("Ethereum"));
        assert_eq!(usdt.min_amount, Some(Decimal::from(5)));
        assert_eq!(usdt.max_amount, Some(dec("2500.5")));
        // Only the required fields.
        let base = &vias[2];
        assert_eq!(base.network.as_deref(), Some("Base"));
        assert_eq!((base.name.as_deref(), base.min_amount), (None, None));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn list_brands_sends_the_country_code_and_decodes_the_brands() {
        let server = MockServer::start_async().await;
        let mock = server.list_brands(|when, then| {
            json_call(when.country_code(&country("US")).into_inner())
                .path("/v2/brands")
                .is_true(|req| {
                    req.query_params() == [("country_code".to_owned(), "US".to_owned())]
                });
            json_ok(
                then.into_inner(),
                r#"[
                  {
                    "name": "Airbnb",
                    "family_name": "airbnb",
                    "country_code": "US",
                    "kind": "giftcard",
                    "categories": ["Travel", "Experiences"],
                    "logo_url": "https://cdn.cryptorefills.com/logos_v2/airbnb.webp",
                    "logo_base_url": "https://cdn.cryptorefills.com/logos_v2/airbnb"
                  },
                  {
                    "name": "T-Mobile US",
                    "family_name": "t-mobile",
                    "country_code": "US",
                    "kind": "mobile_recharge"
                  },
                  {
                    "name": "eSIM USA",
                    "family_name": "esim",
                    "kind": "esim",
                    "logo_base_url": "https://cdn.cryptorefills.com/logos_v2/esim"
                  }
                ]"#,
            );
        });

        let brands = client(&server)
            .list_brands()
            .country_code("US")
            .send()
            .await
            .expect("list_brands succeeds")
            .into_inner();

        assert_eq!(brands.len(), 3);
        let airbnb = &brands[0];
        assert_eq!(airbnb.name, "Airbnb");
        assert_eq!(airbnb.family_name.as_deref(), Some("airbnb"));
        assert_eq!(airbnb.country_code.as_deref(), Some("US"));
        assert_eq!(airbnb.kind, Some(ProductKind::Giftcard));
        assert_eq!(airbnb.categories, ["Travel", "Experiences"]);
        assert_eq!(
            airbnb.logo_base_url.as_deref(),
            Some("https://cdn.cryptorefills.com/logos_v2/airbnb")
        );
        assert_eq!(brands[1].kind, Some(ProductKind::MobileRecharge));
        assert!(brands[1].categories.is_empty());
        assert_eq!(brands[2].kind, Some(ProductKind::Esim));
        assert_eq!(brands[2].country_code, None);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn get_homepage_sends_the_country_code_and_decodes_the_sections() {
        let server = MockServer::start_async().await;
        let mock = server.get_homepage(|when, then| {
            json_call(when.country_code(&country("US")).into_inner()).path("/v2/homepage");
            json_ok(
                then.into_inner(),
                r#"{
                  "sections": [
                    {
                      "title": "Trending",
                      "brands": [
                        {"name": "Airbnb", "family_name": "airbnb", "kind": "giftcard"},
                        {"name": "Steam", "family_name": "steam", "kind": "giftcard"}
                      ]
                    },
                    {
                      "title": "Stay connected",
                      "brands": [{"name": "eSIM USA", "kind": "esim"}]
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
            .map(|b| b.name.as_str())
            .collect();
        assert_eq!(trending, ["Airbnb", "Steam"]);
        assert_eq!(homepage.sections[1].brands[0].kind, Some(ProductKind::Esim));
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
                .family_name("airbnb")
                .coin("USDC")
                .lang("en");
            json_call(when.into_inner())
                .path("/v5/products/country/US")
                .is_true(|req| req.query_params().len() == 3);
            json_ok(
                then.into_inner(),
                r#"[
                  {
                    "brand_name": "Airbnb",
                    "family_name": "airbnb",
                    "country_code": "US",
                    "kind": "giftcard",
                    "name": "Airbnb US",
                    "description": "Gift card for stays and experiences on Airbnb.",
                    "currency": "USD",
                    "coin": "USDC",
                    "denominations": [
                      {"value": "25", "localized_value": "$25", "coin_amount": "25.088204"},
                      {"value": "100", "localized_value": "$100", "coin_amount": "100.352814"}
                    ],
                    "logo_url": "https://cdn.cryptorefills.com/logos_v2/airbnb.webp",
                    "logo_base_url": "https://cdn.cryptorefills.com/logos_v2/airbnb"
                  }
                ]"#,
            );
        });

        let products = client(&server)
            .list_products()
            .country_code("US")
            .family_name("airbnb")
            .coin("USDC")
            .lang("en")
            .send()
            .await
            .expect("list_products succeeds")
            .into_inner();

        assert_eq!(products.len(), 1);
        let airbnb = &products[0];
        assert_eq!(airbnb.brand_name, "Airbnb");
        assert_eq!(airbnb.kind, Some(ProductKind::Giftcard));
        assert_eq!(airbnb.currency.as_deref(), Some("USD"));
        assert_eq!(airbnb.coin.as_deref(), Some("USDC"));
        assert_eq!(airbnb.name.as_deref(), Some("Airbnb US"));
        assert_eq!(airbnb.range, None);
        let hundred = &airbnb.denominations[1];
        assert_eq!(hundred.value.as_deref(), Some("100"));
        assert_eq!(hundred.localized_value.as_deref(), Some("$100"));
        assert_eq!(hundred.coin_amount, Some(dec("100.352814")));
        assert_eq!(airbnb.denominations[0].coin_amount, Some(dec("25.088204")));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn list_products_without_filters_decodes_mobile_recharge_and_esim_products() {
        let server = MockServer::start_async().await;
        let mock = server.list_products(|when, then| {
            let when = when
                .country_code(&country("US"))
                .family_name(None)
                .coin(None)
                .lang(None);
            no_query(json_call(when.into_inner())).path("/v5/products/country/US");
            json_ok(
                then.into_inner(),
                r#"[
                  {
                    "brand_name": "T-Mobile US",
                    "family_name": "t-mobile",
                    "country_code": "US",
                    "kind": "mobile_recharge",
                    "name": "T-Mobile Prepaid Refill",
                    "currency": "USD",
                    "coin": "USDC",
                    "denominations": [],
                    "range": {"min": 10, "max": "100.00", "step": 0.5}
                  },
                  {
                    "brand_name": "eSIM USA",
                    "family_name": "esim",
                    "country_code": "US",
                    "kind": "esim",
                    "name": "USA 10 GB / 30 days",
                    "currency": "USD",
                    "coin": "USDC",
                    "denominations": [
                      {"value": "19", "localized_value": "$19.00", "coin_amount": 19.066035}
                    ]
                  }
                ]"#,
            );
        });

        let products = client(&server)
            .list_products()
            .country_code("US")
            .send()
            .await
            .expect("list_products succeeds")
            .into_inner();

        let kinds: Vec<_> = products.iter().map(|p| p.kind.clone()).collect();
        assert_eq!(
            kinds,
            [Some(ProductKind::MobileRecharge), Some(ProductKind::Esim)]
        );
        let topup = &products[0];
        assert_eq!(topup.brand_name, "T-Mobile US");
        assert!(topup.denominations.is_empty());
        let range = topup.range.as_ref().expect("custom amount range");
        assert_eq!(range.min, Some(Decimal::from(10)));
        assert_eq!(range.max, Some(dec("100.00")));
        assert_eq!(range.step, Some(dec("0.5")));
        let esim = &products[1];
        assert_eq!(esim.name.as_deref(), Some("USA 10 GB / 30 days"));
        assert_eq!(esim.range, None);
        assert_eq!(esim.denominations[0].coin_amount, Some(dec("19.066035")));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn get_price_sends_the_four_query_parameters_and_decodes_the_coin_amount() {
        let server = MockServer::start_async().await;
        let mock = server.get_price(|when, then| {
            let when = when
                .brand_name("Airbnb")
                .country_code(&country("US"))
                .face_value("100")
                .coin("USDC");
            json_call(when.into_inner())
                .path("/v4/products/price")
                .is_true(|req| req.query_params().len() == 4);
            json_ok(
                then.into_inner(),
                r#"{
                  "brand_name": "Airbnb",
                  "country_code": "US",
                  "face_value": 100,
                  "currency": "USD",
                  "coin": "USDC",
                  "coin_amount": "100.352814",
                  "rate": "1.00352814"
                }"#,
            );
        });

        let price = client(&server)
            .get_price()
            .brand_name("Airbnb")
            .country_code("US")
            .face_value("100")
            .coin("USDC")
            .send()
            .await
            .expect("get_price succeeds")
            .into_inner();

        assert_eq!(price.coin_amount, dec("100.352814"));
        assert_eq!(price.coin_amount.to_string(), "100.352814");
        assert_eq!(price.face_value, Some(Decimal::from(100)));
        assert_eq!(price.rate, Some(dec("1.00352814")));
        assert_eq!(price.brand_name.as_deref(), Some("Airbnb"));
        assert_eq!(price.currency.as_deref(), Some("USD"));
        assert_eq!(price.coin.as_deref(), Some("USDC"));
        assert_eq!(price.country_code.as_deref(), Some("US"));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn validate_order_posts_the_seed_body_and_null_problems_mean_valid() {
        let server = MockServer::start_async().await;
        let seed: Value = serde_json::from_str(SEED_VALIDATE_ORDER_REQUEST).unwrap();
        let mock = server.validate_order(|when, then| {
            json_call(when.into_inner())
                .path("/v5/orders/validations")
                .header("content-type", "application/json")
                .json_body(seed);
            json_ok(then.into_inner(), r#"{"problems": null}"#);
        });

        let request = seed_validate_request();
        assert_eq!(request.email, "END_USER_EMAIL");
        assert_eq!(request.payment.type_, types::PaymentType::Via);
        assert_eq!(request.payment.network, None);
        assert_eq!(request.deliveries[0].denomination, "100 USD");
        assert_eq!(request.deliveries[0].country_code.as_str(), "US");

        let result = client(&server)
            .validate_order()
            .body(request)
            .send()
            .await
            .expect("validate_order succeeds");

        assert_eq!(result.status(), 200);
        assert_eq!(result.into_inner().problems, None);
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn create_order_posts_the_seed_body_and_decodes_the_order_waiting_for_payment() {
        let server = MockServer::start_async().await;
        let seed: Value = serde_json::from_str(SEED_CREATE_ORDER_REQUEST).unwrap();
        let mock = server.create_order(|when, then| {
            json_call(when.into_inner())
                .path("/v5/orders")
                .header("content-type", "application/json")
                .json_body(seed);
            json_ok(then.into_inner(), ORDER_WAITING_FOR_PAYMENT);
        });

        let request = seed_create_request();
        assert_eq!(request.deliveries[0].kind, ProductKind::Giftcard);
        assert_eq!(request.deliveries[0].quantity.get(), 1);
        assert_eq!(request.payment.network.as_deref(), Some("Solana"));
        assert_eq!(request.user.has_accepted_newsletter, Some(true));

        let order = client(&server)
            .create_order()
            .body(request)
            .send()
            .await
            .expect("create_order succeeds")
            .into_inner();

        assert_eq!(order.id, ORDER_ID);
        assert_eq!(order.status, OrderState::WaitingForPayment);
        assert_eq!(order.wallet_address.as_deref(), Some(SOLANA_WALLET));
        assert_eq!(order.coin_amount, Some(dec("100.352814")));
        assert_eq!(order.coin.as_deref(), Some("USDC"));
        assert_eq!(order.network.as_deref(), Some("Solana"));
        assert_eq!(order.payment_via.as_deref(), Some("USER_WALLET"));
        assert_eq!(order.created_at.as_deref(), Some("2025-06-02T14:05:11Z"));
        assert_eq!(order.expires_at.as_deref(), Some("2025-06-02T14:35:11Z"));
        let delivery = &order.deliveries[0];
        assert_eq!(delivery.kind, Some(ProductKind::Giftcard));
        assert_eq!(delivery.quantity, Some(1));
        assert_eq!(delivery.codes, None, "no codes before payment");
        let deliverable = delivery.deliverable.as_ref().unwrap();
        assert_eq!(deliverable.brand_name.as_deref(), Some("Airbnb"));
        assert_eq!(deliverable.denomination.as_deref(), Some("100"));
        assert_eq!(deliverable.localized_denomination.as_deref(), Some("$100"));
        assert_eq!(
            deliverable
                .beneficiary_account
                .as_deref()
                .map(String::as_str),
            Some("END_USER_EMAIL")
        );
        let totals = order.totals.as_ref().unwrap();
        assert_eq!(totals.coin_amount, Some(dec("100.352814")));
        assert_eq!(totals.fiat_amount, Some(dec("100.00")));
        assert_eq!(totals.fiat_currency.as_deref(), Some("USD"));
        assert_eq!(totals.discount_amount, Some(Decimal::ZERO));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn get_order_decodes_a_done_order_with_its_delivered_codes() {
        let server = MockServer::start_async().await;
        let mock = server.get_order(|when, then| {
            json_call(when.order_id(ORDER_ID).into_inner()).path("/v5/orders/ord_abc123xyz");
            json_ok(then.into_inner(), ORDER_DONE);
        });

        let order = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("get_order succeeds")
            .into_inner();

        assert_eq!(order.id, ORDER_ID);
        assert_eq!(order.status, OrderState::Done);
        // `null` for nullable fields decodes as None.
        assert_eq!(order.wallet_address, None);
        assert_eq!(order.expires_at, None);
        let codes = order.deliveries[0].codes.as_ref().expect("codes once Done");
        assert_eq!(codes.len(), 1);
        assert_eq!(codes[0].code.as_deref(), Some("AIRB-7K3D-QW9P-2MXT"));
        assert_eq!(codes[0].pin.as_deref(), Some("4821"));
        assert_eq!(
            codes[0].url.as_deref(),
            Some("https://www.airbnb.com/giftcards/redeem")
        );
        assert_eq!(codes[0].expires_at, None);
        let totals = order.totals.unwrap();
        assert_eq!(totals.discount_amount, None);
        assert_eq!(totals.coin_amount, Some(dec("100.352814")));
        mock.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// 2. validate_order outcomes
// ---------------------------------------------------------------------------------------

mod validation {
    use super::*;

    #[tokio::test]
    async fn several_problems_come_back_at_once_with_their_more_details() {
        let server = MockServer::start_async().await;
        let mock = server.validate_order(|when, then| {
            json_call(when.into_inner()).is_true(|req| body_json(req)["payment"]["coin"] == "USDC");
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
                    {"problem": "NOT_ALLOWED_PAYMENT_VIA", "moreDetails": ["USER_WALLET"]},
                    {"problem": "OUT_OF_STOCK"}
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

        let codes: Vec<_> = problems.iter().map(|p| p.problem.clone()).collect();
        assert_eq!(
            codes,
            [
                ProblemCode::InvalidBeneficiaryAccount,
                ProblemCode::UnsupportedProtocolCoinCombination,
                ProblemCode::NotAllowedPaymentVia,
                ProblemCode::OutOfStock,
            ]
        );
        assert_eq!(
            problems[0].more_details,
            Some(json!({"beneficiary_account": "END_USER_EMAIL", "expected": "email"}))
        );
        let supported = &problems[1].more_details.as_ref().unwrap()["supported"];
        assert_eq!(supported[0], json!({"protocol": "Solana", "coin": "USDC"}));
        assert_eq!(supported.as_array().map(Vec::len), Some(2));
        assert_eq!(problems[2].more_details, Some(json!(["USER_WALLET"])));
        assert_eq!(problems[3].more_details, None);
        assert_eq!(
            problems[1].problem.as_str(),
            "UNSUPPORTED_PROTOCOL_COIN_COMBINATION"
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn an_unknown_problem_code_decodes_as_unknown_next_to_known_ones() {
        let server = MockServer::start_async().await;
        let mock = server.validate_order(|when, then| {
            json_call(when.into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "problems": [
                    {"problem": "COUPON_NOT_VALID_FOR_PAYMENT_VIA", "moreDetails": {"coupon": "SUMMER25"}},
                    {"problem": "COUPON_EXPIRED"}
                  ]
                }"#,
            );
        });

        let mut request = seed_validate_request();
        request.coupon = Some("SUMMER25".to_owned());
        let problems = client(&server)
            .validate_order()
            .body(request)
            .send()
            .await
            .expect("an unknown problem code must not fail decoding")
            .into_inner()
            .problems
            .unwrap();

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
    async fn absent_and_empty_problems_both_mean_valid() {
        let server = MockServer::start_async().await;
        let absent = server
            .mock_async(|when, then| {
                json_call(when)
                    .method(Method::POST)
                    .path("/v5/orders/validations")
                    .is_true(|req| body_json(req)["lang"] == "en");
                json_ok(then, "{}");
            })
            .await;
        let empty = server
            .mock_async(|when, then| {
                json_call(when)
                    .method(Method::POST)
                    .path("/v5/orders/validations")
                    .is_true(|req| body_json(req)["lang"] == "de");
                json_ok(then, r#"{"problems": []}"#);
            })
            .await;
        let client = client(&server);

        let result = client
            .validate_order()
            .body(seed_validate_request())
            .send()
            .await
            .unwrap()
            .into_inner();
        assert_eq!(result.problems, None);

        let mut german = seed_validate_request();
        german.lang = Some("de".to_owned());
        let result = client
            .validate_order()
            .body(german)
            .send()
            .await
            .unwrap()
            .into_inner();
        assert_eq!(result.problems, Some(vec![]));

        absent.assert_async().await;
        empty.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// 3. subscribe_order: the raw Server-Sent Events stream
// ---------------------------------------------------------------------------------------

mod sse {
    use super::*;

    /// Two `message` events carrying order JSON, a keep-alive comment, then `stop`.
    const SSE_BODY: &str = concat!(
        ": connected\n",
        "\n",
        "event: message\n",
        "data: {\"id\":\"ord_abc123xyz\",\"status\":\"WaitingForPayment\",",
        "\"wallet_address\":\"7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU\",",
        "\"coin_amount\":\"100.352814\",\"coin\":\"USDC\",\"network\":\"Solana\"}\n",
        "\n",
        ": keep-alive\n",
        "\n",
        "event: message\n",
        "data: {\"id\":\"ord_abc123xyz\",\"status\":\"Done\",\"deliveries\":[{\"kind\":\"giftcard\",",
        "\"quantity\":1,\"codes\":[{\"code\":\"AIRB-7K3D-QW9P-2MXT\",\"pin\":\"4821\"}]}]}\n",
        "\n",
        "event: stop\n",
        "data: end\n",
        "\n",
    );

    async fn collect(stream: cryptorefills::ByteStream) -> String {
        let mut stream = stream.into_inner();
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.expect("stream chunk"));
        }
        String::from_utf8(out).expect("UTF-8 stream")
    }

    /// The `data` of each `message` event, found the simple way (one `data` line per
    /// event in this fixture): enough to check the payloads survive, not an SSE parser.
    fn message_payloads(text: &str) -> Vec<&str> {
        text.split("\n\n")
            .filter(|block| block.lines().any(|l| l == "event: message"))
            .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
            .collect()
    }

    #[tokio::test]
    async fn the_event_stream_arrives_byte_for_byte_with_comments_and_stop() {
        let server = MockServer::start_async().await;
        let mock = server.subscribe_order(|when, then| {
            partnered(when.order_id(ORDER_ID).into_inner())
                .path("/v5/orders/ord_abc123xyz/subscribe");
            then.into_inner()
                .status(200)
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(SSE_BODY);
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
        assert_eq!(text, SSE_BODY);
        assert!(text.contains("\n: keep-alive\n\n"));
        assert!(text.ends_with("event: stop\ndata: end\n\n"));

        // Each `message` payload is an `Order` as the spec says.
        let orders: Vec<types::Order> = message_payloads(&text)
            .into_iter()
            .map(|data| serde_json::from_str(data).expect("message data is an Order"))
            .collect();
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0].status, OrderState::WaitingForPayment);
        assert_eq!(orders[0].coin_amount, Some(dec("100.352814")));
        assert_eq!(orders[0].wallet_address.as_deref(), Some(SOLANA_WALLET));
        assert_eq!(orders[1].status, OrderState::Done);
        let codes = orders[1].deliveries[0].codes.as_ref().unwrap();
        assert_eq!(codes[0].code.as_deref(), Some("AIRB-7K3D-QW9P-2MXT"));
        mock.assert_async().await;
    }

    /// The spec tells callers to send `Accept: text/event-stream`; progenitor sets no
    /// `Accept` for it, so the crate's `pre` hook does.
    #[tokio::test]
    async fn subscribe_order_asks_for_an_event_stream() {
        let server = MockServer::start_async().await;
        let mock = server.subscribe_order(|when, then| {
            partnered(when.order_id(ORDER_ID).into_inner())
                .header("accept", "text/event-stream")
                .is_true(|req| header_count(req, "accept") == 1);
            then.into_inner()
                .status(200)
                .header("content-type", "text/event-stream")
                .body(SSE_BODY);
        });

        let response = client(&server)
            .subscribe_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("subscribe_order succeeds");
        assert_eq!(collect(response.into_inner()).await, SSE_BODY);
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
        const FIRST: &str =
            "event: message\ndata: {\"id\":\"ord_abc123xyz\",\"status\":\"PaymentStarted\"}\n\n";
        const SECOND: &str = ": keep-alive\n\nevent: stop\ndata: end\n\n";
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
            Some("GET /v5/orders/ord_abc123xyz/subscribe HTTP/1.1")
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
        assert!(get("api-version").is_empty(), "{head}");
    }

    #[tokio::test]
    async fn unknown_order_on_the_stream_is_a_404_error_response() {
        let server = MockServer::start_async().await;
        let mock = server.subscribe_order(|when, then| {
            partnered(when.order_id("ord_missing000").into_inner());
            then.into_inner()
                .status(404)
                .header("content-type", "application/json")
                .body(r#"{"status": 404, "detail": "ORDER_NOT_FOUND"}"#);
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
            (body.status, body.detail.as_str()),
            (Some(404), "ORDER_NOT_FOUND")
        );
        mock.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// 4. Decoding: open enums, unknown fields, money
// ---------------------------------------------------------------------------------------

mod decoding {
    use super::*;

    #[tokio::test]
    async fn an_unknown_order_state_is_kept_and_the_rest_of_the_order_decodes() {
        let server = MockServer::start_async().await;
        let mock = server.get_order(|when, then| {
            json_call(when.order_id(ORDER_ID).into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "id": "ord_abc123xyz",
                  "status": "PartiallyRefunded",
                  "coin_amount": "100.352814",
                  "coin": "USDC",
                  "deliveries": [{"kind": "giftcard", "quantity": 1, "codes": null}]
                }"#,
            );
        });

        let order = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect("an unknown state must not fail decoding")
            .into_inner();

        assert_eq!(
            order.status,
            OrderState::Unknown("PartiallyRefunded".to_owned())
        );
        assert!(order.status.is_unknown());
        assert_eq!(order.status.to_string(), "PartiallyRefunded");
        assert_eq!(order.id, ORDER_ID);
        assert_eq!(order.coin_amount, Some(dec("100.352814")));
        assert_eq!(order.deliveries[0].kind, Some(ProductKind::Giftcard));
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn an_unknown_product_kind_decodes_as_unknown_in_brands_and_products() {
        let server = MockServer::start_async().await;
        let brands_mock = server.list_brands(|when, then| {
            json_call(when.country_code(&country("US")).into_inner());
            json_ok(
                then.into_inner(),
                r#"[
                  {"name": "Xbox Game Pass", "kind": "subscription"},
                  {"name": "Airbnb", "kind": "giftcard"}
                ]"#,
            );
        });
        let products_mock = server.list_products(|when, then| {
            json_call(when.country_code(&country("US")).into_inner());
            json_ok(
                then.into_inner(),
                r#"[
                  {
                    "brand_name": "Xbox Game Pass",
                    "kind": "subscription",
                    "denominations": [{"value": "3 months", "coin_amount": "44.98"}]
                  }
                ]"#,
            );
        });
        let client = client(&server);

        let brands = client
            .list_brands()
            .country_code("US")
            .send()
            .await
            .expect("an unknown kind must not fail decoding")
            .into_inner();
        assert_eq!(
            brands[0].kind,
            Some(ProductKind::Unknown("subscription".to_owned()))
        );
        assert_eq!(brands[1].kind, Some(ProductKind::Giftcard));

        let products = client
            .list_products()
            .country_code("US")
            .send()
            .await
            .expect("an unknown kind must not fail decoding")
            .into_inner();
        let kind = products[0].kind.as_ref().unwrap();
        assert!(kind.is_unknown());
        assert_eq!(kind.as_str(), "subscription");
        assert_eq!(products[0].denominations[0].coin_amount, Some(dec("44.98")));

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
                  "id": "ord_abc123xyz",
                  "status": "Done",
                  "risk_score": 0.02,
                  "metadata": {"source": "partner_api", "tags": [1, 2, 3]},
                  "deliveries": [
                    {
                      "kind": "esim",
                      "quantity": 1,
                      "supplier_ref": null,
                      "deliverable": {
                        "brand_name": "eSIM USA",
                        "beneficiary_account": "END_USER_EMAIL",
                        "operator": {"name": "AT&T", "mcc": "310"}
                      },
                      "codes": [
                        {
                          "code": "LPA:1$smdp.example.net$K2-3JH6S-1FQ9ZW",
                          "url": "https://esim.example.net/activate/K2-3JH6S",
                          "iccid": "8901260123456789012",
                          "qr": {"format": "png"}
                        }
                      ]
                    }
                  ],
                  "totals": {"coin_amount": "19.066035", "fee_amount": "0.35", "fees": []}
                }"#,
            );
        });
        let validation_mock = server.validate_order(|when, then| {
            json_call(when.into_inner());
            json_ok(
                then.into_inner(),
                r#"{
                  "problems": [{"problem": "OUT_OF_STOCK", "severity": "error", "retry": false}],
                  "checked_at": "2025-06-02T14:05:00Z"
                }"#,
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
                      "brands": [{"name": "Airbnb", "popularity": 97, "badges": ["hot"]}]
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
        assert_eq!(order.status, OrderState::Done);
        let delivery = &order.deliveries[0];
        assert_eq!(delivery.kind, Some(ProductKind::Esim));
        assert_eq!(
            delivery.deliverable.as_ref().unwrap().brand_name.as_deref(),
            Some("eSIM USA")
        );
        let code = &delivery.codes.as_ref().unwrap()[0];
        assert_eq!(
            code.code.as_deref(),
            Some("LPA:1$smdp.example.net$K2-3JH6S-1FQ9ZW")
        );
        assert_eq!(code.pin, None);
        assert_eq!(order.totals.unwrap().coin_amount, Some(dec("19.066035")));

        let problems = client
            .validate_order()
            .body(seed_validate_request())
            .send()
            .await
            .expect("extra fields must be ignored")
            .into_inner()
            .problems
            .unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].problem, ProblemCode::OutOfStock);
        assert_eq!(problems[0].more_details, None);

        let homepage = client
            .get_homepage()
            .country_code("US")
            .send()
            .await
            .expect("extra fields must be ignored")
            .into_inner();
        assert_eq!(homepage.sections[0].brands[0].name, "Airbnb");

        order_mock.assert_async().await;
        validation_mock.assert_async().await;
        homepage_mock.assert_async().await;
    }

    /// A JSON *number* reaches `rust_decimal` through an `f64`: amounts of up to 15
    /// significant digits decode exactly; the number's trailing zeros are not kept.
    #[tokio::test]
    async fn money_decodes_exactly_from_strings_and_numbers() {
        let server = MockServer::start_async().await;
        let mock = server.list_products(|when, then| {
            json_call(when.country_code(&country("ID")).into_inner());
            json_ok(
                then.into_inner(),
                r#"[
                  {
                    "brand_name": "Telkomsel",
                    "kind": "mobile_recharge",
                    "denominations": [
                      {"value": "50000", "coin_amount": 3.052511},
                      {"value": "100000", "coin_amount": "6.105022"},
                      {"value": "50", "coin_amount": 50.000},
                      {"value": "0", "coin_amount": "0.000001"},
                      {"value": "big", "coin_amount": 1234567890123.45}
                    ],
                    "range": {"min": "0.10", "max": 999999999999.999, "step": 0.01}
                  }
                ]"#,
            );
        });

        let products = client(&server)
            .list_products()
            .country_code("ID")
            .send()
            .await
            .expect("list_products succeeds")
            .into_inner();

        let amounts: Vec<Decimal> = products[0]
            .denominations
            .iter()
            .map(|d| d.coin_amount.unwrap())
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
        let range = products[0].range.as_ref().unwrap();
        assert_eq!(range.min.unwrap().to_string(), "0.10");
        assert_eq!(range.max, Some(dec("999999999999.999")));
        assert_eq!(range.step, Some(dec("0.01")));
        mock.assert_async().await;
    }

    /// Country codes are pattern-checked in requests only: a lower-case code in a
    /// response still decodes.
    #[tokio::test]
    async fn a_lower_case_country_code_in_a_response_still_decodes() {
        let server = MockServer::start_async().await;
        let body = r#"{"brand_name": "Airbnb", "country_code": "us", "coin_amount": "100.352814"}"#;
        let mock = server.get_price(|when, then| {
            json_call(when.into_inner());
            json_ok(then.into_inner(), body);
        });

        let price = client(&server)
            .get_price()
            .brand_name("Airbnb")
            .country_code("US")
            .face_value("100")
            .coin("USDC")
            .send()
            .await
            .expect("a lower-case country code decodes")
            .into_inner();

        assert_eq!(price.country_code.as_deref(), Some("us"));
        assert_eq!(price.coin_amount, dec("100.352814"));
        mock.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// Client-side checks and partner headers
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
                json_ok(then, r#"{"id": "ord abc/1?", "status": "Created"}"#);
            })
            .await;

        let order = client(&server)
            .get_order()
            .order_id("ord abc/1?")
            .send()
            .await
            .expect("get_order succeeds")
            .into_inner();

        assert_eq!(order.id, "ord abc/1?");
        assert_eq!(order.status, OrderState::Created);
        mock.assert_async().await;
    }
}

// ---------------------------------------------------------------------------------------
// 5. Errors
// ---------------------------------------------------------------------------------------

mod errors {
    use super::*;

    /// An error status the spec declares, with a body of another shape.
    #[tokio::test]
    async fn an_error_body_of_another_shape_keeps_its_status() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.method(Method::GET)
                    .path(format!("/v5/orders/{ORDER_ID}"));
                then.status(404)
                    .header("content-type", "application/json")
                    .body(r#"{"message": "no such order"}"#);
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
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"message": "no such order"}"#
        );
        mock.assert_async().await;
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

    #[tokio::test]
    async fn a_suspended_coin_is_a_400_with_its_code_and_more_details() {
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
        request.payment.coin = "USDT".to_owned();
        request.payment.network = Some("Ethereum".to_owned());
        let err = client(&server)
            .validate_order()
            .body(request)
            .send()
            .await
            .expect_err("400 is an error");

        assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
        assert!(!err.is_retryable());
        let Error::ErrorResponse(response) = err else {
            panic!("expected ErrorResponse, got {err:?}");
        };
        assert_eq!(response.status(), 400);
        let body = response.into_inner();
        assert_eq!(body.status, Some(400));
        assert_eq!(body.detail, "SUSPENDED_COIN");
        assert_eq!(
            HttpErrorCode::from(body.detail.as_str()),
            HttpErrorCode::SuspendedCoin
        );
        assert_eq!(body.more_details, Some(json!({"coin": "USDT"})));
        assert_eq!(body.problems, None);
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
        let err = client
            .list_payment_vias()
            .send()
            .await
            .expect_err("401 is an error");

        assert!(!err.is_retryable());
        let Error::ErrorResponse(response) = err else {
            panic!("expected ErrorResponse, got {err:?}");
        };
        assert_eq!(response.status(), 401);
        let body = response.into_inner();
        assert_eq!(
            (body.status, body.detail.as_str()),
            (Some(401), "Unknown partner application")
        );
        assert_eq!(
            HttpErrorCode::from(body.detail),
            HttpErrorCode::Unknown("Unknown partner application".to_owned())
        );
        mock.assert_async().await;
    }

    #[tokio::test]
    async fn an_unknown_order_is_a_404_error_response() {
        let server = MockServer::start_async().await;
        let not_found = types::HttpError {
            status: Some(404),
            detail: "Order not found".to_owned(),
            more_details: Some(json!({"orderId": "ord_missing000"})),
            problems: None,
        };
        let mock = server.get_order(|when, then| {
            json_call(when.order_id("ord_missing000").into_inner());
            then.not_found(&not_found);
        });

        let err = client(&server)
            .get_order()
            .order_id("ord_missing000")
            .send()
            .await
            .expect_err("404 is an error");

        assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
        let Error::ErrorResponse(response) = err else {
            panic!("expected ErrorResponse, got {err:?}");
        };
        assert_eq!(response.status(), 404);
        let body = response.into_inner();
        assert_eq!(body.detail, "Order not found");
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

        let err = client(&server)
            .create_order()
            .body(seed_create_request())
            .send()
            .await
            .expect_err("422 is an error");

        let Error::ErrorResponse(response) = err else {
            panic!("expected ErrorResponse, got {err:?}");
        };
        assert_eq!(response.status(), 422);
        let body = response.into_inner();
        assert_eq!(body.detail, "ORDER_REFUSED");
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
            json_call(when.brand_name("Airbnb").into_inner());
            then.into_inner()
                .status(429)
                .header("content-type", "application/json")
                .header("Retry-After", "1")
                .body(r#"{"status": 429, "detail": "Too Many Requests"}"#);
        });

        let err = client(&server)
            .get_price()
            .brand_name("Airbnb")
            .country_code("US")
            .face_value("100")
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
            (body.status, body.detail.as_str()),
            (Some(429), "Too Many Requests")
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
        assert_eq!(body.detail, "Internal Server Error");
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

    #[tokio::test]
    async fn malformed_json_on_200_is_an_invalid_response_payload() {
        let server = MockServer::start_async().await;
        let truncated =
            r#"{"id": "ord_abc123xyz", "status": "WaitingForPayment", "coin_amount": "100.35"#;
        let mock = server.create_order(|when, then| {
            json_call(when.into_inner());
            json_ok(then.into_inner(), truncated);
        });

        let err = client(&server)
            .create_order()
            .body(seed_create_request())
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
    async fn an_order_without_its_required_status_is_an_invalid_response_payload() {
        let server = MockServer::start_async().await;
        let body = r#"{"id": "ord_abc123xyz", "wallet_address": "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"}"#;
        let mock = server.get_order(|when, then| {
            json_call(when.order_id(ORDER_ID).into_inner());
            json_ok(then.into_inner(), body);
        });

        let err = client(&server)
            .get_order()
            .order_id(ORDER_ID)
            .send()
            .await
            .expect_err("an order without status is an error");

        let Error::InvalidResponsePayload(bytes, json_err) = err else {
            panic!("expected InvalidResponsePayload, got {err:?}");
        };
        assert_eq!(&bytes[..], body.as_bytes());
        assert!(json_err.is_data(), "{json_err}");
        assert!(json_err.to_string().contains("status"), "{json_err}");
        mock.assert_async().await;
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
