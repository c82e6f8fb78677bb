//! What happens after a purchase, over real HTTP: the configured share of orders fails
//! (FoxReload `failed` and MousaCard `rejected`, refunded; Cryptorefills `Refunded`),
//! Cryptorefills orders never paid expire, the FoxReload order list filters by status
//! and pages, and the latency option delays answers.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{Value, json};
use suppliers_sandbox::{Fault, FaultRule, Latency, Sandbox, SandboxConfig, Timings};

const STEAM_500_RUB: &str = "product_01krgfgww8eth9xvvysd6y7r4j";

/// The sandbox's one credential, as each supplier takes it.
fn foxreload(http: &reqwest::Client, url: String) -> reqwest::RequestBuilder {
    http.get(url).header("X-API-Key", "sandbox")
}

fn mousacard(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request.header("Authorization", "Bearer sandbox")
}

fn cryptorefills(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request
        .header("X-Cr-Application", "sandbox")
        .header("X-Cr-Version", "1.0.0")
}

async fn json_of(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn decimal(value: &Value) -> Decimal {
    match value {
        Value::String(text) => text.parse().unwrap(),
        other => other.to_string().parse().unwrap(),
    }
}

/// Polls `read` until `done` holds for what it answers, for at most 10 s.
async fn settled<F, Fut>(mut read: F, done: impl Fn(&Value) -> bool) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "never settled: {value}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates and pays one FoxReload order of one Steam 500 RUB (6.50); its id.
async fn foxreload_buy(http: &reqwest::Client, base: &str) -> String {
    let (status, order) = json_of(
        http.post(format!("{base}/api/orders/"))
            .header("X-API-Key", "sandbox")
            .json(&json!({"items": [{"itemId": STEAM_500_RUB, "quantity": 1}]})),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, payment) = json_of(
        http.post(format!("{base}/api/orders/{id}/pay"))
            .header("X-API-Key", "sandbox")
            .json(&json!({"paymentProvider": null})),
    )
    .await;
    assert_eq!(status, 200, "{payment}");
    id
}

async fn foxreload_balance(http: &reqwest::Client, base: &str) -> Decimal {
    let (_, balances) = json_of(foxreload(http, format!("{base}/api/access/me/balances/"))).await;
    decimal(&balances[0]["available"])
}

#[tokio::test]
async fn half_of_the_paid_foxreload_orders_fail_without_codes_and_are_refunded() {
    let sandbox = Sandbox::start(SandboxConfig {
        // Long enough to read the balance while all 20 are still charged.
        timings: Timings::completing_after(Duration::from_millis(1500)),
        failure_share: 0.5,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let (http, base) = (reqwest::Client::new(), sandbox.foxreload_url());
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(foxreload_buy(&http, &base).await);
    }
    assert_eq!(
        foxreload_balance(&http, &base).await,
        Decimal::new(100_000 - 20 * 650, 2),
        "every order is charged until it fails"
    );

    let mut failed = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let order = settled(
            || async {
                json_of(foxreload(&http, format!("{base}/api/orders/{id}")))
                    .await
                    .1
            },
            |order| matches!(order["status"].as_str(), Some("completed" | "failed")),
        )
        .await;
        let item = &order["items"][0];
        if order["status"] == "failed" {
            failed.push(n);
            assert!(item["externalData"].is_null(), "no codes: {order}");
            assert!(
                item["error"].as_str().is_some_and(|e| !e.is_empty()),
                "a reason: {order}"
            );
            assert!(order["cancelReason"].is_null());
        } else {
            assert_eq!(item["externalData"].as_array().unwrap().len(), 1, "{order}");
            assert!(item["error"].is_null());
        }
    }
    // Every second payment fails: the counter picks them, the same ones every run.
    assert_eq!(failed, (1..20).step_by(2).collect::<Vec<_>>());
    assert_eq!(
        foxreload_balance(&http, &base).await,
        Decimal::new(100_000 - 10 * 650, 2),
        "the failed half is refunded"
    );
    let (_, product) = json_of(foxreload(
        &http,
        format!("{base}/api/products/{STEAM_500_RUB}"),
    ))
    .await;
    assert_eq!(
        product["quantity"],
        1000 - 10,
        "the failed units are back in stock"
    );
    let (_, page) = json_of(foxreload(
        &http,
        format!("{base}/api/orders/?status=failed&limit=100"),
    ))
    .await;
    assert_eq!(page["total"], 10);
    // The books say the same: every order charged, the failed half refunded, and the
    // balance moved by exactly that.
    let books = sandbox.foxreload().books();
    assert_eq!(
        books.orders.iter().map(|o| &o.id).collect::<Vec<_>>(),
        ids.iter().collect::<Vec<_>>(),
        "in creation order"
    );
    assert!(books.orders.iter().all(|o| o.charged));
    let refunded: Vec<usize> = (0..20).filter(|&n| books.orders[n].refunded).collect();
    assert_eq!(refunded, failed);
    assert_eq!(books.net_charged(), Decimal::new(10 * 650, 2));
    assert_eq!(books.unexplained_balance_change(), Some(Decimal::ZERO));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn half_of_the_mousacard_orders_are_rejected_and_refunded() {
    let sandbox = Sandbox::start(SandboxConfig {
        timings: Timings::completing_after(Duration::from_millis(1500)),
        failure_share: 0.5,
        mousacard_balance: Decimal::new(1000, 0),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let (http, base) = (reqwest::Client::new(), sandbox.mousacard_url());
    let mut ids = Vec::new();
    for n in 0..20 {
        // Gift Card 10 USD completes in the purchase answer, unless picked to fail.
        let (status, created) = json_of(
            mousacard(http.post(format!("{base}/orders")))
                .json(&json!({"product_id": 12330, "quantity": 1})),
        )
        .await;
        assert_eq!(status, 200, "{created}");
        let data = &created["data"];
        let picked = n % 2 == 1;
        let expected = if picked { "processing" } else { "completed" };
        assert_eq!(data["status"], expected, "order {n}: {created}");
        assert_eq!(
            data["codes"].as_array().map_or(0, Vec::len),
            usize::from(!picked)
        );
        ids.push(data["order_id"].as_i64().unwrap());
    }
    let balance = || async {
        let (_, balance) = json_of(mousacard(http.get(format!("{base}/balance")))).await;
        decimal(&balance["data"]["balance"])
    };
    assert_eq!(balance().await, Decimal::new(1000 - 20 * 10, 0));

    // The batch status call, as a tracker reads them.
    let statuses = settled(
        || async {
            let request = http
                .post(format!("{base}/orders/status"))
                .json(&json!({"order_ids": ids}));
            json_of(mousacard(request)).await.1
        },
        |answer| {
            answer["data"]["orders"]
                .as_array()
                .unwrap()
                .iter()
                .all(|order| order["status"] != "processing")
        },
    )
    .await;
    let orders = statuses["data"]["orders"].as_array().unwrap();
    let rejected: Vec<usize> = (0..orders.len())
        .filter(|&n| orders[n]["status"] == "rejected")
        .collect();
    assert_eq!(
        rejected,
        (1..20).step_by(2).collect::<Vec<_>>(),
        "{statuses}"
    );
    for order in orders {
        let codes = order["codes"].as_array().map_or(0, Vec::len);
        match order["status"].as_str().unwrap() {
            "rejected" => assert_eq!(codes, 0, "{order}"),
            "completed" => assert_eq!(codes, 1, "{order}"),
            other => panic!("{other}: {order}"),
        }
    }
    let (_, one) = json_of(mousacard(http.get(format!("{base}/orders/{}", ids[1])))).await;
    assert_eq!(one["data"]["status"], "rejected");
    assert_eq!(
        balance().await,
        Decimal::new(1000 - 10 * 10, 0),
        "rejected ones refunded"
    );
    let books = sandbox.mousacard().books();
    assert_eq!(books.orders.len(), 20);
    let refunded: Vec<usize> = (0..20).filter(|&n| books.orders[n].refunded).collect();
    assert_eq!(refunded, rejected);
    assert_eq!(books.unexplained_balance_change(), Some(Decimal::ZERO));
    sandbox.shutdown().await;
}

fn cryptorefills_order_body() -> Value {
    json!({
        "email": "buyer@example.com",
        "user": {"email": "buyer@example.com", "has_accepted_newsletter": false},
        "lang": "en",
        "payment": {"type": "via", "payment_via": "USER_WALLET", "coin": "USDC", "network": "Solana"},
        "deliveries": [{"beneficiary_account": "buyer@example.com", "brand_name": "Amazon",
                        "country_code": "US", "denomination": "10 USD"}]
    })
}

#[tokio::test]
async fn cryptorefills_orders_expire_unpaid_or_are_refunded_after_payment() {
    let sandbox = Sandbox::start(SandboxConfig {
        timings: Timings::completing_after(Duration::from_millis(300)),
        failure_share: 0.5,
        cryptorefills_unpaid_share: 0.5,
        cryptorefills_payment_window: chrono::TimeDelta::seconds(1),
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(100)),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let (http, base) = (reqwest::Client::new(), sandbox.cryptorefills_url());
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..20 {
        let (status, order) = json_of(
            cryptorefills(http.post(format!("{base}/v5/orders"))).json(&cryptorefills_order_body()),
        )
        .await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["order_state"], "WaitingForPayment");
        ids.push(order["order_id"].as_str().unwrap().to_owned());
    }
    let read = |id: String| {
        let http = http.clone();
        let url = format!("{base}/v5/orders/{id}");
        async move { json_of(cryptorefills(http.get(url))).await.1 }
    };

    // Past the automatic payment, inside the window: the unpaid ones still wait.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let unpaid = read(ids[1].clone()).await;
    if started.elapsed() < Duration::from_millis(900) {
        assert_eq!(unpaid["order_state"], "WaitingForPayment", "{unpaid}");
    }
    let paid = read(ids[0].clone()).await;
    assert_ne!(paid["order_state"], "WaitingForPayment", "{paid}");

    let mut states = Vec::new();
    for id in &ids {
        let order = settled(
            || read(id.clone()),
            |order| {
                matches!(
                    order["order_state"].as_str(),
                    Some("Done" | "Expired" | "Refunded")
                )
            },
        )
        .await;
        let pins: Vec<&Value> = order["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["deliverable"].get("pin_code"))
            .collect();
        let state = order["order_state"].as_str().unwrap().to_owned();
        match state.as_str() {
            "Done" => assert_eq!(pins.len(), 1, "{order}"),
            "Expired" => {
                assert!(pins.is_empty(), "{order}");
                assert_eq!(order["payment_state"], "Expired");
                assert!(
                    started.elapsed() >= Duration::from_secs(1),
                    "expired inside the window"
                );
            }
            "Refunded" => {
                assert!(pins.is_empty(), "{order}");
                assert_eq!(order["payment_state"], "Refunded");
                assert!(
                    order["refund"]["reason"]
                        .as_str()
                        .is_some_and(|r| !r.is_empty())
                );
                assert_eq!(order["refund"]["amount"], order["coin_amount"]);
                assert!(order["deliveries"][0]["deliverable"]["failure_reason"].is_string());
            }
            other => panic!("{other}"),
        }
        states.push(state);
    }
    // Odd orders are never paid; of the paid ones, every second is refunded.
    let expected: Vec<&str> = (0..20)
        .map(|n| match (n % 2, n / 2 % 2) {
            (1, _) => "Expired",
            (0, 1) => "Refunded",
            _ => "Done",
        })
        .collect();
    assert_eq!(states, expected);
    // The books: paid ones charged (the customer paid), refunded ones given back.
    let books = sandbox.cryptorefills().books();
    let by_state = |n: usize| (books.orders[n].charged, books.orders[n].refunded);
    for (n, state) in expected.iter().enumerate() {
        assert_eq!(books.orders[n].id, ids[n]);
        let want = match *state {
            "Expired" => (false, false),
            "Refunded" => (true, true),
            _ => (true, false),
        };
        assert_eq!(by_state(n), want, "order {n}, {state}");
    }
    assert_eq!(books.unexplained_balance_change(), None, "paid per order");

    // Both failure endings close their event stream.
    for id in [&ids[1], &ids[2]] {
        let stream = cryptorefills(http.get(format!("{base}/v5/orders/{id}/subscribe")))
            .send()
            .await
            .unwrap();
        let body = tokio::time::timeout(Duration::from_secs(5), stream.text())
            .await
            .expect("a settled order's stream ends")
            .unwrap();
        assert!(body.contains("event: stop"), "{body}");
    }
    // The sandbox's pay endpoint cannot revive an expired order, nor pay a settled one
    // again.
    for id in [&ids[1], &ids[0], &ids[2]] {
        let (status, _) = json_of(cryptorefills(
            http.post(format!("{base}/_sandbox/orders/{id}/pay")),
        ))
        .await;
        assert_eq!(status, 409, "{id}");
    }
    assert_eq!(read(ids[0].clone()).await["order_state"], "Done");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_unpaid_cryptorefills_order_expires_when_its_one_second_window_closes() {
    let sandbox = Sandbox::start(SandboxConfig {
        cryptorefills_unpaid_share: 1.0,
        cryptorefills_payment_window: chrono::TimeDelta::seconds(1),
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(100)),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let (http, base) = (reqwest::Client::new(), sandbox.cryptorefills_url());
    let created = Instant::now();
    let (_, order) = json_of(
        cryptorefills(http.post(format!("{base}/v5/orders"))).json(&cryptorefills_order_body()),
    )
    .await;
    let id = order["order_id"].as_str().unwrap().to_owned();
    // The stream tells the moment it expires.
    let stream = cryptorefills(http.get(format!("{base}/v5/orders/{id}/subscribe")))
        .send()
        .await
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(5), stream.text())
        .await
        .expect("the stream ends at expiry")
        .unwrap();
    let elapsed = created.elapsed();
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert!(body.contains("\"order_state\":\"Expired\""), "{body}");
    assert!(!body.contains("WaitingForDelivery"), "never paid: {body}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_foxreload_order_list_filters_by_status_and_pages_without_duplicates() {
    let sandbox = Sandbox::start(SandboxConfig {
        // Paid orders stay `processing` for the whole test.
        timings: Timings {
            processing_after: Duration::ZERO,
            completed_after: Duration::from_secs(3600),
        },
        foxreload_balance: Decimal::new(10_000, 0),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let (http, base) = (reqwest::Client::new(), sandbox.foxreload_url());
    let mut paid = HashSet::new();
    for _ in 0..250 {
        paid.insert(foxreload_buy(&http, &base).await);
    }
    // Unpaid orders, which the filter must leave out.
    for _ in 0..5 {
        let (status, _) = json_of(
            http.post(format!("{base}/api/orders/"))
                .header("X-API-Key", "sandbox")
                .json(&json!({"items": [{"itemId": STEAM_500_RUB, "quantity": 1}]})),
        )
        .await;
        assert_eq!(status, 201);
    }
    let page = |query: String| {
        let request = foxreload(&http, format!("{base}/api/orders/?{query}"));
        async move { json_of(request).await }
    };

    let mut seen = Vec::new();
    for (offset, expected) in [(0, 100), (100, 100), (200, 50)] {
        let (status, body) = page(format!("status=processing&limit=100&offset={offset}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["total"], 250);
        assert_eq!(
            (body["limit"].clone(), body["offset"].clone()),
            (json!(100), json!(offset))
        );
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), expected);
        assert!(items.iter().all(|o| o["status"] == "processing"));
        seen.extend(items.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
    }
    let distinct: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(distinct.len(), 250, "no duplicates");
    assert_eq!(distinct, paid, "every paid order, none other");

    let (_, past_the_end) = page("status=processing&limit=100&offset=300".into()).await;
    assert_eq!(past_the_end["items"], json!([]));
    assert_eq!(past_the_end["total"], 250);
    let (_, unpaid) = page("status=active".into()).await;
    assert_eq!(unpaid["total"], 5);
    let (_, none) = page("status=paid".into()).await;
    assert_eq!(none["total"], 0);
    let (_, all) = page("limit=1".into()).await;
    assert_eq!(all["total"], 255);
    // The spec's bounds: limit 1 to 100, offset from 0, a known status.
    for bad in [
        "limit=101",
        "limit=0",
        "offset=-1",
        "status=shipped",
        "status=",
    ] {
        let (status, body) = page(bad.into()).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_latency_option_delays_every_answer_but_not_a_streams_events() {
    let base_delay = Duration::from_millis(400);
    let sandbox = Sandbox::start(SandboxConfig {
        latency: Some(Latency {
            base: base_delay,
            jitter: Duration::from_millis(100),
        }),
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::zero()),
        timings: Timings::completing_after(Duration::ZERO),
        faults: vec![FaultRule::new(
            "/mousacard/balance",
            Fault::RateLimit {
                retry_after_secs: 1,
            },
            1,
        )],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let timed = |request: reqwest::RequestBuilder| async move {
        let started = Instant::now();
        let response = request.send().await.unwrap();
        (started.elapsed(), response)
    };
    let (elapsed, response) = timed(foxreload(
        &http,
        format!("{}/api/access/me", sandbox.foxreload_url()),
    ))
    .await;
    assert_eq!(response.status(), 200);
    assert!(elapsed >= base_delay, "{elapsed:?}");
    // A refused request travels as far as an answer.
    let (elapsed, response) = timed(mousacard(
        http.get(format!("{}/balance", sandbox.mousacard_url())),
    ))
    .await;
    assert_eq!(response.status(), 429);
    assert!(elapsed >= base_delay, "{elapsed:?}");

    // An event stream waits before it opens; its events then come at once.
    let (_, created) = json_of(
        cryptorefills(http.post(format!("{}/v5/orders", sandbox.cryptorefills_url())))
            .json(&cryptorefills_order_body()),
    )
    .await;
    let id = created["order_id"].as_str().unwrap();
    let (opened, stream) = timed(cryptorefills(http.get(format!(
        "{}/v5/orders/{id}/subscribe",
        sandbox.cryptorefills_url()
    ))))
    .await;
    assert!(opened >= base_delay, "{opened:?}");
    let started = Instant::now();
    let body = stream.text().await.unwrap();
    assert!(body.contains("\"order_state\":\"Done\""), "{body}");
    assert!(body.contains("event: stop"), "{body}");
    assert!(
        started.elapsed() < base_delay,
        "events are not delayed: {:?}",
        started.elapsed()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_share_outside_zero_to_one_is_refused_at_start() {
    let error = Sandbox::start(SandboxConfig {
        failure_share: 1.5,
        ..SandboxConfig::default()
    })
    .await
    .err()
    .expect("refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("failure_share"), "{error}");
}
