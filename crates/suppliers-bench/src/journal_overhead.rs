//! Journal overhead (section 7): whole FoxReload purchases (product read, create, pay,
//! order read) through [`suppliers::Suppliers::buy`], which journals each in an SQLite
//! file (a claim waited for, `synchronous=FULL`, and two progress records queued
//! behind it), against the same purchases through the adapter's unjournaled `buy`, on
//! the same sandbox, 32 in flight. Trials alternate the two sides; the first row shows
//! median rates and the median of the trials' ratios. The second row is the process's
//! CPU time per purchase on each side (the client, the sandbox and the journal's thread
//! together): on a machine whose cores the purchases already keep busy, the rate can
//! stay within 10% only if the CPU time does.

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

/// Purchases in flight.
pub const IN_FLIGHT: usize = 32;
/// The journal may cost at most 10% of the purchase rate.
pub const TARGET_RATIO: f64 = 0.90;

const PRODUCT: &str = "product_01krgfgww8eth9xvvysd6y7r4j";

/// Runs the section.
pub fn run(mode: Mode) -> Result<Vec<Row>> {
    let server = Server::start(SandboxConfig {
        timings: Timings::fast(),
        foxreload_balance: Decimal::from(1_000_000_000u64),
        stock_per_product: u32::MAX,
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
        let (count, trials) = mode.pick((300, 3), (3_000, 7));
        for (_, call) in &sides {
            rate(count / 4, IN_FLIGHT, call).await?;
        }
        let mut rates: [Vec<f64>; 2] = Default::default();
        let mut cpu_micros: [Vec<f64>; 2] = Default::default();
        for trial in 0..trials {
            for k in 0..sides.len() {
                let which = (trial + k) % sides.len();
                let cpu = ProcessTime::now();
                rates[which].push(rate(count, IN_FLIGHT, &sides[which].1).await?);
                cpu_micros[which].push(micros_each(cpu.elapsed(), count));
            }
        }
        let ratio = median_ratio(&rates[0], &rates[1]);
        Ok(vec![Row {
            section: 7,
            measure: format!(
                "FoxReload purchases, {IN_FLIGHT} in flight, journaled in SQLite (purchases/s)"
            ),
            sdk: thousands(median(&rates[0])),
            baseline: format!(
                "{} (the same purchases, unjournaled)",
                thousands(median(&rates[1]))
            ),
            ratio: Some(ratio),
            target: Some(Target::new(
                format!(">= {TARGET_RATIO}"),
                ratio >= TARGET_RATIO,
            )),
        },
        Row {
            section: 7,
            measure: "CPU time per FoxReload purchase, journaled in SQLite (us, client, sandbox and journal together)".into(),
            sdk: format!("{:.0}", median(&cpu_micros[0])),
            baseline: format!("{:.0} (unjournaled)", median(&cpu_micros[1])),
            ratio: Some(median_ratio(&cpu_micros[0], &cpu_micros[1])),
            target: None,
        }])
    })
}

/// Microseconds of `cpu` per purchase.
fn micros_each(cpu: Duration, count: usize) -> f64 {
    cpu.as_secs_f64() * 1e6 / count as f64
}
