//! Upstreams on 127.0.0.1 that misbehave on purpose: redirects to another origin, bodies
//! that trickle or never end, error bodies of an unexpected shape.

mod support;

use std::time::{Duration, Instant};

use suppliers::adapters::foxreload::OrderLine;
use suppliers::config::{CryptorefillsConfig, FoxReloadConfig, MousaCardConfig};
use suppliers::retry::RetryPolicy;
use suppliers::{Error, Suppliers};
use support::{answer, endless_json, serve};
use tokio::io::AsyncWriteExt;

const FOX_ORDER: &str = r#"{"id": "order-1", "status": "completed", "items": [
    {"product": {"id": "product_1", "name": "Steam 500 RUB"}, "quantity": 1, "externalData": ["AAAA-BBBB"]}
]}"#;

fn all_three(base_url: &str) -> Suppliers {
    Suppliers::builder()
        .foxreload(FoxReloadConfig::new("fox-secret-key", base_url).unwrap())
        .mousacard(MousaCardConfig::new("mousa-secret-token", base_url).unwrap())
        .cryptorefills(CryptorefillsConfig::new("cr-secret-partner", "1.0.0", base_url).unwrap())
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

/// One read of each supplier, each ending in an error.
async fn read_each(suppliers: &Suppliers) -> [Error; 3] {
    [
        suppliers
            .foxreload()
            .unwrap()
            .order("order-1")
            .await
            .unwrap_err(),
        suppliers.mousacard().unwrap().balance().await.unwrap_err(),
        suppliers
            .cryptorefills()
            .unwrap()
            .order("order-1")
            .await
            .unwrap_err(),
    ]
}

fn http(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn a_redirect_to_another_origin_delivers_no_credential_anywhere() {
    let (elsewhere, stolen) = serve(|_, socket| answer(socket, http("200 OK", "", "{}"))).await;
    for target in [
        format!("{elsewhere}/collect"),
        // Same port, other host name: still another origin.
        elsewhere.replace("127.0.0.1", "localhost") + "/collect",
    ] {
        let location = target.clone();
        let (upstream, asked) = serve(move |_, socket| {
            let location = location.clone();
            answer(
                socket,
                http(
                    "302 Found",
                    &format!("location: {location}?token=x\r\n"),
                    "",
                ),
            )
        })
        .await;
        let suppliers = all_three(&upstream);
        for err in read_each(&suppliers).await {
            let Error::Transport { message, .. } = &err else {
                panic!("{err:?}");
            };
            assert!(
                message.contains(&format!("refused a redirect to another origin: {target}")),
                "{message}"
            );
            assert!(!message.contains("token"), "{message}");
        }
        assert_eq!(asked.lock().unwrap().len(), 3);
    }
    assert!(
        stolen.lock().unwrap().is_empty(),
        "the other origin was reached: {:?}",
        stolen.lock().unwrap()
    );
}

#[tokio::test]
async fn a_same_origin_trailing_slash_redirect_is_followed_with_credentials() {
    let (upstream, heads) = serve(|head, socket| async move {
        let reply = if head.starts_with("GET /api/orders/order-1/ ") {
            http("200 OK", "content-type: application/json\r\n", FOX_ORDER)
        } else {
            http(
                "307 Temporary Redirect",
                "location: /api/orders/order-1/\r\n",
                "",
            )
        };
        answer(socket, reply).await
    })
    .await;
    let order = all_three(&upstream)
        .foxreload()
        .unwrap()
        .order("order-1")
        .await
        .unwrap();
    assert_eq!(order.delivery.codes, ["AAAA-BBBB"]);
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 2);
    assert!(
        heads[1]
            .to_lowercase()
            .contains("x-api-key: fox-secret-key"),
        "{}",
        heads[1]
    );
}

#[tokio::test]
async fn endless_redirects_within_the_origin_stop_after_a_few_hops() {
    let (upstream, heads) = serve(|_, socket| {
        answer(
            socket,
            http("307 Temporary Redirect", "location: /again\r\n", ""),
        )
    })
    .await;
    let err = all_three(&upstream)
        .foxreload()
        .unwrap()
        .order("order-1")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("refused a redirect after 5 hops"),
        "{err}"
    );
    assert_eq!(heads.lock().unwrap().len(), 6);
}

/// Headers at once, then one byte of the body every 200 ms; a product is answered at
/// once (a purchase reads it first).
async fn trickle(head: String, mut socket: tokio::net::TcpStream) {
    if head.starts_with("GET /api/products/") {
        let product = r#"{"id": "product_1", "name": "Steam 500 RUB", "price": "6.50"}"#;
        let reply = http("200 OK", "content-type: application/json\r\n", product);
        return answer(socket, reply).await;
    }
    let body = FOX_ORDER.as_bytes();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    if socket.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    for byte in body {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if socket.write_all(&[*byte]).await.is_err() {
            return;
        }
    }
}

fn with_deadline(base_url: &str, attempt: Duration, retry: RetryPolicy) -> Suppliers {
    Suppliers::builder()
        .foxreload(FoxReloadConfig::new("k", base_url).unwrap())
        .retry(retry)
        .attempt_timeout(attempt)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_trickling_body_ends_a_read_at_the_attempt_deadline() {
    let (upstream, heads) = serve(trickle).await;
    let suppliers = with_deadline(&upstream, Duration::from_millis(600), RetryPolicy::never());
    let started = Instant::now();
    let err = suppliers
        .foxreload()
        .unwrap()
        .order("order-1")
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let Error::Transport { message, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        message.contains("no complete answer within 600ms"),
        "{message}"
    );
    assert_eq!(heads.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn retried_reads_stay_inside_the_overall_budget() {
    let (upstream, heads) = serve(trickle).await;
    let policy = RetryPolicy {
        max_attempts: 10,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        max_elapsed: Duration::from_millis(1500),
        ..RetryPolicy::default()
    };
    let suppliers = with_deadline(&upstream, Duration::from_millis(400), policy);
    let started = Instant::now();
    let err = suppliers
        .foxreload()
        .unwrap()
        .order("order-1")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let attempts = heads.lock().unwrap().len();
    assert!((2..=5).contains(&attempts), "{attempts} attempts");
}

#[tokio::test]
async fn a_purchase_whose_answer_trickles_past_the_deadline_is_ambiguous() {
    let (upstream, heads) = serve(trickle).await;
    let suppliers = with_deadline(
        &upstream,
        Duration::from_millis(600),
        RetryPolicy::default(),
    );
    let line = OrderLine::new("product_1", 1);
    let err = suppliers
        .foxreload()
        .unwrap()
        .buy(&[line])
        .await
        .unwrap_err();
    let Error::AmbiguousPurchase { cause, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(cause.contains("no complete answer within"), "{cause}");
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 2, "the product read, then the purchase once");
    assert!(heads[1].starts_with("POST /api/orders/"), "{}", heads[1]);
}

fn capped(base_url: &str, bytes: usize) -> Suppliers {
    Suppliers::builder()
        .foxreload(FoxReloadConfig::new("k", base_url).unwrap())
        .mousacard(MousaCardConfig::new("t", base_url).unwrap())
        .retry(RetryPolicy::never())
        .max_response_bytes(bytes)
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_endless_body_stops_at_the_limit_with_an_error_naming_it() {
    let (upstream, _) = serve(endless_json).await;
    let suppliers = capped(&upstream, 1024 * 1024);
    let err = suppliers
        .foxreload()
        .unwrap()
        .order("order-1")
        .await
        .unwrap_err();
    let Error::UnexpectedResponse {
        status, excerpt, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*status, 200);
    assert_eq!(excerpt, "the body is larger than the 1048576-byte limit");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_reading() {
    let (upstream, _) = serve(|_, socket| {
        answer(
            socket,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 900000000\r\n\r\n[".into(),
        )
    })
    .await;
    let started = Instant::now();
    let err = capped(&upstream, 4096)
        .foxreload()
        .unwrap()
        .order("order-1")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("larger than the 4096-byte limit"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_purchase_whose_answer_is_over_the_limit_is_ambiguous() {
    let (upstream, heads) = serve(endless_json).await;
    let suppliers = capped(&upstream, 64 * 1024);
    let purchase = suppliers::adapters::mousacard::Purchase {
        product_id: 12310,
        quantity: 1,
        custom_fields: Default::default(),
    };
    let err = suppliers
        .mousacard()
        .unwrap()
        .buy(&purchase)
        .await
        .unwrap_err();
    let Error::AmbiguousPurchase { cause, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(cause.contains("65536-byte limit"), "{cause}");
    assert_eq!(heads.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn every_error_names_the_status_that_came_back() {
    // MousaCard's declared 401/403/404 bodies are its envelope; WordPress and proxies
    // answer other shapes.
    let (upstream, _) = serve(|head, socket| async move {
        let reply = if head.starts_with("GET /orders/") {
            http(
                "404 Not Found",
                "content-type: application/json\r\n",
                r#"{"code": "rest_no_route", "message": "No route was found", "data": {"status": 404}}"#,
            )
        } else if head.starts_with("GET /balance") {
            http("403 Forbidden", "content-type: text/html\r\n", "<h1>blocked</h1>")
        } else if head.starts_with("GET /api/orders/") {
            http(
                "422 Unprocessable Entity",
                "content-type: application/json\r\n",
                r#"{"unexpected": true}"#,
            )
        } else {
            http(
                "200 OK",
                "content-type: application/json\r\n",
                r#"{"not": "an order"}"#,
            )
        };
        answer(socket, reply).await
    })
    .await;
    let suppliers = all_three(&upstream);
    let mousa = suppliers.mousacard().unwrap();
    let err = mousa.order(242859).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("No route was found"), "{err}");
    let err = mousa.balance().await.unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    let err = suppliers
        .foxreload()
        .unwrap()
        .order("order-1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 422"), "{err}");
    let err = suppliers
        .cryptorefills()
        .unwrap()
        .order("order-1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedResponse { status: 200, .. }),
        "{err:?}"
    );
}

/// The first answer: headers and 20 bytes at once, then one byte every 3 s (under the
/// 1 byte/s floor); later answers whole at once. Each answer on its own connection
/// (the first is never reused).
async fn drip_then_answer(
    head: String,
    mut socket: tokio::net::TcpStream,
    answered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let _ = head;
    let body = FOX_ORDER.as_bytes();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    if answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(body).await;
        return;
    }
    if socket.write_all(head.as_bytes()).await.is_err()
        || socket.write_all(&body[..20]).await.is_err()
    {
        return;
    }
    for byte in &body[20..] {
        tokio::time::sleep(Duration::from_secs(3)).await;
        if socket.write_all(&[*byte]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_body_dripping_under_the_floor_is_cut_after_the_grace_period_and_read_again_on_a_fresh_connection()
 {
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = answered.clone();
    let (upstream, heads) =
        serve(move |head, socket| drip_then_answer(head, socket, counter.clone())).await;
    // The default policy: a 30 s attempt deadline, which the drip would hold to the end.
    let suppliers = Suppliers::builder()
        .foxreload(FoxReloadConfig::new("k", &upstream).unwrap())
        .build()
        .unwrap();
    let started = Instant::now();
    let order = suppliers
        .foxreload()
        .unwrap()
        .order("order-1")
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(order.id, "order-1");
    assert_eq!(
        order.delivery.codes.len(),
        1,
        "decoded whole, from the second answer"
    );
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(12),
        "cut after the 5 s grace period, well before 30 s: {took:?}"
    );
    assert_eq!(
        heads.lock().unwrap().len(),
        2,
        "two requests, two connections"
    );
}

#[tokio::test]
async fn a_purchase_whose_answer_drips_under_the_floor_is_ambiguous_after_the_grace_period_and_not_sent_again()
 {
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = answered.clone();
    let (upstream, heads) = serve(move |head, socket| {
        let counter = counter.clone();
        async move {
            // The product read a purchase makes first answers at once.
            if head.starts_with("GET /api/products/") {
                let product = r#"{"id": "product_1", "name": "Steam 500 RUB", "price": "6.50"}"#;
                let reply = http("200 OK", "content-type: application/json\r\n", product);
                return answer(socket, reply).await;
            }
            drip_then_answer(head, socket, counter).await
        }
    })
    .await;
    let suppliers = Suppliers::builder()
        .foxreload(FoxReloadConfig::new("k", &upstream).unwrap())
        .build()
        .unwrap();
    let started = Instant::now();
    let err = suppliers
        .foxreload()
        .unwrap()
        .buy(&[OrderLine::new("product_1", 1)])
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    let Error::AmbiguousPurchase { cause, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(cause.contains("stalled"), "{cause}");
    let creates = heads
        .lock()
        .unwrap()
        .iter()
        .filter(|h| h.starts_with("POST /api/orders/"))
        .count();
    assert_eq!(creates, 1, "a purchase is never sent again");
}
