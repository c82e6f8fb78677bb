//! [`Tracker`] against the sandbox on 127.0.0.1: every bought order is followed to its
//! outcome and handed to the caller until the handler takes it, with one event id per
//! outcome; a stopped tracker lets its orders go. Each test runs with an SQLite file
//! journal, and with PostgreSQL where libpq's `PG*` variables point.

mod journaled;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use journaled::{facade, locations};
use suppliers::journal::Fulfilment;
use suppliers::model::{OrderStatus, SupplierId};
use suppliers::tracker::{Report, Tracker, TrackerConfig};
use suppliers::{BuyRequest, Journal, Suppliers};
use suppliers_sandbox::{Sandbox, SandboxConfig, Timings};

async fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        timings: Timings::fast(),
        ..config
    })
    .await
    .unwrap()
}

fn fast() -> TrackerConfig {
    TrackerConfig {
        round: Duration::from_millis(100),
        min_poll_delay: Duration::from_millis(100),
        max_poll_delay: Duration::from_millis(500),
        requests_per_second: 200.0,
        timeout: Some(Duration::from_secs(60)),
        ..TrackerConfig::default()
    }
}

/// Buys `n` of each supplier's product under references `<supplier>-<i>`, without
/// waiting for the goods.
async fn buy_each(suppliers: &Suppliers, n: usize) -> BTreeSet<String> {
    let mut references = BTreeSet::new();
    for i in 0..n {
        for (supplier, product) in [
            (SupplierId::FoxReload, "product_01krgfgww8eth9xvvysd6y7r4j"),
            (SupplierId::MousaCard, "12330"),
            (SupplierId::Cryptorefills, "giftcard/Airbnb/US/100"),
        ] {
            let mut request = BuyRequest::new(product, 1);
            request.email = Some("user@example.com".into());
            request.reference = Some(format!("{supplier}-{i}"));
            let receipt = suppliers.buy(supplier, &request).await.unwrap();
            references.insert(receipt.reference);
        }
    }
    references
}

#[tokio::test]
async fn every_bought_order_is_reported_with_its_codes_until_the_handler_takes_it() {
    for (location, _dir) in locations() {
        let sandbox = sandbox(SandboxConfig {
            cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(300)),
            ..SandboxConfig::default()
        })
        .await;
        let suppliers = facade(&sandbox, &location).await;
        let bought = buy_each(&suppliers, 3).await;
        assert_eq!(suppliers.awaiting_fulfilment().await.unwrap().len(), 9);

        // The handler refuses every event the first time it sees it.
        let seen: Arc<Mutex<BTreeMap<String, Vec<Report>>>> = Arc::default();
        let tracker = Tracker::new(&suppliers, fast()).unwrap();
        let summary = tracker
            .run(
                |report: Report| {
                    let seen = seen.clone();
                    async move {
                        let mut seen = seen.lock().unwrap();
                        let calls = seen.entry(report.reference.clone()).or_default();
                        calls.push(report);
                        match calls.len() {
                            1 => Err("receiver busy"),
                            _ => Ok(()),
                        }
                    }
                },
                std::future::pending(),
            )
            .await
            .unwrap();
        assert_eq!(summary.reported, 9, "{location}");
        assert_eq!(summary.still_open, 0);
        assert!(!summary.stopped);

        let seen = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), bought);
        for (reference, calls) in seen.iter() {
            assert_eq!(calls.len(), 2, "{reference}: refused once, then taken");
            assert_eq!(calls[0], calls[1], "{reference}: the same report again");
            let report = &calls[1];
            assert!(report.event_id.starts_with("evt_"));
            assert_eq!(report.outcome, Fulfilment::Delivered, "{reference}");
            assert_eq!(report.event_type(), "order.delivered");
            assert_eq!(report.order.status, OrderStatus::Completed);
            assert!(!report.order.delivery.codes.is_empty(), "{reference}");
        }
        let ids: BTreeSet<&String> = seen.values().map(|c| &c[1].event_id).collect();
        assert_eq!(ids.len(), 9, "one event id per order");

        let entries = suppliers.journal().unwrap();
        for reference in &bought {
            let supplier = reference.split('-').next().unwrap();
            let entry = entries.get(supplier, reference).await.unwrap().unwrap();
            assert_eq!(entry.fulfilment, Some(Fulfilment::Delivered), "{reference}");
            assert!(entry.reported_at.is_some() && entry.owner.is_none());
        }
        assert!(suppliers.awaiting_fulfilment().await.unwrap().is_empty());
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn an_order_its_customer_never_pays_expires_undelivered() {
    for (location, _dir) in locations() {
        let sandbox = sandbox(SandboxConfig {
            cryptorefills_auto_pay_after: None,
            cryptorefills_payment_window: chrono::TimeDelta::seconds(1),
            ..SandboxConfig::default()
        })
        .await;
        let suppliers = facade(&sandbox, &location).await;
        let mut request = BuyRequest::new("giftcard/Airbnb/US/100", 1);
        request.email = Some("user@example.com".into());
        request.reference = Some("never-paid".into());
        suppliers
            .buy(SupplierId::Cryptorefills, &request)
            .await
            .unwrap();

        let reports: Arc<Mutex<Vec<Report>>> = Arc::default();
        let summary = Tracker::new(&suppliers, fast())
            .unwrap()
            .run(
                |report| {
                    let reports = reports.clone();
                    async move {
                        reports.lock().unwrap().push(report);
                        Ok::<(), String>(())
                    }
                },
                std::future::pending(),
            )
            .await
            .unwrap();
        assert_eq!(summary.reported, 1);
        let reports = std::mem::take(&mut *reports.lock().unwrap());
        assert_eq!(reports[0].outcome, Fulfilment::Undelivered, "{location}");
        assert_eq!(reports[0].event_type(), "order.undelivered");
        assert_eq!(reports[0].order.status, OrderStatus::Expired);
        assert!(
            reports[0].reason.as_deref().unwrap().contains("expired"),
            "{:?}",
            reports[0].reason
        );
        assert!(reports[0].order.delivery.codes.is_empty());
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_stopped_tracker_lets_its_orders_go_and_a_timed_out_one_leaves_them_open() {
    for (location, _dir) in locations() {
        // Orders take a minute: nothing settles while these trackers run.
        let sandbox = Sandbox::start(SandboxConfig {
            timings: Timings {
                processing_after: Duration::from_millis(50),
                completed_after: Duration::from_secs(60),
            },
            cryptorefills_auto_pay_after: None,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let suppliers = facade(&sandbox, &location).await;
        buy_each(&suppliers, 2).await;

        let never = |_: Report| async { Err::<(), _>("not expected") };
        let stopped = Tracker::new(&suppliers, fast())
            .unwrap()
            .run(never, tokio::time::sleep(Duration::from_millis(400)))
            .await
            .unwrap();
        assert!(stopped.stopped, "{location}");
        assert_eq!((stopped.reported, stopped.still_open), (0, 6));
        // Released: another process may take every one of them at once.
        let other = Journal::open(&location).await.unwrap();
        assert_eq!(other.claim_for_tracking(100).await.unwrap().len(), 6);
        other.release_tracking().await.unwrap();

        let timed_out = Tracker::new(
            &suppliers,
            TrackerConfig {
                timeout: Some(Duration::from_millis(400)),
                ..fast()
            },
        )
        .unwrap()
        .run(never, std::future::pending())
        .await
        .unwrap();
        assert!(!timed_out.stopped);
        assert_eq!((timed_out.reported, timed_out.still_open), (0, 6));
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_429_pauses_the_trackers_requests_to_that_supplier_only() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("journal.sqlite3").display().to_string();
    let sandbox = sandbox(SandboxConfig {
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(100)),
        ..SandboxConfig::default()
    })
    .await;
    let suppliers = facade(&sandbox, &location).await;
    buy_each(&suppliers, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // every order settled
    sandbox.faults().add(
        suppliers_sandbox::FaultRule::new(
            "/mousacard/orders/status",
            suppliers_sandbox::Fault::RateLimit {
                retry_after_secs: 2,
            },
            1,
        )
        .for_method(axum::http::Method::POST),
    );
    let started = tokio::time::Instant::now();
    let reported: Arc<Mutex<Vec<(SupplierId, Duration)>>> = Arc::default();
    Tracker::new(&suppliers, fast())
        .unwrap()
        .run(
            |report| {
                let reported = reported.clone();
                async move {
                    reported
                        .lock()
                        .unwrap()
                        .push((report.supplier, started.elapsed()));
                    Ok::<(), String>(())
                }
            },
            std::future::pending(),
        )
        .await
        .unwrap();
    let reported = std::mem::take(&mut *reported.lock().unwrap());
    assert_eq!(reported.len(), 6);
    for (supplier, after) in reported {
        match supplier {
            SupplierId::MousaCard => assert!(after >= Duration::from_secs(2), "{after:?}"),
            _ => assert!(after < Duration::from_secs(2), "{supplier}: {after:?}"),
        }
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn orders_beyond_the_stream_cap_are_polled_at_the_whole_budget_of_a_distant_supplier() {
    const BUDGET: f64 = 50.0;
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("journal.sqlite3").display().to_string();
    let sandbox = Sandbox::start(SandboxConfig {
        timings: Timings::completing_after(Duration::from_secs(4)),
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(100)),
        // Ten polls in flight are needed to spend the budget: more than a fixed 8.
        latency: Some(suppliers_sandbox::Latency {
            base: Duration::from_millis(200),
            jitter: Duration::ZERO,
        }),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let suppliers = facade(&sandbox, &location).await;
    let bought = futures::future::join_all((0..30).map(|i| {
        let suppliers = &suppliers;
        async move {
            let mut request = BuyRequest::new("giftcard/Airbnb/US/100", 1);
            request.email = Some("user@example.com".into());
            request.reference = Some(format!("cryptorefills-{i}"));
            suppliers
                .buy(SupplierId::Cryptorefills, &request)
                .await
                .unwrap()
                .reference
        }
    }))
    .await;

    let count = || sandbox.requests_served_by("cryptorefills");
    let before = count();
    let started = tokio::time::Instant::now();
    let window = async {
        // Every order is still open in this window: polls are all that is sent.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let first = count();
        tokio::time::sleep(Duration::from_secs(2)).await;
        count() - first
    };
    let tracker = Tracker::new(
        &suppliers,
        TrackerConfig {
            max_streams: 2,
            requests_per_second: BUDGET,
            ..fast()
        },
    )
    .unwrap();
    let tracking = tracker.run(
        |report| async move {
            assert_eq!(report.outcome, Fulfilment::Delivered);
            Ok::<(), String>(())
        },
        std::future::pending(),
    );
    let (in_window, summary) = tokio::join!(window, tracking);
    let summary = summary.unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let made = count() - before;
    assert_eq!(summary.reported, bought.len());
    assert!(
        made as f64 <= BUDGET * elapsed + 1.0,
        "{made} requests in {elapsed:.2} s at {BUDGET}/s"
    );
    assert!(
        in_window as f64 >= 0.9 * BUDGET * 2.0,
        "{in_window} requests in 2 s: the budget of {BUDGET}/s was not used"
    );
    sandbox.shutdown().await;
}
