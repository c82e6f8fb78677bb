//! Completion latency (section 4): from the instant the sandbox moves a Cryptorefills order to
//! `Done` (its payment time plus the delivery delay, which the sandbox reports) until
//! the caller's `wait_for_order` returns, over Server-Sent Events and over the polling
//! fallback (forced by failing the stream's opening).

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use chrono::Utc;
use futures::StreamExt;
use suppliers::Supplier;
use suppliers::adapters::cryptorefills::{Cryptorefills, Purchase};
use suppliers::model::OrderStatus;
use suppliers::order_stream::TrackConfig;
use suppliers_sandbox::{Fault, FaultRule, Sandbox, SandboxConfig, Timings};

use crate::Mode;
use crate::report::{Row, Target, percentile};
use crate::server::Server;

/// The target for SSE on loopback.
pub const SSE_P99_TARGET_MS: f64 = 50.0;
/// From payment to `Done` in the sandbox.
const DELIVERY: Duration = Duration::from_millis(30);
/// Time for the SSE stream to open before the order is paid: the update must be
/// pushed to an open stream, not found when it opens.
const OPEN_GRACE: Duration = Duration::from_millis(50);

/// How an order is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `GET /v5/orders/{id}/subscribe`.
    Sse,
    /// The stream cannot be opened: `GET /v5/orders/{id}` at the tracker's cadence.
    Polling,
}

fn gift_card() -> Purchase {
    Purchase {
        kind: ::cryptorefills::types::ProductKind::Giftcard,
        brand_name: "Airbnb".into(),
        country_code: "US".into(),
        denomination: "100".into(),
        amount: None,
        quantity: std::num::NonZeroU32::MIN,
        beneficiary: "bench@example.com".into(),
        email: "bench@example.com".into(),
        coin: "USDC".into(),
        network: Some("Solana".into()),
    }
}

/// Milliseconds from `Done` to the return of the caller's wait, for one order paid
/// `pay_after` after the wait starts.
pub async fn sample(
    sandbox: &Sandbox,
    cryptorefills: &Cryptorefills,
    path: Path,
    pay_after: Duration,
) -> Result<f64> {
    let supplier = Supplier::Cryptorefills(cryptorefills);
    let order = cryptorefills.buy(&gift_card()).await?;
    if path == Path::Polling {
        sandbox.faults().add(FaultRule::new(
            format!("/cryptorefills/v5/orders/{}/subscribe", order.id),
            Fault::ServerError(503),
            1,
        ));
    }
    let wait = async {
        let done = supplier
            .wait_for_order(&order.id, Duration::from_secs(120))
            .await;
        (done, Utc::now())
    };
    let pay = async {
        tokio::time::sleep(pay_after).await;
        sandbox.cryptorefills().pay(&order.id)
    };
    let ((done, returned), paid) = tokio::join!(wait, pay);
    ensure!(paid, "the sandbox did not take the payment");
    ensure!(done?.status == OrderStatus::Completed, "expected Done");
    let done_at = sandbox
        .cryptorefills()
        .done_at(&order.id)
        .context("a paid order has a delivery time")?;
    let latency = (returned - done_at)
        .to_std()
        .context("the wait returned before the order was done")?;
    Ok(latency.as_secs_f64() * 1e3)
}

/// `samples` latencies, `concurrency` orders at a time; `pay_after` picks each delay.
async fn samples(
    sandbox: &Sandbox,
    cryptorefills: &Cryptorefills,
    path: Path,
    count: usize,
    concurrency: usize,
    pay_after: impl Fn() -> Duration,
) -> Result<Vec<f64>> {
    let mut results = futures::stream::iter(0..count)
        .map(|_| sample(sandbox, cryptorefills, path, pay_after()))
        .buffer_unordered(concurrency);
    let mut latencies = Vec::with_capacity(count);
    while let Some(latency) = results.next().await {
        latencies.push(latency?);
    }
    Ok(latencies)
}

/// Runs the section: p50 and p99 rows, SSE against polling.
pub fn run(mode: Mode) -> Result<Vec<Row>> {
    let server = Server::start(SandboxConfig {
        cryptorefills_auto_pay_after: None,
        timings: Timings {
            processing_after: Duration::ZERO,
            completed_after: DELIVERY,
        },
        ..SandboxConfig::default()
    })?;
    let sandbox = server.sandbox();
    // Full runs poll at the documented 5-10 s; quick runs at a tenth of it.
    let polling = mode.pick(
        TrackConfig {
            poll_min: Duration::from_millis(500),
            poll_max: Duration::from_secs(1),
            ..TrackConfig::default()
        },
        TrackConfig::default(),
    );
    let runtime = crate::client_runtime()?;
    runtime.block_on(async {
        let suppliers = server.facade()?.build()?;
        let (sse_count, poll_count) = mode.pick((60, 20), (400, 40));
        let streaming = suppliers.cryptorefills()?.clone();
        let polled = streaming.clone().with_track_config(polling);
        let sse = samples(sandbox, &streaming, Path::Sse, sse_count, 4, || OPEN_GRACE).await?;
        // Paid at a random point of the polling cycle, as real payments are.
        let cycle = polling.poll_max;
        let polls = samples(
            sandbox,
            &polled,
            Path::Polling,
            poll_count,
            poll_count,
            || OPEN_GRACE + cycle.mul_f64(fastrand::f64()),
        )
        .await?;
        let cadence = format!(
            "polling every {:.1}-{:.0} s",
            polling.poll_min.as_secs_f64(),
            polling.poll_max.as_secs_f64()
        );
        let row = |p: f64| {
            let (sse, polls) = (percentile(&sse, p), percentile(&polls, p));
            Row {
                section: 4,
                measure: format!(
                    "Cryptorefills Done to wait returning, p{p:.0} over SSE, \
                     {sse_count} orders (ms)"
                ),
                sdk: format!("{sse:.1}"),
                baseline: format!("{polls:.0} ({cadence}, {poll_count} orders)"),
                ratio: Some(sse / polls),
                target: (p == 99.0).then(|| {
                    Target::new(
                        format!("< {SSE_P99_TARGET_MS:.0} ms"),
                        sse < SSE_P99_TARGET_MS,
                    )
                }),
            }
        };
        Ok(vec![row(50.0), row(99.0)])
    })
}
