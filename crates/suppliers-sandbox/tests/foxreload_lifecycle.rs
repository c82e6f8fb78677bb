//! Whole FoxReload purchases through the facade against the sandbox on 127.0.0.1.

use std::time::Duration;

use rust_decimal::Decimal;
use suppliers::adapters::foxreload::OrderLine;
use suppliers::config::FoxReloadConfig;
use suppliers::model::OrderStatus;
use suppliers::waiter::WaiterConfig;
use suppliers::{Error, Suppliers};
use suppliers_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig, Timings};

const STEAM_500_RUB: &str = "product_01krgfgww8eth9xvvysd6y7r4j";

async fn sandbox(balance: i64) -> Sandbox {
    Sandbox::start(SandboxConfig {
        timings: Timings::fast(),
        foxreload_balance: Decimal::new(balance, 0),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn facade(sandbox: &Sandbox, key: &str) -> Suppliers {
    Suppliers::builder()
        .foxreload(FoxReloadConfig::new(key, &sandbox.foxreload_url()).unwrap())
        .build()
        .unwrap()
}

const FAST_WAIT: WaiterConfig = WaiterConfig {
    min_delay: Duration::from_millis(20),
    max_delay: Duration::from_millis(50),
    max_wait: Duration::from_secs(5),
};

#[tokio::test]
async fn a_purchase_is_created_paid_and_completed_with_codes() {
    let sandbox = sandbox(100).await;
    let suppliers = facade(&sandbox, "sandbox");
    let fox = suppliers.foxreload().unwrap();
    let line = OrderLine::new(STEAM_500_RUB, 2);
    let order = fox.buy(&[line]).await.unwrap();
    assert!(
        matches!(order.status, OrderStatus::Processing),
        "{:?}",
        order.status
    );
    let done = fox.wait_for_order(&order.id, FAST_WAIT).await.unwrap();
    assert_eq!(done.status, OrderStatus::Completed);
    assert_eq!(done.delivery.codes.len(), 2);
    assert_eq!(done.total, Some(Decimal::new(1300, 2)));
    assert_eq!(sandbox.foxreload().balance(), Decimal::new(8700, 2));
    let listed = fox.orders(None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn insufficient_balance_and_bad_credentials_are_typed_errors() {
    let sandbox = sandbox(5).await;
    let suppliers = facade(&sandbox, "sandbox");
    let line = OrderLine::new(STEAM_500_RUB, 1);
    let err = suppliers
        .foxreload()
        .unwrap()
        .buy(std::slice::from_ref(&line))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InsufficientBalance { .. }), "{err:?}");
    assert_eq!(sandbox.foxreload().balance(), Decimal::new(5, 0));

    let wrong = facade(&sandbox, "not-the-key");
    let err = wrong.foxreload().unwrap().buy(&[line]).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_connection_dropped_after_payment_is_ambiguous_and_pays_once() {
    let sandbox = sandbox(100).await;
    sandbox.faults().add(
        FaultRule::new("/foxreload/api/orders/", Fault::DropAfterHandling, 1)
            .for_method(axum::http::Method::POST),
    );
    let suppliers = facade(&sandbox, "sandbox");
    let line = OrderLine::new(STEAM_500_RUB, 1);
    let err = suppliers
        .foxreload()
        .unwrap()
        .buy(&[line])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::AmbiguousPurchase {
                operation: "create_order",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        sandbox.foxreload().order_count(),
        1,
        "the order was created exactly once"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_storm_of_429s_on_reads_is_survived() {
    let sandbox = sandbox(100).await;
    sandbox.faults().add(FaultRule::new(
        "/foxreload/api/access/me/balances/",
        Fault::RateLimit {
            retry_after_secs: 0,
        },
        3,
    ));
    let suppliers = facade(&sandbox, "sandbox");
    let balances = suppliers.foxreload().unwrap().balances().await.unwrap();
    assert_eq!(balances[0].amount, Decimal::new(100, 0));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_purchases_make_exactly_a_hundred_orders() {
    let sandbox = sandbox(1000).await;
    let suppliers = facade(&sandbox, "sandbox");
    let cheap = "product_01krgfh9m0n1p2q3r4s5t6v7w8"; // PUBG Mobile 60 UC, 0.99
    let purchases = (0..100).map(|_| {
        let suppliers = suppliers.clone();
        tokio::spawn(async move {
            let mut line = OrderLine::new(cheap, 1);
            line.note.insert("player_id".into(), "51234567".into());
            suppliers.foxreload().unwrap().buy(&[line]).await
        })
    });
    for purchase in futures::future::join_all(purchases).await {
        purchase.unwrap().unwrap();
    }
    assert_eq!(sandbox.foxreload().order_count(), 100);
    assert_eq!(
        sandbox.foxreload().balance(),
        Decimal::new(1000, 0) - Decimal::new(99, 0)
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_unknown_status_value_decodes_as_unknown() {
    let sandbox = sandbox(100).await;
    let suppliers = facade(&sandbox, "sandbox");
    let fox = suppliers.foxreload().unwrap();
    let line = OrderLine::new(STEAM_500_RUB, 1);
    let order = fox.buy(&[line]).await.unwrap();
    sandbox.faults().add(FaultRule::new(
        "/foxreload/api/orders/",
        Fault::UnknownStatus("on_hold".into()),
        1,
    ));
    let odd = fox.order(&order.id).await.unwrap();
    assert_eq!(
        (odd.status, odd.supplier_status.as_str()),
        (OrderStatus::Unknown, "on_hold")
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn stock_runs_out() {
    let sandbox = Sandbox::start(SandboxConfig {
        stock_per_product: 1,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let suppliers = facade(&sandbox, "sandbox");
    let fox = suppliers.foxreload().unwrap();
    let line = OrderLine::new(STEAM_500_RUB, 1);
    fox.buy(std::slice::from_ref(&line)).await.unwrap();
    let err = fox.buy(&[line]).await.unwrap_err();
    assert!(matches!(err, Error::OutOfStock { .. }), "{err:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_slow_answer_is_slow_but_arrives() {
    let sandbox = sandbox(100).await;
    sandbox.faults().add(FaultRule::new(
        "/foxreload/api/access/me/balances/",
        Fault::Slow(Duration::from_millis(300)),
        1,
    ));
    let suppliers = facade(&sandbox, "sandbox");
    let started = std::time::Instant::now();
    let balances = suppliers.foxreload().unwrap().balances().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(balances[0].amount, Decimal::new(100, 0));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_large_synthetic_catalog_is_walked_page_by_page_exactly_once() {
    use futures::TryStreamExt;
    let sandbox = Sandbox::start(SandboxConfig {
        foxreload_synthetic_products: 1234,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let suppliers = facade(&sandbox, "sandbox");
    let before = sandbox.requests_served();
    let products: Vec<_> = suppliers
        .get(suppliers::model::SupplierId::FoxReload)
        .unwrap()
        .catalog(Default::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(products.len(), 12 + 1234);
    let ids: std::collections::BTreeSet<_> = products.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids.len(), products.len(), "no product twice");
    // Category by category, `games` first.
    assert_eq!(products[0].id, "product_synthetic00000000000000001");
    // One page of categories, then 100 products a page: 13 pages of `games` and one
    // for each of the five other categories.
    assert_eq!(sandbox.requests_served() - before, 1 + 13 + 5);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn note_fields_and_quantity_limits_are_checked_before_anything_is_bought() {
    let sandbox = sandbox(100).await;
    let suppliers = facade(&sandbox, "sandbox");
    let fox = suppliers.foxreload().unwrap();
    let top_up = "product_01kq2w3e4r5t6y7u8i9o0p1a2s"; // $1 Steam top up, 1 to 300
    for (quantity, login, field) in [(301, Some("steam_user"), "quantity"), (5, None, "login")] {
        let mut line = OrderLine::new(top_up, quantity);
        if let Some(login) = login {
            line.note.insert("login".into(), login.into());
        }
        let err = fox.buy(&[line]).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest { sent: false, field: Some(f), .. } if f == field),
            "{err:?}"
        );
    }
    assert_eq!(sandbox.foxreload().order_count(), 0, "nothing was sent");

    let mut line = OrderLine::new(top_up, 5);
    line.note.insert("login".into(), "steam_user".into());
    let order = fox.buy(&[line]).await.unwrap();
    assert!(order.idempotency_key.is_some());
    let done = fox.wait_for_order(&order.id, FAST_WAIT).await.unwrap();
    assert_eq!(done.delivery.codes.len(), 1, "a top-up delivers one code");
    assert_eq!(
        sandbox.foxreload().balance(),
        Decimal::new(100, 0) - Decimal::new(515, 2)
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn test_orders_charge_nothing() {
    let sandbox = sandbox(100).await;
    let suppliers = Suppliers::builder()
        .foxreload(
            FoxReloadConfig::new("sandbox", &sandbox.foxreload_url())
                .unwrap()
                .with_test_orders(true),
        )
        .build()
        .unwrap();
    let fox = suppliers.foxreload().unwrap();
    let order = fox.buy(&[OrderLine::new(STEAM_500_RUB, 2)]).await.unwrap();
    let done = fox.wait_for_order(&order.id, FAST_WAIT).await.unwrap();
    assert_eq!(done.status, OrderStatus::Completed);
    assert_eq!(sandbox.foxreload().balance(), Decimal::new(100, 0));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_unpriced_product_is_listed_and_refused_by_the_supplier() {
    let sandbox = sandbox(100).await;
    let suppliers = facade(&sandbox, "sandbox");
    let fox = suppliers.foxreload().unwrap();
    let unpriced = "product_01krgfh6z9y8x7w6v5t4s3r2q1";
    assert_eq!(fox.product(unpriced).await.unwrap().price, None);
    let err = fox.buy(&[OrderLine::new(unpriced, 1)]).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("OFFER_PRICE_NOT_MATCHED"), "{err}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_pay_body_with_a_relative_return_url_is_refused_before_anything_is_charged() {
    let sandbox = sandbox(100).await;
    let (http, base) = (reqwest::Client::new(), sandbox.foxreload_url());
    let order: serde_json::Value = http
        .post(format!("{base}/api/orders/"))
        .header("X-API-Key", "sandbox")
        .json(&serde_json::json!({"items": [{"itemId": STEAM_500_RUB, "quantity": 1}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pay = format!("{base}/api/orders/{}/pay", order["id"].as_str().unwrap());
    for (body, kind) in [
        (
            serde_json::json!({"paymentProvider": null, "paymentReturnUrl": "AAA"}),
            "url_parsing",
        ),
        (serde_json::json!({"paymentReturnUrl": 7}), "url_type"),
    ] {
        let answer = http
            .post(&pay)
            .header("X-API-Key", "sandbox")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 422, "{body}");
        let error: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(error["detail"][0]["type"], kind, "{error}");
        assert_eq!(error["detail"][0]["loc"][1], "paymentReturnUrl", "{error}");
    }
    assert_eq!(sandbox.foxreload().balance(), Decimal::new(100, 0));
    let paid = http
        .post(&pay)
        .header("X-API-Key", "sandbox")
        .json(&serde_json::json!({"paymentProvider": null, "paymentReturnUrl": "https://shop.example.com/paid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    assert_eq!(sandbox.foxreload().balance(), Decimal::new(9350, 2));
    sandbox.shutdown().await;
}
