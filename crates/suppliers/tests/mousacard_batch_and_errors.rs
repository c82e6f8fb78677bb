//! MousaCard through the facade over real HTTP on 127.0.0.1: batch tracking in chunks
//! of 50, `not_found` items, and `success: false` errors whatever the HTTP status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use httpmock::prelude::*;
use rust_decimal::Decimal;
use suppliers::Error;
use suppliers::adapters::mousacard::{MousaCard, Purchase, Tracked};
use suppliers::model::{OrderStatus, SupplierId};
use suppliers::retry::RetryPolicy;
use suppliers::waiter::{TokioClock, WaiterConfig};

const FAST: WaiterConfig = WaiterConfig {
    min_delay: Duration::from_millis(5),
    max_delay: Duration::from_millis(10),
    max_wait: Duration::from_secs(5),
};

fn adapter(base_url: &str) -> MousaCard {
    let client = mousacard::Client::with_token(base_url, "sandbox").unwrap();
    MousaCard::new(client, RetryPolicy::never(), Arc::new(TokioClock))
}

fn body_ids(request: &HttpMockRequest) -> Vec<u64> {
    let body: serde_json::Value = serde_json::from_slice(request.body().as_ref()).unwrap();
    body["order_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// Answers every id as completed, except id 7 (not found); records each request's ids.
fn batch_answer(ids: &[u64]) -> serde_json::Value {
    let orders: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| match id {
            7 => serde_json::json!({"order_id": 7, "status": "not_found", "error": "Order not found or access denied"}),
            id => serde_json::json!({"order_id": id, "status": "completed", "product_id": "12330", "quantity": 1,
                                     "total": "10", "currency_name": "USD", "currency_symbol": "$", "codes": [format!("CODE-{id}")]}),
        })
        .collect();
    serde_json::json!({"success": true, "data": {"orders": orders}})
}

#[tokio::test]
async fn a_hundred_and_one_orders_cost_three_requests_and_not_found_is_reported() {
    let server = MockServer::start_async().await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::<usize>::new()));
    let sizes = seen.clone();
    // httpmock answers with a fixed body, so answer each chunk from its request.
    let mut mocks = Vec::new();
    for chunk in (1..=101u64).collect::<Vec<_>>().chunks(50) {
        let chunk = chunk.to_vec();
        let expected = chunk.clone();
        let sizes = sizes.clone();
        mocks.push(
            server
                .mock_async(move |when, then| {
                    when.method(POST)
                        .path("/orders/status")
                        .is_true(move |req| {
                            let ids = body_ids(req);
                            let matches = ids == expected;
                            if matches {
                                sizes.lock().unwrap().push(ids.len());
                            }
                            matches
                        });
                    then.status(200).json_body(batch_answer(&chunk));
                })
                .await,
        );
    }
    let ids: Vec<u64> = (1..=101).collect();
    let (outcomes, stats) = adapter(&server.base_url())
        .wait_for_orders(&ids, FAST)
        .await
        .unwrap();
    assert_eq!(stats.rounds, 1);
    assert_eq!(stats.open_per_round, [101]);
    assert_eq!(stats.requests_per_round, [3]);
    assert_eq!(*seen.lock().unwrap(), [50, 50, 1]);
    assert_eq!(outcomes.len(), 101);
    match &outcomes[6] {
        Tracked::NotFound {
            order_id: 7,
            message,
        } => assert_eq!(message, "Order not found or access denied"),
        other => panic!("expected not_found for 7, got {other:?}"),
    }
    match &outcomes[100] {
        Tracked::Finished(order) => {
            assert_eq!(order.status, OrderStatus::Completed);
            assert_eq!(order.delivery.codes, ["CODE-101"]);
        }
        other => panic!("expected 101 finished, got {other:?}"),
    }
}

#[tokio::test]
async fn finished_orders_are_dropped_from_later_rounds() {
    let server = MockServer::start_async().await;
    // Round 1 asks for both; order 2 is still processing.
    let round_one = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/orders/status")
                .json_body(serde_json::json!({"order_ids": [1, 2]}));
            then.status(200)
                .json_body(serde_json::json!({"success": true, "data": {"orders": [
                    {"order_id": 1, "status": "completed", "codes": ["A"]},
                    {"order_id": 2, "status": "processing"}
                ]}}));
        })
        .await;
    let round_two = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/orders/status")
                .json_body(serde_json::json!({"order_ids": [2]}));
            then.status(200)
                .json_body(serde_json::json!({"success": true, "data": {"orders": [
                    {"order_id": 2, "status": "rejected"}
                ]}}));
        })
        .await;
    let (outcomes, stats) = adapter(&server.base_url())
        .wait_for_orders(&[1, 2], FAST)
        .await
        .unwrap();
    assert_eq!(stats.open_per_round, [2, 1]);
    assert_eq!(stats.requests_per_round, [1, 1]);
    assert_eq!(round_one.calls_async().await, 1);
    assert_eq!(round_two.calls_async().await, 1);
    assert!(
        matches!(&outcomes[1], Tracked::Finished(o) if o.status == OrderStatus::Failed && o.supplier_status == "rejected")
    );
}

#[tokio::test]
async fn success_false_with_http_200_is_a_typed_error_with_amounts() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/orders");
            then.status(200).body(include_str!(
                "../../../specs/mousacard/examples/error.insufficient_balance.json"
            ));
        })
        .await;
    let purchase = Purchase {
        product_id: 12310,
        quantity: 1,
        custom_fields: BTreeMap::new(),
    };
    let err = adapter(&server.base_url())
        .buy(&purchase)
        .await
        .unwrap_err();
    match &err {
        Error::InsufficientBalance {
            supplier,
            required,
            available,
            currency,
        } => {
            assert_eq!(*supplier, SupplierId::MousaCard);
            assert_eq!(*required, Some(Decimal::new(50, 0)));
            assert_eq!(*available, Some(Decimal::new(30, 0)));
            assert_eq!(currency.as_deref(), Some("$"));
        }
        other => panic!("expected insufficient balance, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "mousacard: insufficient balance: 50 $ required, 30 $ available"
    );
}

#[tokio::test]
async fn documented_error_codes_map_to_error_kinds() {
    let cases = [
        (401, "unauthorized", "unauthorized"),
        (403, "purchase_disabled", "forbidden"),
        (400, "insufficient_stock", "out of stock"),
        (400, "unavailable", "unavailable"),
        (503, "store_closed", "store closed"),
        (404, "not_found", "not found"),
    ];
    for (status, code, words) in cases {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(GET).path("/balance");
                then.status(status).json_body(serde_json::json!(
                    {"success": false, "error": {"code": code, "message": "Store says no"}}
                ));
            })
            .await;
        let err = adapter(&server.base_url()).balance().await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("mousacard: {words}")),
            "{code}: {text}"
        );
        assert!(text.contains("Store says no"), "{code}: {text}");
    }
}

#[tokio::test]
async fn quantity_and_required_fields_are_checked_before_sending() {
    let product: mousacard::types::Product = serde_json::from_value(serde_json::json!({
        "id": "12310", "name": "100 Credits", "price": "5", "currency_name": "USD", "currency_symbol": "$",
        "available": true, "min_quantity": 1, "max_quantity": 3,
        "custom_fields": [{"key": "playerid", "label": "Player ID", "type": "text", "required": true, "options": null}]
    }))
    .unwrap();
    let mut purchase = Purchase {
        product_id: 12310,
        quantity: 4,
        custom_fields: BTreeMap::new(),
    };
    let err = MousaCard::check(&purchase, &product).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest { field: Some(f), sent: false, .. } if f == "quantity"),
        "{err:?}"
    );
    purchase.quantity = 2;
    let err = MousaCard::check(&purchase, &product).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest { field: Some(f), .. } if f == "playerid"),
        "{err:?}"
    );
    purchase
        .custom_fields
        .insert("playerid".into(), "12345678".into());
    MousaCard::check(&purchase, &product).unwrap();
}

#[tokio::test]
async fn a_wordpress_native_error_keeps_its_meaning() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/balance");
            then.status(401).json_body(serde_json::json!(
                {"code": "rest_forbidden", "message": "Sorry, you are not allowed to do that.", "data": {"status": 401}}
            ));
        })
        .await;
    let err = adapter(&server.base_url()).balance().await.unwrap_err();
    assert!(
        matches!(&err, Error::Unauthorized { message, .. } if message.contains("rest_forbidden")),
        "{err:?}"
    );
}

#[tokio::test]
async fn subscription_details_become_a_redacted_delivery_account() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/orders/242861");
            then.status(200).body(include_str!(
                "../../../specs/mousacard/examples/get_order.completed_subscription.json"
            ));
        })
        .await;
    let order = adapter(&server.base_url()).order(242861).await.unwrap();
    assert_eq!(order.status, OrderStatus::Completed);
    let account = order
        .delivery
        .account
        .clone()
        .expect("subscription details");
    assert_eq!(account.password.as_deref(), Some("pass123"));
    assert_eq!(account.url.as_deref(), Some("https://netflix.com"));
    let shown = format!("{order:?}");
    assert!(
        !shown.contains("pass123") && !shown.contains("netflix.com"),
        "{shown}"
    );
}

#[tokio::test]
async fn success_false_next_to_data_is_never_taken_for_success() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/balance");
            then.status(200).json_body(serde_json::json!(
                {"success": false, "data": {"balance": "150.5", "currency_name": "USD", "currency_symbol": "$"}}
            ));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/orders");
            then.status(200).json_body(serde_json::json!({"success": false, "data": {
                "order_id": 456, "product_id": 12330, "quantity": 1, "total": "10", "currency_name": "USD",
                "currency_symbol": "$", "status": "processing", "new_balance": "90"}}));
        })
        .await;
    let mousa = adapter(&server.base_url());
    let err = mousa.balance().await.unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedResponse { status: 200, .. }),
        "{err:?}"
    );
    let purchase = Purchase {
        product_id: 12330,
        quantity: 1,
        custom_fields: BTreeMap::new(),
    };
    let err = mousa.buy(&purchase).await.unwrap_err();
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
}
