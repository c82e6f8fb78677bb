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
    let line = OrderLine {
        product_id: STEAM_500_RUB.into(),
        quantity: 2,
    };
    let order = fox.buy(&[line], None, None).await.unwrap();
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
    let line = OrderLine {
        product_id: STEAM_500_RUB.into(),
        quantity: 1,
    };
    let err = suppliers
        .foxreload()
        .unwrap()
        .buy(std::slice::from_ref(&line), None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InsufficientBalance { .. }), "{err:?}");
    assert_eq!(sandbox.foxreload().balance(), Decimal::new(5, 0));

    let wrong = facade(&sandbox, "not-the-key");
    let err = wrong
        .foxreload()
        .unwrap()
        .buy(&[line], None, None)
        .await
        .unwrap_err();
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
    let line = OrderLine {
        product_id: STEAM_500_RUB.into(),
        quantity: 1,
    };
    let err = suppliers
        .foxreload()
        .unwrap()
        .buy(&[line], None, None)
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
            let line = OrderLine {
                product_id: cheap.into(),
                quantity: 1,
            };
            suppliers
                .foxreload()
                .unwrap()
                .buy(&[line], None, None)
                .await
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
    let line = OrderLine {
        product_id: STEAM_500_RUB.into(),
        quantity: 1,
    };
    let order = fox.buy(&[line], None, None).await.unwrap();
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
    let line = OrderLine {
        product_id: STEAM_500_RUB.into(),
        quantity: 1,
    };
    fox.buy(std::slice::from_ref(&line), None, None)
        .await
        .unwrap();
    let err = fox.buy(&[line], None, None).await.unwrap_err();
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
    assert_eq!(products.len(), 10 + 1234);
    let ids: std::collections::BTreeSet<_> = products.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids.len(), products.len(), "no product twice");
    assert_eq!(products[10].id, "product_synthetic00000000000000001");
    // 100 a page: 13 pages, one request each.
    assert_eq!(sandbox.requests_served() - before, 13);
    sandbox.shutdown().await;
}
