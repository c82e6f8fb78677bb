//! `suppliers track` as real processes: orders bought without waiting are followed to
//! their outcome and pushed to a webhook receiver in this test, which checks every
//! Standard Webhooks signature, refuses some first deliveries and is down at the
//! start; trackers killed with SIGKILL lose nothing; three trackers on one journal
//! share the orders. The sandbox and the receiver run in this process on 127.0.0.1.

#[path = "../../suppliers-journal/tests/support/postgres.rs"]
mod postgres;
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use suppliers::config::{CryptorefillsConfig, FoxReloadConfig, MousaCardConfig};
use suppliers::model::SupplierId;
use suppliers::{BuyRequest, Journal, Suppliers};
use suppliers_sandbox::{Sandbox, SandboxConfig, Timings};
use support::{journal_file, runtime, suppliers_process};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A sandbox where a share of orders fails after the purchase and a share of
/// Cryptorefills orders is never paid (their 2 s window closes).
fn sandbox(rt: &tokio::runtime::Runtime) -> (Sandbox, HashMap<String, String>) {
    let sandbox = rt
        .block_on(Sandbox::start(SandboxConfig {
            timings: Timings::fast(),
            failure_share: 0.25,
            cryptorefills_unpaid_share: 0.2,
            cryptorefills_payment_window: chrono::TimeDelta::seconds(2),
            cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(300)),
            mousacard_balance: rust_decimal::Decimal::new(100_000, 0),
            foxreload_balance: rust_decimal::Decimal::new(100_000, 0),
            ..SandboxConfig::default()
        }))
        .unwrap();
    let vars = sandbox
        .environment()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    (sandbox, vars)
}

/// Buys `per_supplier` orders of each supplier through the facade, without waiting;
/// returns every reference.
fn buy(
    rt: &tokio::runtime::Runtime,
    sandbox: &Sandbox,
    journal: &str,
    per_supplier: usize,
) -> BTreeSet<String> {
    rt.block_on(async {
        let suppliers = Suppliers::builder()
            .foxreload(FoxReloadConfig::new("sandbox", &sandbox.foxreload_url()).unwrap())
            .mousacard(MousaCardConfig::new("sandbox", &sandbox.mousacard_url()).unwrap())
            .cryptorefills(
                CryptorefillsConfig::new("sandbox", "1.0.0", &sandbox.cryptorefills_url()).unwrap(),
            )
            .journal(Journal::open(journal).await.unwrap())
            .build()
            .unwrap();
        let mut references = BTreeSet::new();
        for i in 0..per_supplier {
            for (supplier, product) in [
                (SupplierId::FoxReload, "product_01krgfgww8eth9xvvysd6y7r4j"),
                (SupplierId::MousaCard, "12330"),
                (SupplierId::Cryptorefills, "giftcard/Airbnb/US/100"),
            ] {
                let mut request = BuyRequest::new(product, 1);
                request.email = Some("user@example.com".into());
                request.reference = Some(format!("{supplier}-{i}"));
                suppliers.buy(supplier, &request).await.unwrap();
                references.insert(format!("{supplier}-{i}"));
            }
        }
        references
    })
}

/// One delivery the receiver took (answered 2xx).
#[derive(Debug, Clone)]
struct Delivery {
    tracker: String,
    id: String,
    event: serde_json::Value,
}

#[derive(Default)]
struct Receiver {
    taken: Vec<Delivery>,
    refused: BTreeSet<String>,
    bad_signatures: usize,
    /// Refuse the first delivery of every `refuse_every`-th event with 500.
    refuse_every: usize,
    /// Each answer takes this long.
    slow: Duration,
}

type Shared = Arc<Mutex<Receiver>>;

async fn receive(
    State(shared): State<Shared>,
    Path(tracker): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let slow = shared.lock().unwrap().slow;
    tokio::time::sleep(slow).await;
    let verifier = standardwebhooks::Webhook::new(SECRET).unwrap();
    let mut receiver = shared.lock().unwrap();
    if verifier.verify(&body, &headers).is_err() {
        receiver.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let id = headers["webhook-id"].to_str().unwrap().to_owned();
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let ordinal = receiver.refused.len() + receiver.taken.len();
    if receiver.refuse_every > 0
        && ordinal % receiver.refuse_every == 0
        && !receiver.refused.contains(&id)
        && !receiver.taken.iter().any(|d| d.id == id)
    {
        receiver.refused.insert(id);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    receiver.taken.push(Delivery { tracker, id, event });
    StatusCode::NO_CONTENT
}

/// A free port on 127.0.0.1, and a receiver that starts listening on it after `down`.
fn receiver(rt: &tokio::runtime::Runtime, shared: Shared, down: Duration) -> u16 {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    rt.spawn(async move {
        tokio::time::sleep(down).await;
        let app = axum::Router::new()
            .route("/hooks/{tracker}", axum::routing::post(receive))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        axum::serve(listener, app).await.unwrap();
    });
    port
}

fn tracker(vars: &HashMap<String, String>, journal: &str, url: &str) -> Child {
    tracker_taking(vars, journal, url, 1000)
}

/// A tracker that takes up at most `batch` journal entries at each look.
fn tracker_taking(vars: &HashMap<String, String>, journal: &str, url: &str, batch: usize) -> Child {
    let batch = batch.to_string();
    suppliers_process(vars, journal)
        .args([
            "--json",
            "track",
            "--webhook",
            url,
            "--round",
            "0.2",
            "--timeout",
            "120",
        ])
        .args(["--claim-batch", &batch])
        .env("SUPPLIERS_WEBHOOK_SECRET", SECRET)
        .env("SUPPLIERS_JOURNAL_LEASE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finished(child: Child) {
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "track: {:?} {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Waits until the receiver took `n` distinct events.
fn until_taken(shared: &Shared, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while distinct(shared) < n {
        assert!(Instant::now() < deadline, "only {} taken", distinct(shared));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn distinct(shared: &Shared) -> usize {
    let receiver = shared.lock().unwrap();
    receiver
        .taken
        .iter()
        .map(|d| &d.id)
        .collect::<BTreeSet<_>>()
        .len()
}

/// Every bought reference was reported; delivered ones carry codes, undelivered ones a
/// reason; one event id per reference, with the same body on every delivery of it.
fn check_reports(shared: &Shared, bought: &BTreeSet<String>) -> BTreeMap<String, Vec<Delivery>> {
    let receiver = shared.lock().unwrap();
    assert_eq!(receiver.bad_signatures, 0);
    let mut by_reference: BTreeMap<String, Vec<Delivery>> = BTreeMap::new();
    for delivery in &receiver.taken {
        let reference = delivery.event["data"]["reference"].as_str().unwrap();
        by_reference
            .entry(reference.to_owned())
            .or_default()
            .push(delivery.clone());
    }
    assert_eq!(
        by_reference.keys().cloned().collect::<BTreeSet<_>>(),
        *bought,
        "every order reported, none lost"
    );
    let mut outcomes = BTreeMap::<(String, String), usize>::new();
    for (reference, deliveries) in &by_reference {
        let first = &deliveries[0];
        assert!(
            deliveries
                .iter()
                .all(|d| d.id == first.id && d.event == first.event),
            "{reference}: one event, the same each time"
        );
        assert_eq!(first.event["id"], first.id.as_str());
        let order = &first.event["data"]["order"];
        let supplier = first.event["data"]["supplier"].as_str().unwrap().to_owned();
        match first.event["type"].as_str().unwrap() {
            "order.delivered" => {
                assert_eq!(order["status"], "completed", "{reference}");
                assert!(
                    !order["codes"].as_array().unwrap().is_empty(),
                    "{reference}"
                );
            }
            "order.undelivered" => {
                assert!(
                    ["failed", "expired", "refunded", "cancelled"]
                        .contains(&order["status"].as_str().unwrap()),
                    "{reference}: {order}"
                );
                assert!(order["codes"].as_array().unwrap().is_empty());
                assert!(
                    !first.event["data"]["reason"].as_str().unwrap().is_empty(),
                    "{reference}"
                );
            }
            other => panic!("{reference}: type {other}"),
        }
        *outcomes
            .entry((supplier, first.event["type"].as_str().unwrap().to_owned()))
            .or_default() += 1;
    }
    eprintln!("outcomes: {outcomes:?}");
    by_reference
}

#[test]
fn sixty_orders_reach_a_webhook_that_is_down_at_first_and_refuses_some_deliveries() {
    let rt = runtime();
    let (sandbox, vars) = sandbox(&rt);
    let (_dir, journal) = journal_file();
    let bought = buy(&rt, &sandbox, &journal, 20);
    assert_eq!(bought.len(), 60);

    let shared: Shared = Arc::new(Mutex::new(Receiver {
        refuse_every: 4,
        ..Receiver::default()
    }));
    let port = receiver(&rt, shared.clone(), Duration::from_secs(2));
    finished(tracker(
        &vars,
        &journal,
        &format!("http://127.0.0.1:{port}/hooks/one"),
    ));

    let reports = check_reports(&shared, &bought);
    let receiver = shared.lock().unwrap();
    assert!(
        receiver.refused.len() >= 10,
        "{} refused",
        receiver.refused.len()
    );
    for id in &receiver.refused {
        assert!(receiver.taken.iter().any(|d| &d.id == id), "{id}: retried");
    }
    // Every outcome the sandbox reaches, at every supplier.
    let types: BTreeSet<(String, String)> = reports
        .values()
        .map(|d| {
            (
                d[0].event["data"]["supplier"].as_str().unwrap().to_owned(),
                d[0].event["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(types.len(), 6, "{types:?}");
    drop(receiver);
    // Nothing awaits any more: a second run has nothing to do.
    finished(tracker(
        &vars,
        &journal,
        &format!("http://127.0.0.1:{port}/hooks/again"),
    ));
    assert_eq!(
        shared
            .lock()
            .unwrap()
            .taken
            .iter()
            .filter(|d| d.tracker == "again")
            .count(),
        0
    );
    rt.block_on(sandbox.shutdown());
}

#[test]
fn a_tracker_killed_mid_way_and_started_again_reports_every_order() {
    let rt = runtime();
    let (sandbox, vars) = sandbox(&rt);
    let (_dir, journal) = journal_file();
    let bought = buy(&rt, &sandbox, &journal, 10);
    let shared: Shared = Arc::new(Mutex::new(Receiver {
        slow: Duration::from_millis(150),
        ..Receiver::default()
    }));
    let port = receiver(&rt, shared.clone(), Duration::ZERO);
    let mut first = tracker(
        &vars,
        &journal,
        &format!("http://127.0.0.1:{port}/hooks/first"),
    );
    until_taken(&shared, 8);
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let before = distinct(&shared);
    assert!(before < bought.len(), "killed mid-way: {before} taken");

    finished(tracker(
        &vars,
        &journal,
        &format!("http://127.0.0.1:{port}/hooks/second"),
    ));
    check_reports(&shared, &bought);
    rt.block_on(sandbox.shutdown());
}

/// Three trackers on one journal, one killed with SIGKILL while it holds orders: every
/// order is reported, and one reported by two trackers only if the dead one was one.
fn three_trackers_one_killed(journal: &str) {
    let rt = runtime();
    let (sandbox, vars) = sandbox(&rt);
    let bought = buy(&rt, &sandbox, journal, 10);
    let shared: Shared = Arc::new(Mutex::new(Receiver {
        slow: Duration::from_millis(100),
        ..Receiver::default()
    }));
    let port = receiver(&rt, shared.clone(), Duration::ZERO);
    let url = |name: &str| format!("http://127.0.0.1:{port}/hooks/{name}");
    // Four entries at each look: the first holds some, not all, when it dies.
    let mut doomed = tracker_taking(&vars, journal, &url("doomed"), 4);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !shared
        .lock()
        .unwrap()
        .taken
        .iter()
        .any(|d| d.tracker == "doomed")
    {
        if Instant::now() > deadline || doomed.try_wait().unwrap().is_some() {
            let _ = doomed.kill();
            let output = doomed.wait_with_output().unwrap();
            panic!(
                "the first tracker never reported: {:?} {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Two more start while it works; it dies holding orders.
    let others = [
        tracker_taking(&vars, journal, &url("b"), 4),
        tracker_taking(&vars, journal, &url("c"), 4),
    ];
    std::thread::sleep(Duration::from_millis(300));
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    for other in others {
        finished(other);
    }
    let reports = check_reports(&shared, &bought);
    let mut trackers_used = BTreeSet::new();
    for (reference, deliveries) in &reports {
        let by: BTreeSet<&str> = deliveries.iter().map(|d| d.tracker.as_str()).collect();
        trackers_used.extend(by.iter().map(|t| t.to_string()));
        assert!(
            by.len() == 1 || by.contains("doomed"),
            "{reference} reported by {by:?}"
        );
    }
    assert!(trackers_used.len() >= 2, "shared: {trackers_used:?}");
    rt.block_on(sandbox.shutdown());
}

#[test]
fn three_trackers_on_one_sqlite_file_share_the_orders_and_lose_none_to_a_kill() {
    let (_dir, journal) = journal_file();
    three_trackers_one_killed(&journal);
}

#[test]
fn three_trackers_on_one_postgres_journal_share_the_orders_and_lose_none_to_a_kill() {
    if postgres::available() {
        three_trackers_one_killed(&postgres::fresh_database());
    }
}

#[test]
fn a_bad_webhook_url_or_secret_is_refused_before_anything_is_tracked() {
    let (_dir, journal) = journal_file();
    let vars = HashMap::new();
    for (url, secret) in [
        ("http://shop.example/hooks", SECRET),
        (
            "https://shop.example/hooks",
            "whsec_c2VjcmV0LXRoYXQtbGVha3M=",
        ),
        ("https://shop.example/hooks", "plain-secret-value"),
    ] {
        let output = suppliers_process(&vars, &journal)
            .args(["track", "--webhook", url])
            .env("SUPPLIERS_WEBHOOK_SECRET", secret)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
        assert!(
            !stderr.contains(secret.trim_start_matches("whsec_")),
            "{stderr}"
        );
    }
    let output = suppliers_process(&vars, &journal)
        .args(["track", "--webhook", "https://shop.example/hooks"])
        .env_remove("SUPPLIERS_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("SUPPLIERS_WEBHOOK_SECRET"));
}

/// `suppliers track` as `args` (stdout captured), against `journal`.
fn track_to_stdout(vars: &HashMap<String, String>, journal: &str, args: &[&str]) -> Child {
    suppliers_process(vars, journal)
        .arg("track")
        .args(["--round", "0.2"])
        .args(args)
        .env("SUPPLIERS_JOURNAL_LEASE", "30")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn track_prints_one_json_event_per_line_and_exits_once_nothing_awaits() {
    let rt = runtime();
    let (sandbox, vars) = sandbox(&rt);
    let (_dir, journal) = journal_file();
    let bought = buy(&rt, &sandbox, &journal, 4);
    let output = track_to_stdout(&vars, &journal, &["--json"])
        .wait_with_output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let references: BTreeSet<String> = events
        .iter()
        .map(|e| e["data"]["reference"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(references, bought);
    for event in &events {
        let keys: BTreeSet<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, BTreeSet::from(["id", "type", "timestamp", "data"]));
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        // `order` is what `suppliers order --json` prints for it.
        let order = &event["data"]["order"];
        let shown = support::json(
            &vars,
            &journal,
            &[
                "order",
                event["data"]["supplier"].as_str().unwrap(),
                order["id"].as_str().unwrap(),
            ],
        );
        assert_eq!(*order, shown);
    }
    rt.block_on(async {
        let journal = Journal::open(&journal).await.unwrap();
        assert!(journal.awaiting_report().await.unwrap().is_empty());
    });

    // The human form: one line per order, reference, supplier, order id, status, codes.
    let order = support::json(
        &vars,
        &journal,
        &[
            "buy",
            "mousacard",
            "12330",
            "--reference",
            "human-1",
            "--yes",
        ],
    );
    let output = track_to_stdout(&vars, &journal, &[])
        .wait_with_output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let id = order["id"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("human-1 mousacard {id} ")),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    rt.block_on(sandbox.shutdown());
}

#[test]
fn sigterm_stops_a_following_tracker_cleanly_and_lets_its_orders_go_at_once() {
    let rt = runtime();
    // Orders that take a minute: nothing settles while the tracker runs.
    let sandbox = rt
        .block_on(Sandbox::start(SandboxConfig {
            timings: Timings {
                processing_after: Duration::from_millis(50),
                completed_after: Duration::from_secs(60),
            },
            cryptorefills_auto_pay_after: None,
            ..SandboxConfig::default()
        }))
        .unwrap();
    let vars: HashMap<String, String> = sandbox
        .environment()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let (_dir, journal) = journal_file();
    buy(&rt, &sandbox, &journal, 2);
    let tracker = track_to_stdout(&vars, &journal, &["--follow"]);
    // Until it holds all six (the lease is 30 s: only a release frees them sooner).
    let held = |journal: &str| {
        rt.block_on(async {
            let journal = Journal::open(journal).await.unwrap();
            let open = journal.awaiting_report().await.unwrap();
            (
                open.len(),
                open.iter().filter(|e| e.owner.is_some()).count(),
            )
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while held(&journal) != (6, 6) {
        assert!(
            Instant::now() < deadline,
            "never took them: {:?}",
            held(&journal)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &tracker.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = tracker.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(held(&journal), (6, 0), "still awaiting, none held");
    rt.block_on(sandbox.shutdown());
}
