//! Journal overhead (section 7): whole FoxReload purchases (product read, create, pay,
//! order read) through [`suppliers::Suppliers::buy`], which journals each in an SQLite
//! file (a claim waited for, `synchronous=FULL`, and two progress records queued
//! behind it), against the same purchases through the adapter's unjournaled `buy`, on
//! the same sandbox. Trials alternate the two sides; rows show median rates and the
//! median of the trials' ratios.
//!
//! The first row is what a reseller sees: a sandbox that answers every request after
//! 50 ms, as a supplier on the network does, 64 purchases in flight. The others are
//! the CPU-bound case on loopback, 32 in flight, kept as measurements without a target:
//! the rate, and the process's CPU time per purchase on each side (the client, the
//! sandbox and the journal's thread together).

use std::cell::Cell;
use std::time::Duration;

use anyhow::{Result, ensure};
use cpu_time::ProcessTime;
use futures::FutureExt;
use rust_decimal::Decimal;
use suppliers::adapters::foxreload::OrderLine;
use suppliers::model::SupplierId;
use suppliers::{BuyRequest, Journal};
use suppliers_sandbox::{SandboxConfig, Timings};

use crate::Mode;
use crate::report::{Row, Target, median, median_ratio, thousands};
use crate::request_overhead::{Call, rate};
use crate::server::Server;

/// Purchases in flight on loopback.
pub const IN_FLIGHT: usize = 32;
/// Purchases in flight against the sandbox at network distance.
pub const IN_FLIGHT_AT_DISTANCE: usize = 64;
/// The sandbox's answer delay for the network row.
pub const LATENCY: Duration = Duration::from_millis(50);
/// At network distance the journal may cost at most 2% of the purchase rate.
pub const TARGET_RATIO: f64 = 0.98;

const PRODUCT: &str = "product_01krgfgww8eth9xvvysd6y7r4j";

/// Runs the section.
pub fn run(mode: Mode) -> Result<Vec<Row>> {
    let (count, trials) = mode.pick((128, 3), (640, 5));
    let [at_distance, _cpu] = measure(Some(LATENCY), IN_FLIGHT_AT_DISTANCE, count, trials)?;
    let (count, trials) = mode.pick((300, 3), (3_000, 7));
    let [loopback, cpu] = measure(None, IN_FLIGHT, count, trials)?;
    let ratio = median_ratio(&at_distance[0], &at_distance[1]);
    Ok(vec![
        Row {
            section: 7,
            measure: format!(
                "FoxReload purchases against a sandbox {} ms away, {IN_FLIGHT_AT_DISTANCE} in flight, journaled in SQLite (purchases/s)",
                LATENCY.as_millis()
            ),
            sdk: thousands(median(&at_distance[0])),
            baseline: format!(
                "{} (the same purchases, unjournaled)",
                thousands(median(&at_distance[1]))
            ),
            ratio: Some(ratio),
            target: Some(Target::new(format!(">= {TARGET_RATIO}"), ratio >= TARGET_RATIO)),
        },
        Row {
            section: 7,
            measure: format!(
                "FoxReload purchases on loopback (CPU-bound), {IN_FLIGHT} in flight, journaled in SQLite (purchases/s)"
            ),
            sdk: thousands(median(&loopback[0])),
            baseline: format!(
                "{} (the same purchases, unjournaled)",
                thousands(median(&loopback[1]))
            ),
            ratio: Some(median_ratio(&loopback[0], &loopback[1])),
            target: None,
        },
        Row {
            section: 7,
            measure: "CPU time per FoxReload purchase on loopback, journaled in SQLite (us, client, sandbox and journal together)".into(),
            sdk: format!("{:.0}", median(&cpu[0])),
            baseline: format!("{:.0} (unjournaled)", median(&cpu[1])),
            ratio: Some(median_ratio(&cpu[0], &cpu[1])),
            target: None,
        },
    ])
}

/// Rates (purchases/s) and CPU time per purchase (us) of each trial, journaled side
/// first, against a sandbox answering after `latency`.
fn measure(
    latency: Option<Duration>,
    in_flight: usize,
    count: usize,
    trials: usize,
) -> Result<[[Vec<f64>; 2]; 2]> {
    let server = Server::start(SandboxConfig {
        timings: Timings::fast(),
        foxreload_balance: Decimal::from(1_000_000_000u64),
        stock_per_product: u32::MAX,
        latency: latency.map(|base| suppliers_sandbox::Latency {
            base,
            jitter: Duration::ZERO,
        }),
        ..SandboxConfig::default()
    })?;
    let dir = tempfile::tempdir()?;
    let location = dir.path().join("journal.sqlite3").display().to_string();
    let runtime = crate::client_runtime()?;
    runtime.block_on(async {
        let suppliers = server
            .facade()?
            .journal(Journal::open(&location).await?)
            .build()?;
        let fox = suppliers.foxreload()?;
        let next = Cell::new(0u64);
        let sides: [(&str, Call); 2] = [
            (
                "journaled",
                Box::new(|| {
                    let n = next.get();
                    next.set(n + 1);
                    let suppliers = &suppliers;
                    async move {
                        let mut request = BuyRequest::new(PRODUCT, 1);
                        request.reference = Some(format!("bench-{n}"));
                        let receipt = suppliers.buy(SupplierId::FoxReload, &request).await?;
                        ensure!(!receipt.replayed, "a fresh reference bought");
                        Ok(())
                    }
                    .boxed_local()
                }),
            ),
            (
                "unjournaled",
                Box::new(|| {
                    async move {
                        fox.buy(&[OrderLine::new(PRODUCT, 1)]).await?;
                        Ok(())
                    }
                    .boxed_local()
                }),
            ),
        ];
        for (_, call) in &sides {
            rate(count / 4, in_flight, call).await?;
        }
        let mut rates: [Vec<f64>; 2] = Default::default();
        let mut cpu_micros: [Vec<f64>; 2] = Default::default();
        for trial in 0..trials {
            for k in 0..sides.len() {
                let which = (trial + k) % sides.len();
                let cpu = ProcessTime::now();
                rates[which].push(rate(count, in_flight, &sides[which].1).await?);
                cpu_micros[which].push(micros_each(cpu.elapsed(), count));
            }
        }
        Ok([rates, cpu_micros])
    })
}

/// Microseconds of `cpu` per purchase.
fn micros_each(cpu: Duration, count: usize) -> f64 {
    cpu.as_secs_f64() * 1e6 / count as f64
}
