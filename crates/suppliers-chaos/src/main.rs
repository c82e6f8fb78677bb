//! `cargo xtask chaos [--seconds N] [--seed S] [--journal URL]`: concurrent buyers on
//! the three suppliers and two trackers, each a `suppliers` process, against the
//! sandbox behind a fault proxy that picks toxics per connection from the fault matrix.
//! After N seconds the faults stop, `reconcile` settles what was left ambiguous and the
//! trackers finish; then the sandbox's own books, the journal and the webhook receiver
//! are compared. Exits 1 if an invariant broke.

mod audit;
mod faults;
mod receiver;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use rust_decimal::Decimal;
use suppliers_journal::{Journal, State};
use suppliers_sandbox::{Latency, Sandbox, SandboxConfig};

use workload::{Buyers, Cli, Purchases, Tracking};

/// A seeded chaos run (see the crate's documentation).
#[derive(Parser)]
struct Args {
    /// How long the buyers buy with faults on.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// The seed of the faults' schedule and of what is bought (random by default; a
    /// failing run prints its own).
    #[arg(long)]
    seed: Option<u64>,
    /// The journal: an SQLite file or postgres://... (an empty one: the audit compares
    /// every entry with a fresh sandbox); a fresh SQLite file by default.
    #[arg(long, value_name = "URL")]
    journal: Option<String>,
    /// The `suppliers` binary the buyers and trackers run.
    #[arg(long, value_name = "PATH")]
    cli: PathBuf,
    /// Buyers per supplier, each one purchase at a time.
    #[arg(long, default_value_t = 3)]
    buyers_per_supplier: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("chaos: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// What the run did besides the audit.
struct Ran {
    seed: u64,
    seconds: u64,
    journal: String,
    connections: u64,
    toxics: std::collections::BTreeMap<&'static str, u64>,
    purchases: Purchases,
    tracking: Tracking,
    reconcile: String,
    settled: [usize; 3],
    elapsed: Duration,
}

async fn run(args: Args) -> Result<bool> {
    let started = Instant::now();
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    let scratch = tempfile::tempdir().context("a scratch directory")?;
    let journal_location = match &args.journal {
        Some(location) => location.clone(),
        None => scratch.path().join("journal.sqlite3").display().to_string(),
    };
    let journal = Journal::open(&journal_location)
        .await
        .with_context(|| format!("opening the journal {journal_location}"))?;
    if !journal.all_entries().await?.is_empty() {
        bail!(
            "the journal {journal_location} is not empty: the audit compares every entry with a fresh sandbox"
        );
    }
    let plenty = Decimal::new(100_000_000, 0);
    let sandbox = Arc::new(
        Sandbox::start(SandboxConfig {
            latency: Some(Latency {
                base: Duration::from_millis(50),
                jitter: Duration::from_millis(250),
            }),
            failure_share: 0.05,
            foxreload_balance: plenty,
            mousacard_balance: plenty,
            stock_per_product: 100_000_000,
            // The customer pays each order whose wallet address reached the buyer.
            cryptorefills_auto_pay_after: None,
            network_faults: faults::toxics(),
            network_faults_seed: Some(seed),
            ..SandboxConfig::default()
        })
        .await
        .context("starting the sandbox")?,
    );
    let received = receiver::Shared::default();
    let webhook = receiver::start(received.clone()).await?;
    eprintln!(
        "chaos: seed {seed}, {} s of faults, journal {journal_location}, sandbox behind the fault proxy at {}",
        args.seconds,
        sandbox.address()
    );
    for line in faults::described() {
        eprintln!("  {line}");
    }

    let mut env: Vec<(String, String)> = sandbox
        .environment()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.push(("SUPPLIERS_JOURNAL".into(), journal_location.clone()));
    env.push(("SUPPLIERS_WEBHOOK_SECRET".into(), receiver::SECRET.into()));
    let cli = Cli {
        path: args.cli.clone(),
        env,
    };

    let buyers = Arc::new(Buyers {
        cli: cli.clone(),
        seed,
        prefix: format!("chaos-{seed:x}-"),
        next: AtomicU64::new(1),
        stop: AtomicBool::new(false),
        purchases: Mutex::default(),
    });
    let last = Arc::new(AtomicBool::new(false));
    let tracking = Arc::new(Mutex::new(Tracking::default()));
    let trackers: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(workload::track_until_done(
                cli.clone(),
                webhook.clone(),
                last.clone(),
                tracking.clone(),
            ))
        })
        .collect();
    let shoppers: Vec<_> = (0..3)
        .flat_map(|shop| (0..args.buyers_per_supplier).map(move |_| shop))
        .map(|shop| tokio::spawn(buyers.clone().buy_until_stopped(shop, sandbox.clone())))
        .collect();

    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    buyers.stop.store(true, Ordering::SeqCst);
    let proxy = sandbox.network_faults().expect("served through the proxy");
    let stats = proxy.stats();
    proxy.clear();
    eprintln!("chaos: faults stopped; waiting for the purchases in flight");
    for shopper in shoppers {
        shopper.await?;
    }

    eprintln!("chaos: reconcile");
    let before = journal.unresolved().await?.len();
    let (output, _) = cli
        .run(&["--json", "reconcile"], Duration::from_secs(600))
        .await;
    let reconcile = match output {
        None => "killed after 600 s".to_owned(),
        Some(output) => format!(
            "exit {}, {before} unresolved before",
            output
                .status
                .code()
                .map_or("by signal".into(), |c| c.to_string())
        ),
    };
    let purchases = std::mem::take(&mut *buyers.purchases.lock().expect("tally"));
    let mut settled = [0; 3];
    let mut unsettled = Vec::new();
    let after_reconcile = journal.all_entries().await?;
    for reference in &purchases.ambiguous {
        let entry = after_reconcile.iter().find(|e| &e.reference == reference);
        match entry.map(|e| e.state) {
            Some(State::Bought) => settled[0] += 1,
            Some(State::NotBought | State::Failed) => settled[1] += 1,
            _ => {
                settled[2] += 1;
                if let Some(entry) = entry {
                    unsettled.push(format!(
                        "{} {}: {}",
                        entry.supplier,
                        entry.reference,
                        entry.detail.as_deref().unwrap_or_default()
                    ));
                }
            }
        }
    }

    eprintln!("chaos: the trackers finish");
    last.store(true, Ordering::SeqCst);
    for tracker in trackers {
        tracker.await?;
    }

    let entries = journal.all_entries().await?;
    let books = [
        ("foxreload", sandbox.foxreload().books()),
        ("mousacard", sandbox.mousacard().books()),
        ("cryptorefills", sandbox.cryptorefills().books()),
    ];
    let deliveries = received.lock().expect("receiver").deliveries.clone();
    let audit = audit::audit(&books, &entries, &deliveries);
    let tracking = std::mem::take(&mut *tracking.lock().expect("tally"));
    let ran = Ran {
        seed,
        seconds: args.seconds,
        journal: if journal_location.starts_with("postgres") {
            "PostgreSQL".into()
        } else {
            "SQLite".into()
        },
        connections: stats.connections,
        toxics: stats.applied,
        purchases,
        tracking,
        reconcile,
        settled,
        elapsed: started.elapsed(),
    };
    let mut failures = audit.failures();
    failures.extend(process_failures(&ran));
    print_table(&ran, &audit, &entries, failures.is_empty());
    for line in &unsettled {
        println!("still unknown: {line}");
    }
    for failure in &failures {
        println!("FAILED {failure}");
    }
    if !failures.is_empty() {
        if args.journal.is_none() {
            println!("journal kept: {}", scratch.keep().display());
        }
        println!(
            "reproduce: cargo xtask chaos --seconds {} --seed {seed}",
            args.seconds
        );
    }
    match Arc::try_unwrap(sandbox) {
        Ok(sandbox) => sandbox.shutdown().await,
        Err(_) => unreachable!("every task holding the sandbox has ended"),
    }
    Ok(failures.is_empty())
}

/// Processes that were killed, exited unexpectedly, or left a purchase undecided.
fn process_failures(ran: &Ran) -> Vec<String> {
    let p = &ran.purchases;
    let t = &ran.tracking;
    let mut failures: Vec<String> = p.unexpected.iter().map(|u| format!("buy {u}")).collect();
    failures.extend(t.unexpected.iter().cloned());
    if p.outlived > 0 {
        failures.push(format!(
            "{} buy processes outlived their {} s deadline and were killed",
            p.outlived,
            workload::BUY_DEADLINE.as_secs()
        ));
    }
    if t.outlived > 0 {
        failures.push(format!("{} track processes were killed", t.outlived));
    }
    failures
}

fn print_table(
    ran: &Ran,
    audit: &audit::Audit,
    entries: &[suppliers_journal::Entry],
    passed: bool,
) {
    let p = &ran.purchases;
    let row = |what: &str, value: String| println!("{what:<52} {value}");
    println!();
    row("seed", ran.seed.to_string());
    row(
        "faults on, then everything settled",
        format!("{} s, {:.0} s", ran.seconds, ran.elapsed.as_secs_f64()),
    );
    row("journal", ran.journal.clone());
    row("connections through the proxy", ran.connections.to_string());
    let applied: u64 = ran.toxics.values().sum();
    row("toxics applied", applied.to_string());
    for (kind, count) in &ran.toxics {
        row(&format!("  {kind}"), count.to_string());
    }
    row("purchases attempted (references)", p.attempted.to_string());
    row("  bought", p.bought.to_string());
    row("  not bought, known at once", p.refused.to_string());
    for (why, count) in &p.refusals {
        row(&format!("    {count} x"), why.clone());
    }
    row(
        "  transport failures, sent again under the reference",
        p.retried.to_string(),
    );
    row(
        "  given up after three transport failures",
        p.abandoned.len().to_string(),
    );
    row("  ambiguous", p.ambiguous.len().to_string());
    row(
        "    settled by reconcile: bought",
        ran.settled[0].to_string(),
    );
    row(
        "    settled by reconcile: not bought",
        ran.settled[1].to_string(),
    );
    row("    still unknown", ran.settled[2].to_string());
    row("reconcile", ran.reconcile.clone());
    let bought = entries.iter().filter(|e| e.state == State::Bought).count();
    row(
        "journal entries / bought",
        format!("{} / {bought}", entries.len()),
    );
    row("orders in the sandbox's books", audit.orders.to_string());
    for (supplier, count) in &audit.uncharged_unknown {
        row(
            &format!("  never charged, unknown to the journal ({supplier})"),
            count.to_string(),
        );
    }
    row("reports delivered", audit.deliveries.to_string());
    row("  distinct events", audit.distinct_events.to_string());
    row(
        "  duplicates (allowed: at least once)",
        (audit.deliveries - audit.distinct_events).to_string(),
    );
    row(
        "tracker runs (timed out during faults, resumed)",
        format!("{} ({})", ran.tracking.runs, ran.tracking.timed_out),
    );
    row(
        "longest buy (deadline)",
        format!(
            "{:.1} s ({} s)",
            p.longest.as_secs_f64(),
            workload::BUY_DEADLINE.as_secs()
        ),
    );
    row("double purchases", audit.double_purchases.len().to_string());
    row("lost orders", audit.lost.len().to_string());
    row("bought, never reported", audit.unreported.len().to_string());
    row(
        "result",
        if passed {
            "passed".into()
        } else {
            "FAILED".into()
        },
    );
}
