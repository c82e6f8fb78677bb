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
    keep_alive_gap: Duration::from_millis(300),
    max_event_bytes: 64 * 1024,
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
use support::serve;

/// Serves one scripted SSE body per subscription (then closes it), in order; a poll of
/// the order (made while a stream is down) finds it still waiting for payment. Counts
/// subscriptions.
async fn sse_server(bodies: Vec<String>) -> (String, Arc<AtomicUsize>) {
    use tokio::io::AsyncWriteExt;
    let bodies = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::from(
        bodies,
    )));
    let subscriptions = Arc::new(AtomicUsize::new(0));
    let counted = subscriptions.clone();
    let (base_url, _) = serve(move |head, mut socket| {
        let (bodies, counted) = (bodies.clone(), counted.clone());
        async move {
            let answer = if head.contains("/subscribe") {
                counted.fetch_add(1, Ordering::SeqCst);
                let Some(body) = bodies.lock().unwrap().pop_front() else {
                    return;
                };
                format!("{SSE_HEAD}{body}")
            } else {
                let json = order("WaitingForPayment");
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                    json.len()
                )
            };
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    })
    .await;
    (base_url, subscriptions)
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

const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n";

#[tokio::test]
async fn a_stream_silent_past_the_keep_alive_gap_is_reopened() {
    use tokio::io::AsyncWriteExt;
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    let (base_url, _) = serve(move |head, mut socket| {
        // The poll made while the stream is down finds the order still waiting.
        let nth = match head.contains("/subscribe") {
            true => seen.fetch_add(1, Ordering::SeqCst),
            false => usize::MAX,
        };
        async move {
            if nth == usize::MAX {
                let json = order("WaitingForPayment");
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
                    json.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                return;
            }
            let body = if nth == 0 {
                format!("event: message\ndata: {}\n\n", order("WaitingForPayment"))
            } else {
                format!("data: {}\n\nevent: stop\n\n", order("Done"))
            };
            let _ = socket
                .write_all(format!("{SSE_HEAD}{body}").as_bytes())
                .await;
            if nth == 0 {
                // Open, but silent: no event, no keep-alive.
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        }
    })
    .await;
    let started = std::time::Instant::now();
    let updates: Vec<_> = adapter(&base_url).track("ord_abc123xyz").collect().await;
    let statuses: Vec<OrderStatus> = updates.into_iter().map(|u| u.unwrap().status).collect();
    assert_eq!(
        statuses,
        [OrderStatus::AwaitingPayment, OrderStatus::Completed]
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn keep_alive_comments_hold_a_quiet_stream_open() {
    use tokio::io::AsyncWriteExt;
    let (base_url, heads) = serve(|_, mut socket| async move {
        let _ = socket.write_all(SSE_HEAD.as_bytes()).await;
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = socket.write_all(b": keep-alive\n\n").await;
        }
        let done = format!(
            "event: message\ndata: {}\n\nevent: stop\ndata: {{}}\n\n",
            order("Done")
        );
        let _ = socket.write_all(done.as_bytes()).await;
    })
    .await;
    let updates: Vec<_> = adapter(&base_url).track("ord_abc123xyz").collect().await;
    assert_eq!(updates.len(), 1);
    assert_eq!(
        heads.lock().unwrap().len(),
        1,
        "600 ms of keep-alives, one connection"
    );
}

#[tokio::test]
async fn an_event_over_the_limit_ends_tracking_with_an_error() {
    // One `data:` line that never ends: nothing may buffer it whole.
    use tokio::io::AsyncWriteExt;
    let (base_url, heads) = serve(|_, mut socket| async move {
        let _ = socket.write_all(SSE_HEAD.as_bytes()).await;
        let _ = socket.write_all(b"event: message\ndata: ").await;
        let chunk = vec![b'x'; 16 * 1024];
        while socket.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let updates: Vec<_> = adapter(&base_url).track("ord_abc123xyz").collect().await;
    assert_eq!(updates.len(), 1);
    let err = updates.into_iter().next().unwrap().unwrap_err();
    assert!(
        err.to_string()
            .contains("an order event is larger than the 65536-byte limit"),
        "{err}"
    );
    assert_eq!(heads.lock().unwrap().len(), 1, "not reopened");
}

#[tokio::test]
async fn many_events_each_under_the_limit_pass_with_any_line_ending() {
    let big = order("WaitingForDelivery");
    let body = format!(
        "data: {big}\r\n\r\n{}data: {}\r\rdata: {}\n\nevent: stop\r\ndata: {{}}\r\n\r\n",
        format!("data: {big}\r\n\r\n").repeat(1200),
        order("WaitingForDelivery"),
        order("Done"),
    );
    assert!(body.len() > 64 * 1024, "more than one event's limit in all");
    let (base_url, _) = sse_server(vec![body]).await;
    let updates: Vec<_> = adapter(&base_url).track("ord_abc123xyz").collect().await;
    let last = updates.last().unwrap().as_ref().unwrap();
    assert_eq!(last.status, OrderStatus::Completed);
    assert_eq!(updates.len(), 1203);
}

#[tokio::test]
async fn stop_ends_the_stream_with_or_without_data_and_unnamed_events_are_messages() {
    for stop in ["event: stop\n\n", "event: stop\ndata: {}\n\n"] {
        let body = format!(
            "data: {}\n\n{stop}data: {}\n\n",
            order("WaitingForDelivery"),
            order("Done")
        );
        let (base_url, connections) = sse_server(vec![body]).await;
        let updates: Vec<_> = adapter(&base_url).track("ord_abc123xyz").collect().await;
        assert_eq!(updates.len(), 1, "{stop:?}: nothing after stop");
        assert_eq!(
            updates[0].as_ref().unwrap().supplier_status,
            "WaitingForDelivery"
        );
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test]
async fn an_order_whose_stream_stays_silent_is_polled_and_settles_without_the_stream() {
    use tokio::io::AsyncWriteExt;
    // Every stream opens and stays silent, as behind a proxy that buffers it; the order
    // is done at the supplier.
    let (base_url, heads) = serve(|head, mut socket| async move {
        if head.contains("/subscribe") {
            let _ = socket.write_all(SSE_HEAD.as_bytes()).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        let json = order("Done");
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
            json.len()
        );
        let _ = socket.write_all(answer.as_bytes()).await;
    })
    .await;
    let started = std::time::Instant::now();
    let done = adapter(&base_url)
        .wait_for_order("ord_abc123xyz", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(done.status, OrderStatus::Completed);
    // One keep-alive gap (300 ms), then the poll.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let heads = heads.lock().unwrap();
    assert_eq!(heads.iter().filter(|h| h.contains("/subscribe")).count(), 1);
    assert_eq!(
        heads.iter().filter(|h| !h.contains("/subscribe")).count(),
        1
    );
}
