//! The end user over real HTTP on 127.0.0.1: every Cryptorefills request made for an end
//! user carries their IP (`X-Forwarded-For`) and agent (`User-Agent`); without one,
//! requests carry the SDK's own agent and no `X-Forwarded-For`.

use std::time::Duration;

use futures::TryStreamExt;
use httpmock::prelude::*;
use httpmock::{HttpMockRequest, When};
use suppliers::config::CryptorefillsConfig;
use suppliers::model::{OrderStatus, SupplierId};
use suppliers::{BuyRequest, CatalogQuery, EndUser, Error, Journal, Suppliers};

const IP: &str = "2001:db8::7";
const AGENT: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36";
const ORDER_ID: &str = "2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f";
const PRODUCT: &str = "giftcard/Target/US/10 USD";

macro_rules! example {
    ($file:literal) => {
        include_str!(concat!("../../../specs/cryptorefills/examples/", $file))
    };
}

fn count(req: &HttpMockRequest, name: &str) -> usize {
    req.headers_vec()
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .count()
}

/// The end user's headers, once each, when there is one; else the SDK's own agent and
/// no `X-Forwarded-For`.
fn expect(when: When, end_user: bool) -> When {
    if end_user {
        when.header("x-forwarded-for", IP)
            .header("user-agent", AGENT)
            .is_true(|req| count(req, "x-forwarded-for") == 1 && count(req, "user-agent") == 1)
    } else {
        when.header_missing("x-forwarded-for")
            .header("user-agent", suppliers::USER_AGENT)
    }
}

/// Cryptorefills answering every call the facade makes, but only when the headers are as
/// `expect` says (httpmock answers 404 otherwise, which fails the call).
async fn cryptorefills(end_user: bool) -> MockServer {
    let server = MockServer::start_async().await;
    let json = |path: &'static str, method: httpmock::Method, body: &'static str| {
        let server = &server;
        async move {
            server
                .mock_async(|when, then| {
                    expect(when.method(method).path(path), end_user);
                    then.status(200)
                        .header("content-type", "application/json")
                        .body(body);
                })
                .await
        }
    };
    json("/v2/brands", GET, example!("list_brands.response.json")).await;
    json(
        "/v5/products/country/US",
        GET,
        example!("list_products.response.json"),
    )
    .await;
    json(
        "/v4/products/price",
        GET,
        example!("get_price.response.json"),
    )
    .await;
    json(
        "/v5/orders/validations",
        POST,
        example!("validate_order.problems_null.json"),
    )
    .await;
    json(
        "/v5/orders",
        POST,
        example!("create_order.waiting_for_payment.json"),
    )
    .await;
    server
        .mock_async(|when, then| {
            expect(
                when.method(GET)
                    .path(format!("/v5/orders/{ORDER_ID}/subscribe"))
                    .header("accept", "text/event-stream"),
                end_user,
            );
            then.status(200)
                .header("content-type", "text/event-stream")
                .body(example!("subscribe_order.stream.txt"));
        })
        .await;
    server
        .mock_async(|when, then| {
            expect(
                when.method(GET).path(format!("/v5/orders/{ORDER_ID}")),
                end_user,
            );
            then.status(200)
                .header("content-type", "application/json")
                .body(example!("get_order.done.json"));
        })
        .await;
    server
}

async fn facade(server: &MockServer) -> Suppliers {
    Suppliers::builder()
        .cryptorefills(CryptorefillsConfig::new("partner", "1.0.0", &server.base_url()).unwrap())
        .journal(Journal::in_memory().await.unwrap())
        .build()
        .unwrap()
}

fn purchase(end_user: Option<EndUser>) -> BuyRequest {
    let mut request = BuyRequest::new(PRODUCT, 1);
    request.email = Some("buyer@example.com".into());
    request.end_user = end_user;
    request
}

/// Every call the facade makes for a buyer: the catalog, validation, the purchase, then
/// the order, a quote and a wait through a facade scoped to them (or not scoped).
async fn every_call(suppliers: &Suppliers, end_user: Option<EndUser>) {
    let cr = suppliers.get(SupplierId::Cryptorefills).unwrap();
    let catalog: Vec<_> = cr
        .catalog(CatalogQuery {
            end_user: end_user.clone(),
            ..CatalogQuery::default()
        })
        .try_collect()
        .await
        .expect("catalog");
    assert!(catalog.iter().any(|p| p.id == PRODUCT), "{catalog:?}");
    cr.validate(&purchase(end_user.clone()))
        .await
        .expect("validate");
    let receipt = suppliers
        .buy(SupplierId::Cryptorefills, &purchase(end_user.clone()))
        .await
        .expect("buy");
    assert_eq!(receipt.order.id, ORDER_ID);

    let scoped = match end_user {
        Some(end_user) => suppliers.for_end_user(end_user),
        None => suppliers.clone(),
    };
    let cr = scoped.get(SupplierId::Cryptorefills).unwrap();
    assert_eq!(cr.order(ORDER_ID).await.expect("order").id, ORDER_ID);
    assert!(cr.quote(PRODUCT, "USDC").await.expect("quote").is_some());
    let done = cr
        .wait_for_order(ORDER_ID, Duration::from_secs(10))
        .await
        .expect("wait");
    assert_eq!(done.status, OrderStatus::Completed);
}

#[tokio::test]
async fn every_request_made_for_an_end_user_carries_their_ip_and_agent() {
    let server = cryptorefills(true).await;
    let suppliers = facade(&server).await;
    every_call(&suppliers, Some(EndUser::parse(IP, AGENT).unwrap())).await;
    // Nothing was answered 404 for a missing header: every call above succeeded.
}

#[tokio::test]
async fn without_an_end_user_requests_carry_the_sdk_agent_and_no_forwarded_ip() {
    let server = cryptorefills(false).await;
    let suppliers = facade(&server).await;
    every_call(&suppliers, None).await;
}

#[tokio::test]
async fn the_scoped_facade_leaves_the_original_unscoped() {
    let server = cryptorefills(false).await;
    let suppliers = facade(&server).await;
    let scoped = suppliers.for_end_user(EndUser::parse(IP, AGENT).unwrap());
    assert_eq!(
        scoped.cryptorefills().unwrap().end_user().map(EndUser::ip),
        Some(IP.parse().unwrap())
    );
    assert!(suppliers.cryptorefills().unwrap().end_user().is_none());
    let order = suppliers
        .get(SupplierId::Cryptorefills)
        .unwrap()
        .order(ORDER_ID)
        .await
        .expect("the unscoped facade sends no end user");
    assert_eq!(order.id, ORDER_ID);
}

#[tokio::test]
async fn an_ip_that_is_not_an_address_or_a_bad_agent_is_refused_before_anything_is_sent() {
    for (ip, agent) in [
        ("203.0.113", AGENT),
        ("203.0.113.7:443", AGENT),
        ("example.com", AGENT),
        ("", AGENT),
        ("203.0.113.7", ""),
        ("203.0.113.7", "Mozilla/5.0\r\nX-Injected: 1"),
    ] {
        let err = EndUser::parse(ip, agent).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::InvalidRequest { sent: false, field: Some(field), .. }
                    if field == "end_user_ip" || field == "end_user_agent"
            ),
            "{ip:?} {agent:?}: {err:?}"
        );
    }
    let v4 = EndUser::parse(" 203.0.113.7 ", AGENT).unwrap();
    assert_eq!(v4.ip().to_string(), "203.0.113.7");
    assert_eq!(v4.user_agent(), AGENT);
    assert!(EndUser::parse("::ffff:203.0.113.7", AGENT).is_ok());
}
