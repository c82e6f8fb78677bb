//! FoxReload orders through the facade over real HTTP on 127.0.0.1: activation data
//! delivered as objects, and `ORDER_ALREADY_EXISTS` taken as a refusal.

use std::sync::{Arc, Mutex};

use httpmock::prelude::*;
use serde_json::json;
use suppliers::config::FoxReloadConfig;
use suppliers::journal::State;
use suppliers::model::{OrderStatus, SupplierId};
use suppliers::{BuyRequest, Error, Journal, Suppliers};

const PRODUCT: &str = "product_01kq5e6f7g8h9j0k1m2n3p4q5r";

async fn facade(server: &MockServer) -> Suppliers {
    Suppliers::builder()
        .foxreload(FoxReloadConfig::new("key", &server.base_url()).unwrap())
        .journal(Journal::in_memory().await.unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn activation_data_objects_are_kept_beside_the_codes() {
    let server = MockServer::start_async().await;
    let id = "2d6b1f0a-5c3e-4e8f-9a7b-6c5d4e3f2a1b";
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("/api/orders/{id}"));
            then.status(200)
                .header("content-type", "application/json")
                .body(include_str!(
                    "../../../specs/foxreload/examples/get_order.completed_activation_data.json"
                ));
        })
        .await;
    let order = facade(&server)
        .await
        .get(SupplierId::FoxReload)
        .unwrap()
        .order(id)
        .await
        .expect("an order with activation data decodes");
    assert_eq!(order.status, OrderStatus::Completed);
    assert_eq!(order.delivery.codes, ["STEAM-K7QX-2M9P-4RTD"]);
    assert_eq!(
        order.delivery.activation_data,
        [
            json!({"code": "LPA:1$smdp.example.net$4F2A-9C1B-7D3E-8A6F", "pin": "1234"}),
            json!({"codes": ["STEAM-8WLB-3HNC-6ZVE"]}),
        ]
    );
    let shown = format!("{order:?}");
    assert!(
        !shown.contains("LPA:1") && !shown.contains("STEAM-"),
        "{shown}"
    );
}

/// A deployment that answers `ORDER_ALREADY_EXISTS` refuses this create: the purchase
/// is refused (nothing paid, no earlier order looked for or returned) and journaled as
/// failed; buying again under the same reference sends a fresh key.
#[tokio::test]
async fn order_already_exists_is_a_refusal_and_buys_nothing() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("/api/products/{PRODUCT}"));
            then.status(200).json_body(json!({
                "id": PRODUCT, "name": "eSIM Europe 5 GB 30 days", "price": "9.9000",
                "currency": "usd", "quantity": 40, "orderMinQuantity": 1,
                "orderMaxQuantity": 10, "requiredNoteFields": []
            }));
        })
        .await;
    let keys = Arc::new(Mutex::new(Vec::new()));
    let seen = keys.clone();
    let create = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/orders/").is_true(move |req| {
                let body: serde_json::Value = serde_json::from_slice(req.body_ref()).unwrap();
                seen.lock().unwrap().push(body["idempotencyKey"].clone());
                true
            });
            then.status(409)
                .header("content-type", "application/json")
                .body(include_str!(
                    "../../../specs/foxreload/examples/error.order_already_exists.json"
                ));
        })
        .await;
    let anything_else = server
        .mock_async(|when, then| {
            when.is_true(|req| {
                !req.uri().path().starts_with("/api/products/")
                    && req.uri().path() != "/api/orders/"
            });
            then.status(500);
        })
        .await;
    let suppliers = facade(&server).await;
    let mut request = BuyRequest::new(PRODUCT, 1);
    request.reference = Some("invoice-7".into());

    for attempt in 1..=2 {
        let err = suppliers
            .buy(SupplierId::FoxReload, &request)
            .await
            .expect_err("refused");
        assert!(
            matches!(
                &err,
                Error::InvalidRequest { sent: true, field: Some(field), message, .. }
                    if field == "idempotencyKey" && message.contains("ORDER_ALREADY_EXISTS")
            ),
            "attempt {attempt}: {err:?}"
        );
        let entry = suppliers
            .journal()
            .unwrap()
            .get("foxreload", "invoice-7")
            .await
            .unwrap()
            .expect("journaled");
        assert_eq!(entry.state, State::Failed, "attempt {attempt}");
        assert_eq!(entry.order_id, None, "attempt {attempt}");
    }
    assert_eq!(create.calls_async().await, 2);
    assert_eq!(
        anything_else.calls_async().await,
        0,
        "no pay, no order list, no order read"
    );
    let mut keys = keys.lock().unwrap().clone();
    assert!(keys.iter().all(serde_json::Value::is_string), "{keys:?}");
    keys.dedup(); // a matcher may look at one request more than once
    assert_eq!(keys.len(), 2, "a fresh key per create: {keys:?}");
}
