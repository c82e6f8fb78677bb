//! FoxReload's polling waiter and Cryptorefills' validation problems, over real HTTP on
//! 127.0.0.1.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use httpmock::prelude::*;
use suppliers::adapters::foxreload::{DEFAULT_WAIT, FoxReload};
use suppliers::config::CryptorefillsConfig;
use suppliers::error::ProblemCode;
use suppliers::model::{OrderStatus, SupplierId};
use suppliers::retry::RetryPolicy;
use suppliers::waiter::{RecordingClock, WaiterConfig};
use suppliers::{BuyRequest, Error, Suppliers};
use support::{Answer, scripted};

fn fox_order(status: &str, codes: &str) -> String {
    format!(
        r#"{{"id": "order-1", "status": "{status}", "items": [{{"product": {{"id": "p", "name": "Steam 500 RUB"}}, "quantity": 1, "externalData": {codes}}}]}}"#
    )
}

fn fox(base_url: &str, clock: Arc<RecordingClock>) -> FoxReload {
    let client = foxreload::Client::with_api_key(base_url, "sandbox").unwrap();
    FoxReload::new(client, RetryPolicy::never(), clock)
}

#[tokio::test]
async fn foxreload_wait_polls_until_completed_with_the_documented_cadence() {
    let (base_url, requests) = scripted(vec![
        Answer::Full(200, "application/json", fox_order("paid", "null")),
        Answer::Full(200, "application/json", fox_order("processing", "null")),
        Answer::Full(
            200,
            "application/json",
            fox_order("completed", r#"["XXXX-YYYY-ZZZZ"]"#),
        ),
    ])
    .await;
    let clock = Arc::new(RecordingClock::default());
    let order = fox(&base_url, clock.clone())
        .wait_for_order("order-1", DEFAULT_WAIT)
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Completed);
    assert_eq!(order.delivery.codes, ["XXXX-YYYY-ZZZZ"]);
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2);
    assert!(
        sleeps
            .iter()
            .all(|d| *d >= DEFAULT_WAIT.min_delay && *d <= DEFAULT_WAIT.max_delay),
        "{sleeps:?}"
    );
}

#[tokio::test]
async fn foxreload_wait_returns_a_failed_order_and_times_out_on_a_stuck_one() {
    let (base_url, _) = scripted(vec![Answer::Full(
        200,
        "application/json",
        fox_order("failed", "null"),
    )])
    .await;
    let clock = Arc::new(RecordingClock::default());
    let order = fox(&base_url, clock)
        .wait_for_order("order-1", DEFAULT_WAIT)
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Failed);

    let stuck = (0..20)
        .map(|_| Answer::Full(200, "application/json", fox_order("processing", "null")))
        .collect();
    let (base_url, requests) = scripted(stuck).await;
    let clock = Arc::new(RecordingClock::default());
    let config = WaiterConfig {
        max_wait: Duration::from_secs(20),
        ..DEFAULT_WAIT
    };
    let err = fox(&base_url, clock.clone())
        .wait_for_order("order-1", config)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WaitTimedOut {
                last_status: Some(OrderStatus::Processing),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        clock.sleeps().iter().sum::<Duration>(),
        Duration::from_secs(20)
    );
    assert_eq!(requests.load(Ordering::SeqCst), clock.sleeps().len() + 1);
}

#[tokio::test]
async fn cryptorefills_problems_come_back_all_at_once() {
    let server = MockServer::start_async().await;
    let validation = server
        .mock_async(|when, then| {
            when.method(POST).path("/v5/orders/validations");
            then.status(200).json_body(serde_json::json!({"problems": [
                {"problem": "INVALID_BENEFICIARY_ACCOUNT"},
                {"problem": "UNSUPPORTED_PROTOCOL_COIN_COMBINATION", "moreDetails": {"supported": [["USDC", "Solana"]]}},
                {"problem": "SOMETHING_NEW"}
            ]}));
        })
        .await;
    let suppliers = Suppliers::builder()
        .cryptorefills(CryptorefillsConfig::new("sandbox", "1.0", &server.base_url()).unwrap())
        .build()
        .unwrap();
    let cr = suppliers.get(SupplierId::Cryptorefills).unwrap();
    let mut request = BuyRequest::new("giftcard/Airbnb/US/100", 1);
    request.email = Some("user@example.com".into());
    let err = cr.validate(&request).await.unwrap_err();
    let Error::ValidationProblems { problems, .. } = &err else {
        panic!("{err:?}")
    };
    let codes: Vec<&ProblemCode> = problems.iter().map(|p| &p.code).collect();
    assert_eq!(
        codes,
        [
            &ProblemCode::InvalidBeneficiaryAccount,
            &ProblemCode::UnsupportedProtocolCoinCombination,
            &ProblemCode::Unknown("SOMETHING_NEW".into())
        ]
    );
    assert!(problems[1].details.is_some());
    assert_eq!(
        err.to_string(),
        "cryptorefills: the order has problems: INVALID_BENEFICIARY_ACCOUNT, UNSUPPORTED_PROTOCOL_COIN_COMBINATION, SOMETHING_NEW"
    );
    validation.assert_async().await;

    // A top-up to an email is refused before anything is sent.
    let mut top_up = BuyRequest::new("mobile_recharge/T-Mobile/US/20", 1);
    top_up.email = Some("user@example.com".into());
    let err = cr.validate(&top_up).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest { field: Some(f), sent: false, .. } if f == "beneficiary_account"),
        "{err:?}"
    );
    assert_eq!(validation.calls_async().await, 1);
}
