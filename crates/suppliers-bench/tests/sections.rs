//! The bench's own machinery against the sandbox: counts that must hold, clients that
//! read what they claim. No timing is asserted.

use std::time::Duration;

use suppliers::order_stream::TrackConfig;
use suppliers_bench::batch_tracking::{self, Tally};
use suppliers_bench::catalog_memory::{self, Consume};
use suppliers_bench::completion_latency::{self, Path};
use suppliers_bench::server::Server;
use suppliers_bench::{Mode, client_runtime, report};
use suppliers_sandbox::{SandboxConfig, Timings};

#[test]
fn batch_tracking_meets_its_required_target_in_quick_mode() {
    let rows = batch_tracking::run(Mode::Quick).unwrap();
    assert_eq!(rows.len(), 4, "N = 1, 50, 51, 500");
    assert!(report::failures(&rows).is_empty(), "{rows:#?}");
    // 500 orders: the first round costs 10 batch requests against 500 (how many rounds
    // follow depends on how fast the orders were created).
    let first_round = |cell: &str| -> String {
        let rounds = cell.split_once(": ").expect("total: rounds").1;
        rounds.split(['+', ' ']).next().unwrap().to_owned()
    };
    assert_eq!(first_round(&rows[3].sdk), "10", "{}", rows[3].sdk);
    assert_eq!(
        first_round(&rows[3].baseline),
        "500",
        "{}",
        rows[3].baseline
    );
}

#[test]
fn the_naive_loop_sends_one_request_per_open_order_and_the_batch_one_per_fifty() {
    let server = Server::start(SandboxConfig {
        timings: Timings::fast(),
        mousacard_balance: 10_000.into(),
        ..SandboxConfig::default()
    })
    .unwrap();
    let sandbox = server.sandbox();
    client_runtime().unwrap().block_on(async {
        let suppliers = server.facade().unwrap().build().unwrap();
        let mousa = suppliers.mousacard().unwrap();
        let mut ids = Vec::new();
        for _ in 0..60 {
            let purchase = suppliers::adapters::mousacard::Purchase {
                product_id: 12340,
                quantity: 1,
                custom_fields: Default::default(),
            };
            ids.push(mousa.buy(&purchase).await.unwrap().id.parse().unwrap());
        }
        tokio::time::sleep(Timings::fast().completed_after).await;
        let naive = batch_tracking::one_by_one(sandbox, mousa, &ids)
            .await
            .unwrap();
        assert_eq!(
            naive,
            Tally {
                requests: 60,
                open_per_round: vec![60],
                requests_per_round: vec![60],
            }
        );
        let batch = batch_tracking::batched(sandbox, mousa, &ids).await.unwrap();
        assert_eq!(batch.requests, 2);
        assert!(batch.is_batched());
    });
}

#[test]
fn catalog_clients_read_exactly_what_they_are_asked_for() {
    let server = Server::start(SandboxConfig {
        foxreload_synthetic_products: 300,
        ..SandboxConfig::default()
    })
    .unwrap();
    let url = server.sandbox().foxreload_url();
    let (read, peak) = catalog_memory::client(&url, Consume::Stream, 250).unwrap();
    assert_eq!(read, 250);
    assert!(peak > 0);
    let (read, _) = catalog_memory::client(&url, Consume::Collect, 310).unwrap();
    assert_eq!(
        read, 310,
        "the 10 hand-picked products and the 300 synthetic ones"
    );
    assert!(catalog_memory::peak_resident_kib().unwrap() > 0);
}

#[test]
fn completion_is_measured_from_done_over_sse_and_polling() {
    let server = Server::start(SandboxConfig {
        cryptorefills_auto_pay_after: None,
        timings: Timings::fast(),
        ..SandboxConfig::default()
    })
    .unwrap();
    let sandbox = server.sandbox();
    client_runtime().unwrap().block_on(async {
        let suppliers = server.facade().unwrap().build().unwrap();
        let streaming = suppliers.cryptorefills().unwrap().clone();
        let polled = streaming.clone().with_track_config(TrackConfig {
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_millis(100),
            ..TrackConfig::default()
        });
        let pay_after = Duration::from_millis(50);
        let before = sandbox.requests_served();
        let sse = completion_latency::sample(sandbox, &streaming, Path::Sse, pay_after)
            .await
            .unwrap();
        // Buy and one subscription: the stream carried every update.
        assert_eq!(sandbox.requests_served() - before, 2);
        let before = sandbox.requests_served();
        let polled = completion_latency::sample(sandbox, &polled, Path::Polling, pay_after)
            .await
            .unwrap();
        // Buy, the refused subscription, then at least the poll that saw Done.
        assert!(sandbox.requests_served() - before >= 3);
        assert!(sse >= 0.0 && polled >= 0.0);
    });
}
