//! The sandbox's HTTP faults that real networks make, against the facade over real
//! HTTP on 127.0.0.1: an answer cut short of its `Content-Length`, a chunked body
//! without its last chunk, an answer held back past the attempt deadline, and an event
//! stream that opens and stays silent. Reads are retried on a fresh connection; a
//! purchase whose answer is lost is settled from the supplier's side, never sent again.

use std::time::{Duration, Instant};

use axum::http::Method;
use suppliers::config::{CryptorefillsConfig, FoxReloadConfig};
use suppliers::model::{OrderStatus, SupplierId};
use suppliers::order_stream::TrackConfig;
use suppliers::{BuyRequest, Suppliers};
use suppliers_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig, Timings};

const STEAM_500_RUB: &str = "product_01krgfgww8eth9xvvysd6y7r4j";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        timings: Timings::fast(),
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(10)),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn facade(sandbox: &Sandbox, attempt: Duration) -> Suppliers {
    Suppliers::builder()
        .foxreload(FoxReloadConfig::new("sandbox", &sandbox.foxreload_url()).unwrap())
        .cryptorefills(
            CryptorefillsConfig::new("sandbox", "1.0.0", &sandbox.cryptorefills_url()).unwrap(),
        )
        .attempt_timeout(attempt)
        .journal(suppliers::Journal::in_memory().await.unwrap())
        .build()
        .unwrap()
}

fn steam(reference: &str) -> BuyRequest {
    let mut request = BuyRequest::new(STEAM_500_RUB, 1);
    request.reference = Some(reference.into());
    request
}

#[tokio::test]
async fn reads_cut_short_unterminated_or_held_back_are_read_again_and_decode_whole() {
    let sandbox = sandbox().await;
    let suppliers = facade(&sandbox, Duration::from_millis(700)).await;
    let fox = suppliers.foxreload().unwrap();
    let product = "/foxreload/api/products/".to_owned() + STEAM_500_RUB;
    for fault in [
        Fault::ShortBody,
        Fault::UnterminatedChunked,
        Fault::StallBeforeHeaders(Duration::from_secs(3)),
    ] {
        sandbox
            .faults()
            .add(FaultRule::new(&product, fault.clone(), 1).for_method(Method::GET));
        let started = Instant::now();
        let read = fox.product(STEAM_500_RUB).await;
        let product = read.unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(product.id, STEAM_500_RUB, "{fault:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{fault:?}: {:?}",
            started.elapsed()
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_purchase_whose_answer_is_cut_short_is_settled_from_the_order_list_and_bought_once() {
    let sandbox = sandbox().await;
    let suppliers = facade(&sandbox, Duration::from_secs(5)).await;
    for (n, fault) in [Fault::ShortBody, Fault::UnterminatedChunked]
        .into_iter()
        .enumerate()
    {
        sandbox.faults().add(
            FaultRule::new("/foxreload/api/orders/", fault.clone(), 1).for_method(Method::POST),
        );
        let before = sandbox.foxreload().order_count();
        let reference = format!("cut-{n}");
        let receipt = suppliers
            .buy(SupplierId::FoxReload, &steam(&reference))
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert!(!receipt.order.id.is_empty());
        assert_eq!(
            sandbox.foxreload().order_count(),
            before + 1,
            "{fault:?}: one order"
        );
        // Buying again under the reference replays it.
        let again = suppliers
            .buy(SupplierId::FoxReload, &steam(&reference))
            .await
            .unwrap();
        assert!(again.replayed);
        assert_eq!(sandbox.foxreload().order_count(), before + 1);
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_order_whose_event_stream_stays_silent_is_polled_and_reported() {
    let sandbox = sandbox().await;
    let suppliers = facade(&sandbox, Duration::from_secs(5)).await;
    let mut request = BuyRequest::new("giftcard/Airbnb/US/100 USD", 1);
    request.email = Some("user@example.com".into());
    let order = suppliers
        .buy(SupplierId::Cryptorefills, &request)
        .await
        .unwrap()
        .order;
    sandbox.faults().add(FaultRule::new(
        format!("/cryptorefills/v5/orders/{}/subscribe", order.id),
        Fault::SilentStream,
        100,
    ));
    let cr = suppliers
        .cryptorefills()
        .unwrap()
        .clone()
        .with_track_config(TrackConfig {
            keep_alive_gap: Duration::from_millis(500),
            reconnect_min: Duration::from_millis(100),
            ..TrackConfig::default()
        });
    let started = Instant::now();
    let done = cr
        .wait_for_order(&order.id, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(done.status, OrderStatus::Completed);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    sandbox.shutdown().await;
}
