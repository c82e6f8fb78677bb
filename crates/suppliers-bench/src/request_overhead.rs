//! Request overhead (section 1): FoxReload `get order` through the facade (retry layer, hooks,
//! normalisation) against a hand-written `reqwest` + `serde_json` call of the same
//! endpoint on the same sandbox, with the same client settings, one request at a time
//! and 32 in flight. Trials alternate which side goes first; the medians are compared.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use futures::StreamExt;
use rust_decimal::Decimal;
use serde::Deserialize;
use suppliers::Suppliers;
use suppliers::adapters::foxreload::{FoxReload, OrderLine};
use suppliers::config::FoxReloadConfig;
use suppliers::waiter::WaiterConfig;
use suppliers_sandbox::{SandboxConfig, Timings};

use crate::Mode;
use crate::report::{Row, Target, median, thousands};
use crate::server::Server;

/// Requests in flight in the concurrent case.
pub const IN_FLIGHT: usize = 32;
/// The facade must keep at least this share of the baseline's throughput.
pub const TARGET_RATIO: f64 = 0.95;

// The same client settings on both sides.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(90);

/// What a caller writing the call by hand decodes: the fields it reads.
#[derive(Deserialize)]
#[allow(dead_code)] // Decoded to be paid for, not read.
struct HandOrder {
    id: String,
    status: String,
    items: Vec<HandItem>,
    #[serde(rename = "totalPrice")]
    total_price: Option<Decimal>,
    currency: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct HandItem {
    #[serde(rename = "externalData")]
    external_data: Option<Vec<String>>,
}

/// The hand-written baseline: one `reqwest::Client`, the key header, `serde_json`.
struct HandWritten {
    http: reqwest::Client,
    url: String,
    key: &'static str,
}

impl HandWritten {
    async fn get_order(&self) -> Result<()> {
        let response = self
            .http
            .get(&self.url)
            .header("X-API-Key", self.key)
            .send()
            .await?;
        ensure!(response.status().is_success(), "HTTP {}", response.status());
        let order: HandOrder = serde_json::from_slice(&response.bytes().await?)?;
        std::hint::black_box(order);
        Ok(())
    }
}

/// Requests per second for `count` calls, `in_flight` at a time.
async fn rate<F, Fut>(count: usize, in_flight: usize, call: F) -> Result<f64>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let started = Instant::now();
    let mut results = futures::stream::iter(0..count)
        .map(|_| call())
        .buffer_unordered(in_flight);
    while let Some(result) = results.next().await {
        result?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// Runs the section and returns its two rows (sequential, 32 in flight).
pub fn run(mode: Mode) -> Result<Vec<Row>> {
    let server = Server::start(SandboxConfig {
        timings: Timings::fast(),
        ..SandboxConfig::default()
    })?;
    let sandbox = server.sandbox();
    let runtime = crate::client_runtime()?;
    runtime.block_on(async {
        let suppliers = Suppliers::builder()
            .foxreload(FoxReloadConfig::new("sandbox", &sandbox.foxreload_url())?)
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
            url: format!("{}/api/orders/{id}", sandbox.foxreload_url()),
            key: "sandbox",
        };
        let facade = || async { fox.order(&id).await.map(|_| ()).map_err(Into::into) };
        let baseline = || hand.get_order();

        let (count, trials) = mode.pick((400, 3), (4_000, 7));
        let mut rows = Vec::new();
        for in_flight in [1, IN_FLIGHT] {
            // Warm both pools and code paths before timing.
            rate(count / 4, in_flight, facade).await?;
            rate(count / 4, in_flight, baseline).await?;
            let (mut sdk, mut base) = (Vec::new(), Vec::new());
            for trial in 0..trials {
                if trial % 2 == 0 {
                    sdk.push(rate(count, in_flight, facade).await?);
                    base.push(rate(count, in_flight, baseline).await?);
                } else {
                    base.push(rate(count, in_flight, baseline).await?);
                    sdk.push(rate(count, in_flight, facade).await?);
                }
            }
            let (sdk, base) = (median(&sdk), median(&base));
            let ratio = sdk / base;
            let how = if in_flight == 1 {
                "one at a time".to_owned()
            } else {
                format!("{in_flight} in flight")
            };
            rows.push(Row {
                section: 1,
                measure: format!("FoxReload get order, {how} (req/s)"),
                sdk: thousands(sdk),
                baseline: format!("{} (reqwest + serde_json)", thousands(base)),
                ratio: Some(ratio),
                target: Some(Target::new(
                    format!(">= {TARGET_RATIO}"),
                    ratio >= TARGET_RATIO,
                )),
            });
        }
        Ok(rows)
    })
}

/// A completed order with two codes, so both sides decode a realistic body.
async fn completed_order(fox: &FoxReload) -> Result<String> {
    let line = OrderLine {
        product_id: "product_01krgfgww8eth9xvvysd6y7r4j".into(),
        quantity: 2,
    };
    let order = fox.buy(&[line], None, None).await?;
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
