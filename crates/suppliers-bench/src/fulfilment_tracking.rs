//! Fulfilment tracking (section 9): many open orders over the three suppliers, bought
//! through the journal without waiting, then followed to the end by one
//! [`suppliers::Tracker`] in a process of its own (so its memory and sockets are its
//! own), at a request budget per supplier. Reported against what one poll per order
//! per round would cost:
//!
//! - requests to each supplier while tracking (counted by the sandbox) against the sum
//!   over orders of the rounds each stayed open;
//! - the tracker process's peak resident memory and peak open sockets;
//! - time from the supplier settling an order to the tracker's report, p50 and p99, for
//!   Cryptorefills orders followed over SSE and for the others.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use futures::StreamExt;
use rust_decimal::Decimal;
use suppliers::model::SupplierId;
use suppliers::tracker::{ReportFailure, Tracker, TrackerConfig};
use suppliers::{BuyRequest, Journal, Suppliers};
use suppliers_sandbox::{SandboxConfig, Timings};

use crate::Mode;
use crate::report::{Row, Target};
use crate::server::Server;

/// The tracker's request budget per supplier in this bench: enough for FoxReload's
/// one read per settled order when a few hundred settle each second.
pub const REQUESTS_PER_SECOND: f64 = 200.0;
/// FoxReload and MousaCard rounds.
pub const ROUND: Duration = Duration::from_secs(5);
/// Peak memory target of the tracking process.
pub const MEMORY_TARGET_MIB: u64 = 64;

const PRODUCTS: [(SupplierId, &str); 3] = [
    (SupplierId::FoxReload, "product_01krgfgww8eth9xvvysd6y7r4j"),
    (SupplierId::MousaCard, "12330"),
    (SupplierId::Cryptorefills, "giftcard/Airbnb/US/100"),
];

/// One bought order.
struct Bought {
    supplier: SupplierId,
    order_id: String,
    /// When its purchase returned (FoxReload: paid; MousaCard: bought).
    at: SystemTime,
}

/// Runs the section.
pub fn run(mode: Mode, exe: &Path) -> Result<Vec<Row>> {
    let (per_supplier, completed_after) = mode.pick(
        (60, Duration::from_secs(6)),
        (3_334, Duration::from_secs(60)),
    );
    let server = Server::start(SandboxConfig {
        timings: Timings {
            processing_after: Duration::from_secs(1),
            completed_after,
        },
        foxreload_balance: Decimal::from(1_000_000_000u64),
        mousacard_balance: Decimal::from(1_000_000_000u64),
        stock_per_product: u32::MAX,
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(500)),
        failure_share: 0.1,
        ..SandboxConfig::default()
    })?;
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("journal.sqlite3").display().to_string();
    let bought = buy_all(&server, &journal, per_supplier)?;

    let sandbox = server.sandbox();
    let before: Vec<u64> = SupplierId::ALL
        .iter()
        .map(|s| sandbox.requests_served_by(s.as_str()))
        .collect();
    let started = SystemTime::now();
    let tracked = track_in_child(exe, &server, &journal)?;
    let finished = SystemTime::now();
    ensure!(
        tracked.reports.len() == bought.len(),
        "{} of {} orders reported",
        tracked.reports.len(),
        bought.len()
    );

    // The tracking process ran with this configuration.
    let config = tracker_config();
    // When each order settled at the supplier.
    let settled: HashMap<&str, SystemTime> = bought
        .iter()
        .map(|order| {
            let at = match order.supplier {
                SupplierId::Cryptorefills => sandbox
                    .cryptorefills()
                    .done_at(&order.order_id)
                    .map(SystemTime::from)
                    .unwrap_or(order.at),
                _ => order.at + completed_after,
            };
            (order.order_id.as_str(), at)
        })
        .collect();
    let streamed: Vec<&str> = bought
        .iter()
        .rev()
        .filter(|o| o.supplier == SupplierId::Cryptorefills)
        .take(config.max_streams)
        .map(|o| o.order_id.as_str())
        .collect();
    // Settle-to-report times by how the order was followed.
    let supplier_of: HashMap<&str, SupplierId> = bought
        .iter()
        .map(|o| (o.order_id.as_str(), o.supplier))
        .collect();
    let mut latencies: [Vec<f64>; 4] = Default::default();
    for (order_id, reported) in &tracked.reports {
        let at = settled
            .get(order_id.as_str())
            .context("a report of an unknown order")?;
        let late = reported
            .duration_since(*at)
            .unwrap_or_default()
            .as_secs_f64();
        let group = match supplier_of[order_id.as_str()] {
            SupplierId::Cryptorefills if streamed.contains(&order_id.as_str()) => 0,
            SupplierId::FoxReload => 1,
            SupplierId::MousaCard => 2,
            SupplierId::Cryptorefills => 3,
        };
        latencies[group].push(late);
    }
    // A polled Cryptorefills order is asked again once the budget has gone round every
    // other polled order (or after the shortest poll delay).
    let polled_round =
        (latencies[3].len() as f64 / REQUESTS_PER_SECOND).max(config.min_poll_delay.as_secs_f64());

    let mut rows = Vec::new();
    let open_for = |order: &Bought| {
        settled[order.order_id.as_str()]
            .duration_since(started)
            .unwrap_or_default()
    };
    for (k, supplier) in SupplierId::ALL.iter().enumerate() {
        let made = sandbox.requests_served_by(supplier.as_str()) - before[k];
        let naive: u64 = bought
            .iter()
            .filter(|o| o.supplier == *supplier)
            .map(|o| (open_for(o).as_secs_f64() / ROUND.as_secs_f64()).ceil() as u64 + 1)
            .sum();
        rows.push(Row {
            section: 9,
            measure: format!(
                "{supplier}: requests to track {per_supplier} open orders to the end (budget {REQUESTS_PER_SECOND}/s)"
            ),
            sdk: made.to_string(),
            baseline: format!("{naive} (one poll per order every {} s)", ROUND.as_secs()),
            ratio: Some(made as f64 / naive as f64),
            target: None,
        });
    }
    let total = bought.len();
    rows.push(Row {
        section: 9,
        measure: format!("peak resident memory of the tracking process, {total} orders (MiB)"),
        sdk: format!("{:.1}", tracked.peak_kib as f64 / 1024.0),
        baseline: "-".into(),
        ratio: None,
        target: Some(Target::new(
            format!("< {MEMORY_TARGET_MIB}"),
            tracked.peak_kib < MEMORY_TARGET_MIB * 1024,
        )),
    });
    let streams = config.max_streams;
    // FoxReload: its lists and 8 reads; MousaCard: one batch; Cryptorefills: its polls.
    let pool = 1 + 8 + 1 + config.reads_in_flight();
    rows.push(Row {
        section: 9,
        measure: "peak open sockets of the tracking process".into(),
        sdk: tracked.peak_sockets.to_string(),
        baseline: format!("{} (SSE cap {streams} + pool {pool})", streams + pool),
        ratio: Some(tracked.peak_sockets as f64 / (streams + pool) as f64),
        target: Some(Target::new(
            format!("<= {}", streams + pool),
            tracked.peak_sockets <= (streams + pool) as u64,
        )),
    });
    let round = ROUND.as_secs_f64();
    let [sse, fox, mousa, polled_cr] = latencies;
    for (name, mut latencies, bound) in [
        ("Cryptorefills over SSE".to_owned(), sse, 1.0),
        (
            format!("FoxReload (status lists, {round:.0} s rounds)"),
            fox,
            round + 1.0,
        ),
        (
            format!("MousaCard (batch status, {round:.0} s rounds)"),
            mousa,
            round + 1.0,
        ),
        (
            format!(
                "Cryptorefills polled (a pass over them takes {polled_round:.0} s at the budget)"
            ),
            polled_cr,
            polled_round + 1.0,
        ),
    ] {
        if latencies.is_empty() {
            continue;
        }
        latencies.sort_by(f64::total_cmp);
        let p50 = percentile(&latencies, 0.50);
        let p99 = percentile(&latencies, 0.99);
        rows.push(Row {
            section: 9,
            measure: format!(
                "settled at the supplier to reported, {name}, {} orders (s, p50 / p99)",
                latencies.len()
            ),
            sdk: format!("{p50:.2} / {p99:.2}"),
            baseline: format!("{bound:.1} s (one round plus 1 s)"),
            ratio: Some(p99 / bound),
            target: Some(Target::new(format!("p99 < {bound:.1} s"), p99 < bound)),
        });
    }
    eprintln!(
        "   tracked {total} orders in {:.1} s",
        finished
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64()
    );
    Ok(rows)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Buys `per_supplier` orders of each supplier through the journal, 32 at a time.
fn buy_all(server: &Server, journal: &str, per_supplier: usize) -> Result<Vec<Bought>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let suppliers = server
            .facade()?
            .journal(Journal::open(journal).await?)
            .build()?;
        let requests = (0..per_supplier).flat_map(|i| {
            PRODUCTS
                .iter()
                .map(move |(supplier, product)| (i, *supplier, *product))
        });
        let suppliers = &suppliers;
        let bought: Vec<Result<Bought>> = futures::stream::iter(requests)
            .map(|(i, supplier, product)| async move {
                let mut request = BuyRequest::new(product, 1);
                request.email = Some("bench@example.com".into());
                request.reference = Some(format!("track-bench-{supplier}-{i}"));
                let receipt = suppliers.buy(supplier, &request).await?;
                Ok(Bought {
                    supplier,
                    order_id: receipt.order.id,
                    at: SystemTime::now(),
                })
            })
            .buffered(32)
            .collect()
            .await;
        bought.into_iter().collect()
    })
}

/// How the tracking process is configured.
fn tracker_config() -> TrackerConfig {
    TrackerConfig {
        requests_per_second: REQUESTS_PER_SECOND,
        round: ROUND,
        timeout: Some(Duration::from_secs(1800)),
        ..TrackerConfig::default()
    }
}

/// What the tracking process reported.
struct Tracked {
    /// Order id and when the tracker reported it.
    reports: Vec<(String, SystemTime)>,
    peak_kib: u64,
    peak_sockets: u64,
}

fn track_in_child(exe: &Path, server: &Server, journal: &str) -> Result<Tracked> {
    let mut child = Command::new(exe)
        .args(["track-client", "--journal", journal])
        .envs(server.sandbox().environment())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the tracking process")?;
    let mut tracked = Tracked {
        reports: Vec::new(),
        peak_kib: 0,
        peak_sockets: 0,
    };
    for line in BufReader::new(child.stdout.take().context("its stdout")?).lines() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("report ") {
            let (millis, order_id) = rest.split_once(' ').context("a report line")?;
            let at = UNIX_EPOCH + Duration::from_millis(millis.parse()?);
            tracked.reports.push((order_id.to_owned(), at));
        } else if let Some(rest) = line.strip_prefix("peak ") {
            let (kib, sockets) = rest.split_once(' ').context("a peak line")?;
            tracked.peak_kib = kib.parse()?;
            tracked.peak_sockets = sockets.parse()?;
        }
    }
    ensure!(child.wait()?.success(), "the tracking process failed");
    Ok(tracked)
}

/// The tracking process: follows every order of `journal` to the end, printing
/// `report <unix ms> <order id>` as each is reported and `peak <KiB> <sockets>` last.
pub fn client(journal: &str) -> Result<()> {
    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let peak_sockets = Arc::new(AtomicU64::new(0));
    runtime.block_on(async {
        let suppliers = Suppliers::builder_from_env()?
            .journal(Journal::open(journal).await?)
            .build()?;
        let tracker = Tracker::new(&suppliers, tracker_config())?;
        let sampler = {
            let peak = peak_sockets.clone();
            tokio::spawn(async move {
                loop {
                    peak.fetch_max(open_sockets(), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        let summary = tracker
            .run(
                |report| async move {
                    let millis = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_err(ReportFailure::retry)?
                        .as_millis();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "report {millis} {}", report.order.id)?;
                    Ok::<(), ReportFailure>(())
                },
                std::future::pending(),
            )
            .await?;
        sampler.abort();
        ensure!(summary.still_open == 0, "{} left open", summary.still_open);
        Ok::<(), anyhow::Error>(())
    })?;
    let peak_kib = crate::catalog_memory::peak_resident_kib()?;
    println!("peak {peak_kib} {}", peak_sockets.load(Ordering::Relaxed));
    Ok(())
}

/// This process's open sockets (Linux: `/proc/self/fd` links to `socket:[...]`).
fn open_sockets() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    entries
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count() as u64
}
