//! Cryptorefills order tracking over real HTTP on 127.0.0.1: SSE with reconnects, a
//! stream cut mid-event, `stop`, and the polling fallback.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use httpmock::prelude::*;
use suppliers::Error;
use suppliers::adapters::cryptorefills::Cryptorefills;
use suppliers::model::OrderStatus;
use suppliers::order_stream::TrackConfig;
use suppliers::retry::RetryPolicy;
use suppliers::waiter::TokioClock;

const FAST: TrackConfig = TrackConfig {
    reconnect_min: Duration::from_millis(20),
    reconnect_max: Duration::from_millis(80),
    poll_min: Duration::from_millis(20),
    poll_max: Duration::from_millis(40),
};

fn order(status: &str) -> String {
    format!(r#"{{"id":"ord_abc123xyz","status":"{status}","deliveries":[]}}"#)
}

fn adapter(base_url: &str) -> Cryptorefills {
    let partner = cryptorefills::PartnerHeaders::new("sandbox", "1.0.0");
    let client = cryptorefills::Client::with_partner(base_url, &partner).unwrap();
    Cryptorefills::new(client, RetryPolicy::default(), Arc::new(TokioClock)).with_track_config(FAST)
}

mod support;
use support::{Answer, scripted};

/// Serves one scripted SSE body per connection (then closes it), in order.
async fn sse_server(bodies: Vec<String>) -> (String, Arc<AtomicUsize>) {
    scripted(bodies.into_iter().map(Answer::EventStream).collect()).await
}

#[tokio::test]
async fn a_stream_cut_mid_event_reconnects_and_ends_completed() {
    let first = format!(
        ": keep-alive\n\nevent: message\ndata: {}\n\nevent: message\ndata: {{\"id\":\"ord_abc",
        order("WaitingForPayment")
    );
    let second = format!(
        "event: message\ndata: {}\n\nevent: message\ndata: {}\n\nevent: stop\ndata: done\n\n",
        order("WaitingForDelivery"),
        order("Done")
    );
    let (base_url, connections) = sse_server(vec![first, second]).await;
    let updates: Vec<_> = adapter(&base_url).track("ord_abc123xyz").collect().await;
    let statuses: Vec<OrderStatus> = updates.into_iter().map(|u| u.unwrap().status).collect();
    assert_eq!(
        statuses,
        [
            OrderStatus::AwaitingPayment,
            OrderStatus::Processing,
            OrderStatus::Completed
        ]
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn stop_ends_the_stream_and_undecodable_events_are_skipped() {
    let body = format!(
        "event: message\ndata: {{\"not\": \"an order\"}}\n\nevent: message\ndata: {}\n\nevent: stop\ndata: \n\nevent: message\ndata: {}\n\n",
        order("WaitingForDelivery"),
        order("Done")
    );
    let (base_url, connections) = sse_server(vec![body]).await;
    let updates: Vec<_> = adapter(&base_url).track("ord_abc123xyz").collect().await;
    assert_eq!(updates.len(), 1, "nothing after stop");
    assert_eq!(
        updates[0].as_ref().unwrap().supplier_status,
        "WaitingForDelivery"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stream_that_cannot_be_opened_falls_back_to_polling() {
    let server = MockServer::start_async().await;
    let subscribe = server
        .mock_async(|when, then| {
            when.method(GET).path("/v5/orders/ord_abc123xyz/subscribe");
            then.status(502)
                .json_body(serde_json::json!({"error": "Failed to connect to upstream stream"}));
        })
        .await;
    let polls = server
        .mock_async(|when, then| {
            when.method(GET).path("/v5/orders/ord_abc123xyz");
            then.status(200)
                .header("content-type", "application/json")
                .body(order("Done"));
        })
        .await;
    let adapter = adapter(&server.base_url());
    let done = adapter
        .wait_for_order("ord_abc123xyz", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.status, OrderStatus::Completed);
    assert_eq!(subscribe.calls_async().await, 1);
    assert_eq!(polls.calls_async().await, 1);
}

#[tokio::test]
async fn waiting_past_the_timeout_reports_the_last_status() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v5/orders/ord_abc123xyz/subscribe");
            then.status(503);
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/v5/orders/ord_abc123xyz");
            then.status(200)
                .header("content-type", "application/json")
                .body(order("WaitingForPayment"));
        })
        .await;
    let err = adapter(&server.base_url())
        .wait_for_order("ord_abc123xyz", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WaitTimedOut {
                last_status: Some(OrderStatus::AwaitingPayment),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn reconnect_delays_double_and_reset_after_a_good_event() {
    let bodies = vec![
        String::new(),
        String::new(),
        format!("event: message\ndata: {}\n\n", order("WaitingForDelivery")),
        format!(
            "event: message\ndata: {}\n\nevent: stop\ndata: \n\n",
            order("Done")
        ),
    ];
    let (base_url, connections) = sse_server(bodies).await;
    let clock = Arc::new(suppliers::waiter::RecordingClock::default());
    let partner = cryptorefills::PartnerHeaders::new("sandbox", "1.0.0");
    let client = cryptorefills::Client::with_partner(&base_url, &partner).unwrap();
    let adapter = Cryptorefills::new(client, RetryPolicy::default(), clock.clone());
    let statuses: Vec<OrderStatus> = adapter
        .track("ord_abc123xyz")
        .map(|u| u.unwrap().status)
        .collect()
        .await;
    assert_eq!(statuses, [OrderStatus::Processing, OrderStatus::Completed]);
    assert_eq!(connections.load(Ordering::SeqCst), 4);
    // Documented schedule: 1 s, doubling; back to 1 s after a good event.
    assert_eq!(
        clock.sleeps(),
        [
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(1)
        ]
    );
}
