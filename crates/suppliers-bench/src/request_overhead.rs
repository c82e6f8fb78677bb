//! Request overhead (section 1): FoxReload `get order` through the facade (retry layer,
//! hooks, normalisation) against hand-written `reqwest` + `serde_json` calls of the same
//! endpoint on the same sandbox, with the same client settings, one request at a time
//! and 32 in flight. Two hand-written baselines:
//!
//! - an equivalent struct, decoding every field with the same types the SDK uses
//!   (timestamps, decimals): what the SDK's layers cost;
//! - a minimal struct of the five fields a caller reads: what the SDK costs in all,
//!   decoding everything included (section 2 measures decoding on its own).
//!
//! Each trial runs the three sides in a rotating order; the table shows median rates
//! and the median of the trials' ratios.
//!
//! The CPU-bound row (32 in flight) is also measured observed: the facade with a
//! Prometheus recorder installed and a log subscriber at the CLI's default level
//! (warnings) against the facade with neither, in alternating trials.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use chrono::{DateTime, Utc};
use futures::future::LocalBoxFuture;
use futures::{FutureExt, StreamExt};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use suppliers::adapters::foxreload::{FoxReload, OrderLine};
use suppliers::waiter::WaiterConfig;
use suppliers_sandbox::{SandboxConfig, Timings};

use crate::Mode;
use crate::report::{Row, Target, median, median_ratio, thousands};
use crate::server::Server;

/// Requests in flight in the concurrent case.
pub const IN_FLIGHT: usize = 32;
/// One request at a time, the facade must keep at least this share of the baseline's
/// throughput (issue 7).
pub const TARGET_RATIO: f64 = 0.95;
/// With [`IN_FLIGHT`] requests in flight, where the client's core is the limit and the
/// layers' every instruction shows, at least this share (issue 25).
pub const TARGET_RATIO_IN_FLIGHT: f64 = 0.90;
/// Observed (metrics recorded, logs at the default level), the facade keeps at least
/// this share of its unobserved throughput.
pub const OBSERVED_RATIO: f64 = 0.98;

// The same client settings on every side.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(90);

/// Every field of a FoxReload order, with the types the generated client uses (open
/// enums as strings), so the facade and this side decode the same work. Unknown fields
/// are refused: a field the sandbox sends and this side would skip fails the bench
/// rather than flattering the baseline.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // Decoded to be paid for, not read.
struct EquivalentOrder {
    id: String,
    status: String,
    items: Vec<EquivalentItem>,
    total_price: Option<Decimal>,
    currency: Option<String>,
    cancel_reason: Option<String>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    payment_expires_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct EquivalentItem {
    product: EquivalentProduct,
    quantity: i64,
    price: Option<Decimal>,
    // Codes (strings) or activation data (objects): production sends both.
    external_data: Option<serde_json::Value>,
    error: Option<String>,
    user_guide: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct EquivalentProduct {
    id: String,
    name: String,
}

/// The fields a caller reads: id, status, codes, total, currency.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct MinimalOrder {
    id: String,
    status: String,
    items: Vec<MinimalItem>,
    total_price: Option<Decimal>,
    currency: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct MinimalItem {
    // Codes (strings) or activation data (objects): production sends both.
    external_data: Option<serde_json::Value>,
}

/// The hand-written baseline: one `reqwest::Client`, the key header, `serde_json`.
struct HandWritten {
    http: reqwest::Client,
    base_url: String,
    key: &'static str,
}

impl HandWritten {
    /// Every field, typed as the SDK types them.
    async fn get_order_equivalent(&self, id: &str) -> Result<()> {
        self.get_order::<EquivalentOrder>(id).await
    }

    /// The five fields a caller reads.
    async fn get_order_minimal(&self, id: &str) -> Result<()> {
        self.get_order::<MinimalOrder>(id).await
    }

    async fn get_order<T: DeserializeOwned>(&self, id: &str) -> Result<()> {
        let response = self
            .http
            .get(format!("{}/api/orders/{id}", self.base_url))
            .header("X-API-Key", self.key)
            .send()
            .await?;
        ensure!(response.status().is_success(), "HTTP {}", response.status());
        let order: T = serde_json::from_slice(&response.bytes().await?)?;
        std::hint::black_box(order);
        Ok(())
    }
}

pub(crate) type Call<'a> = Box<dyn Fn() -> LocalBoxFuture<'a, Result<()>> + 'a>;

/// Requests per second for `count` calls, `in_flight` at a time. Every side's future
/// is boxed the same way, which also keeps each side's cost in a function of its own
/// in a profile.
pub(crate) async fn rate(count: usize, in_flight: usize, call: &Call<'_>) -> Result<f64> {
    let started = Instant::now();
    let mut results = futures::stream::iter(0..count)
        .map(|_| call())
        .buffer_unordered(in_flight);
    while let Some(result) = results.next().await {
        result?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// Runs the section: the facade against each baseline, one at a time and 32 in flight.
pub fn run(mode: Mode) -> Result<Vec<Row>> {
    let server = Server::start(SandboxConfig {
        timings: Timings::fast(),
        ..SandboxConfig::default()
    })?;
    let sandbox = server.sandbox();
    let runtime = crate::client_runtime()?;
    runtime.block_on(async {
        let suppliers = server
            .facade()?
            .timeouts(CONNECT_TIMEOUT, READ_TIMEOUT)
            .build()?;
        let fox = suppliers.foxreload()?;
        let id = completed_order(fox).await?;
        let hand = HandWritten {
            http: reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
                .user_agent(suppliers::USER_AGENT)
                .build()?,
            base_url: sandbox.foxreload_url(),
            key: "sandbox",
        };
        let sides: [(&str, Call); 3] = [
            (
                "facade",
                Box::new(|| {
                    async { fox.order(&id).await.map(|_| ()).map_err(Into::into) }.boxed_local()
                }),
            ),
            (
                "equivalent struct",
                Box::new(|| hand.get_order_equivalent(&id).boxed_local()),
            ),
            (
                "minimal struct",
                Box::new(|| hand.get_order_minimal(&id).boxed_local()),
            ),
        ];

        let mut rows = Vec::new();
        for in_flight in [1, IN_FLIGHT] {
            // One at a time is noisier (every request waits on two wake-ups): more,
            // shorter trials.
            let (count, trials) = match in_flight {
                1 => mode.pick((400, 5), (2_000, 15)),
                _ => mode.pick((2_000, 3), (20_000, 7)),
            };
            let mut rates: [Vec<f64>; 3] = Default::default();
            // Warm every pool and code path before timing.
            for (_, call) in &sides {
                rate(count / 4, in_flight, call).await?;
            }
            for trial in 0..trials {
                for k in 0..sides.len() {
                    let which = (trial + k) % sides.len();
                    rates[which].push(rate(count, in_flight, &sides[which].1).await?);
                }
            }
            let how = if in_flight == 1 {
                "one at a time".to_owned()
            } else {
                format!("{in_flight} in flight")
            };
            let target = match in_flight {
                1 => TARGET_RATIO,
                _ => TARGET_RATIO_IN_FLIGHT,
            };
            let facade = &rates[0];
            for ((name, _), baseline) in sides[1..].iter().zip(&rates[1..]) {
                let ratio = median_ratio(facade, baseline);
                let (facade, baseline) = (median(facade), median(baseline));
                rows.push(Row {
                    section: 1,
                    measure: format!("FoxReload get order, {how} (req/s)"),
                    sdk: thousands(facade),
                    baseline: format!("{} (reqwest + serde_json, {name})", thousands(baseline)),
                    ratio: Some(ratio),
                    target: Some(Target::new(format!(">= {target}"), ratio >= target)),
                });
            }
        }
        rows.push(observed(mode, &sides[0].1).await?);
        Ok(rows)
    })
}

/// The facade at 32 in flight with a Prometheus recorder and a warn-level log
/// subscriber (as `suppliers track --metrics-addr` runs it, histogram upkeep included)
/// against the facade with neither, in alternating trials on this thread.
async fn observed(mode: Mode, facade: &Call<'_>) -> Result<Row> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in suppliers::metrics::histogram_buckets() {
        builder = builder.set_buckets_for_metric(Matcher::Full(name.into()), buckets)?;
    }
    let recorder = builder.build_recorder();
    let prometheus = recorder.handle();
    let logs = tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_writer(std::io::stderr)
            .finish(),
    );
    let (count, trials) = mode.pick((2_000, 3), (20_000, 9));
    let (mut plain, mut watched) = (Vec::new(), Vec::new());
    for trial in 0..=trials {
        for k in 0..2 {
            let observe = (trial + k) % 2 == 1;
            let _metrics = observe.then(|| metrics::set_default_local_recorder(&recorder));
            let _logs = observe.then(|| tracing::dispatcher::set_default(&logs));
            let started = Instant::now();
            rate(count, IN_FLIGHT, facade).await?;
            if observe {
                prometheus.run_upkeep();
            }
            let per_second = count as f64 / started.elapsed().as_secs_f64();
            // The first round warms the recorder's registry: not counted.
            if trial > 0 {
                match observe {
                    true => watched.push(per_second),
                    false => plain.push(per_second),
                }
            }
        }
    }
    ensure!(
        prometheus
            .render()
            .contains("http_client_request_duration_seconds_bucket"),
        "the recorder saw no request"
    );
    let ratio = median_ratio(&watched, &plain);
    Ok(Row {
        section: 1,
        measure: format!(
            "FoxReload get order, {IN_FLIGHT} in flight, Prometheus recorder and warn-level logs (req/s)"
        ),
        sdk: thousands(median(&watched)),
        baseline: format!(
            "{} (the facade, no recorder, no subscriber)",
            thousands(median(&plain))
        ),
        ratio: Some(ratio),
        target: Some(Target::new(
            format!(">= {OBSERVED_RATIO}"),
            ratio >= OBSERVED_RATIO,
        )),
    })
}

/// A completed order with two codes, so every side decodes a realistic body.
async fn completed_order(fox: &FoxReload) -> Result<String> {
    let line = OrderLine::new("product_01krgfgww8eth9xvvysd6y7r4j", 2);
    let order = fox.buy(&[line]).await?;
    let wait = WaiterConfig {
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(50),
        max_wait: Duration::from_secs(10),
    };
    let done = fox
        .wait_for_order(&order.id, wait)
        .await
        .context("the sandbox order did not complete")?;
    ensure!(done.delivery.codes.len() == 2, "expected two codes");
    Ok(done.id)
}
