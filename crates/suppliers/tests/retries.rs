//! The retry rules over real HTTP on 127.0.0.1: reads are retried (honouring
//! `Retry-After`), purchases are sent exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use httpmock::prelude::*;
use suppliers::config::{FoxReloadConfig, MousaCardConfig};
use suppliers::error::Reconcile;
use suppliers::retry::RetryPolicy;
use suppliers::{Error, Suppliers};

const ORDER: &str = r#"{"id": "order-1", "status": "completed", "items": [
    {"product": {"id": "product_1", "name": "Steam 500 RUB"}, "quantity": 1, "externalData": ["AAAA-BBBB"]}
]}"#;

fn fox(base_url: &str) -> Suppliers {
    Suppliers::builder()
        .foxreload(FoxReloadConfig::new("sandbox", base_url).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_at_least_that_long() {
    let server = MockServer::start_async().await;
    let limited = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/orders/order-1");
            then.status(429)
                .header("Retry-After", "1")
                .json_body(serde_json::json!({"detail": "Too many requests"}));
        })
        .await;
    let suppliers = fox(&server.base_url());
    let fox = suppliers.foxreload().unwrap().clone();
    let started = Instant::now();
    let request = tokio::spawn(async move { fox.order("order-1").await });

    // Let the first attempt hit the 429, then answer normally.
    while limited.calls_async().await == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    limited.delete_async().await;
    let ok = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/orders/order-1");
            then.status(200)
                .header("content-type", "application/json")
                .body(ORDER);
        })
        .await;

    let order = request.await.unwrap().expect("retried to success");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}",
        started.elapsed()
    );
    assert_eq!(order.delivery.codes, ["AAAA-BBBB"]);
    ok.assert_async().await;
}

#[tokio::test]
async fn rate_limiting_that_outlasts_the_budget_is_reported_with_retry_after() {
    let server = MockServer::start_async().await;
    let limited = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/orders/order-1");
            then.status(429)
                .header("Retry-After", "120")
                .json_body(serde_json::json!({"detail": "slow down"}));
        })
        .await;
    let suppliers = Suppliers::builder()
        .foxreload(FoxReloadConfig::new("sandbox", &server.base_url()).unwrap())
        .retry(RetryPolicy {
            max_elapsed: Duration::from_secs(5),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let err = suppliers
        .foxreload()
        .unwrap()
        .order("order-1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(120)),
        "{err:?}"
    );
    // Waiting 120 s would break the 5 s budget: no second attempt.
    assert_eq!(limited.calls_async().await, 1);
}

mod support;
use support::{Answer, scripted};

/// A server that reads each request, counts it, and closes without answering.
async fn dropping_server() -> (String, Arc<AtomicUsize>) {
    scripted((0..5).map(|_| Answer::Drop).collect()).await
}

/// The product a purchase reads first.
const PRODUCT: &str = r#"{"id": "product_1", "name": "Steam 500 RUB", "price": "6.50",
    "orderMinQuantity": 1, "orderMaxQuantity": 10, "requiredNoteFields": []}"#;

#[tokio::test]
async fn a_dropped_connection_on_a_purchase_is_ambiguous_and_sent_once() {
    let (base_url, requests) = scripted(vec![
        Answer::Full(200, "application/json", PRODUCT.into()),
        Answer::Drop,
        Answer::Drop,
    ])
    .await;
    let suppliers = fox(&base_url);
    let line = suppliers::adapters::foxreload::OrderLine::new("product_1", 1);
    let err = suppliers
        .foxreload()
        .unwrap()
        .buy(&[line])
        .await
        .unwrap_err();
    match &err {
        Error::AmbiguousPurchase {
            operation,
            reconcile,
            ..
        } => {
            assert_eq!(*operation, "create_order");
            assert!(
                matches!(
                    reconcile,
                    Reconcile::FoxReloadRecentOrders { order_id: None, idempotency_key: Some(key) }
                        if key.len() == 36
                ),
                "{reconcile:?}"
            );
        }
        other => panic!("expected an ambiguous purchase, got {other:?}"),
    }
    assert!(err.to_string().contains("check the recent orders"), "{err}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2,
        "the product read, then the purchase once"
    );
}

#[tokio::test]
async fn a_dropped_connection_on_a_read_is_retried() {
    let (base_url, requests) = dropping_server().await;
    let suppliers = Suppliers::builder()
        .mousacard(MousaCardConfig::new("sandbox", &base_url).unwrap())
        .retry(RetryPolicy {
            max_attempts: 3,
            min_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let err = suppliers.mousacard().unwrap().balance().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn nothing_is_sent_for_an_order_of_eleven_items() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|_, then| {
            then.status(500);
        })
        .await;
    let suppliers = fox(&server.base_url());
    let line = suppliers::adapters::foxreload::OrderLine::new("product_1", 1);
    let err = suppliers
        .foxreload()
        .unwrap()
        .buy(&vec![line; 11])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest { sent: false, .. }),
        "{err:?}"
    );
    assert_eq!(any.calls_async().await, 0);
}

#[tokio::test]
async fn a_purchase_that_could_not_connect_is_not_ambiguous() {
    // Nothing listens on this port: no byte can have reached a server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let suppliers = Suppliers::builder()
        .foxreload(FoxReloadConfig::new("sandbox", &base_url).unwrap())
        .retry(RetryPolicy {
            min_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let line = suppliers::adapters::foxreload::OrderLine::new("product_1", 1);
    let err = suppliers
        .foxreload()
        .unwrap()
        .buy(&[line])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transport { message, .. } if message.starts_with("could not connect")),
        "{err:?}"
    );
}
