//! `suppliers-bench [--quick]`: runs every measurement of issue 7 and prints one table.
//! Run it through `cargo xtask bench`, which builds it in release mode and adds the
//! codegen timings (section 6) and the cold builds (section 11).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use suppliers::model::SupplierId;
use suppliers_bench::catalog_concurrency;
use suppliers_bench::catalog_memory::{self, Consume};
use suppliers_bench::fulfilment_tracking;
use suppliers_bench::report::{self, Row, median};
use suppliers_bench::{Mode, batch_tracking, cold_build, completion_latency, decoding, machine};
use suppliers_bench::{journal_overhead, report::failures, request_overhead};

#[derive(Parser)]
#[command(about = "What the supplier SDK costs on top of the wire, against baselines")]
struct Cli {
    /// Small sizes and few trials (under 30 s).
    #[arg(long)]
    quick: bool,
    /// Only these sections (1-5, 7, 9, 10, and 11 when given its times), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<u8>,
    /// Wall times of `cargo xtask codegen --check`, seconds (from `cargo xtask bench`).
    #[arg(long, value_delimiter = ',')]
    codegen_secs: Vec<f64>,
    /// Wall times of `cargo xtask --help` in the same run: cargo and process start.
    #[arg(long, value_delimiter = ',')]
    codegen_floor_secs: Vec<f64>,
    /// Wall times of cold `cargo build`s of a crate on `suppliers` without default
    /// features, seconds (from `cargo xtask bench`).
    #[arg(long, value_delimiter = ',')]
    cold_build_secs: Vec<f64>,
    /// Wall times of cold builds of a crate on the three client crates, in the same
    /// trials (the two alternate).
    #[arg(long, value_delimiter = ',')]
    cold_build_baseline_secs: Vec<f64>,
    /// Replace the results between the bench markers of this Markdown file.
    #[arg(long)]
    record: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Internal>,
}

#[derive(Subcommand)]
enum Internal {
    /// One catalog client of section 5, in a process of its own.
    #[command(hide = true)]
    CatalogClient {
        #[arg(long)]
        url: String,
        #[arg(long)]
        consume: Consume,
        #[arg(long)]
        items: usize,
    },
    /// One catalog walk of section 10, in a process of its own.
    #[command(hide = true)]
    CatalogWalk {
        #[arg(long)]
        supplier: SupplierId,
        #[arg(long)]
        url: String,
        #[arg(long)]
        concurrency: usize,
    },
    /// The tracking process of section 9.
    #[command(hide = true)]
    TrackClient {
        #[arg(long)]
        journal: String,
    },
}

/// Markers around the recorded results in BENCHMARKS.md.
const START: &str = "<!-- bench:results:start -->";
const END: &str = "<!-- bench:results:end -->";

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Internal::CatalogClient {
            url,
            consume,
            items,
        }) => {
            let (read, peak) = catalog_memory::client(&url, consume, items)?;
            println!("items={read} peak_kib={peak}");
            return Ok(ExitCode::SUCCESS);
        }
        Some(Internal::CatalogWalk {
            supplier,
            url,
            concurrency,
        }) => {
            catalog_concurrency::print(&catalog_concurrency::client(supplier, &url, concurrency)?);
            return Ok(ExitCode::SUCCESS);
        }
        Some(Internal::TrackClient { journal }) => {
            fulfilment_tracking::client(&journal)?;
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    // Before any thread is pinned: the core count is the machine's, not one core's.
    let machine = machine::describe();
    let mode = if cli.quick { Mode::Quick } else { Mode::Full };
    let wanted = |section: u8| cli.only.is_empty() || cli.only.contains(&section);
    let exe = std::env::current_exe().context("locating this binary")?;
    let started = Instant::now();
    let mut rows: Vec<Row> = Vec::new();
    let sections = [
        (1, "request overhead"),
        (2, "decoding"),
        (3, "batch tracking"),
        (4, "completion latency"),
        (5, "catalog memory"),
        (7, "journal overhead"),
        (9, "fulfilment tracking"),
        (10, "catalogs at network distance"),
    ];
    for (number, name) in sections.into_iter().filter(|(n, _)| wanted(*n)) {
        let began = Instant::now();
        eprintln!("== {number}. {name}");
        let section = match number {
            1 => request_overhead::run(mode),
            2 => decoding::run(mode),
            3 => batch_tracking::run(mode),
            4 => completion_latency::run(mode),
            5 => catalog_memory::run(mode, &exe),
            7 => journal_overhead::run(mode),
            9 => fulfilment_tracking::run(mode, &exe),
            _ => catalog_concurrency::run(mode, &exe),
        };
        rows.extend(section.with_context(|| format!("section {number}, {name}"))?);
        eprintln!("   {:.1} s", began.elapsed().as_secs_f64());
    }
    if !cli.codegen_secs.is_empty() && !cli.codegen_floor_secs.is_empty() {
        let (work, floor) = (median(&cli.codegen_secs), median(&cli.codegen_floor_secs));
        rows.push(Row {
            section: 6,
            measure: "`cargo xtask codegen --check`, once built (s)".into(),
            sdk: format!("{work:.2}"),
            baseline: format!("{floor:.2} (`cargo xtask --help`: cargo and process start)"),
            ratio: Some(work / floor),
            target: None,
        });
    }
    if wanted(11) && !cli.cold_build_secs.is_empty() && !cli.cold_build_baseline_secs.is_empty() {
        rows.push(cold_build::row(
            &cli.cold_build_secs,
            &cli.cold_build_baseline_secs,
        )?);
    }
    let heading = format!(
        "`cargo xtask bench{}` on {}, {}; the bench took {:.0} s.",
        if cli.quick { " --quick" } else { "" },
        machine,
        chrono::Utc::now().format("%Y-%m-%d"),
        started.elapsed().as_secs_f64()
    );
    let table = report::markdown(&rows);
    println!("\n{heading}\n\n{table}");
    if let Some(path) = &cli.record {
        record(path, &format!("{heading}\n\n{table}"))?;
        eprintln!("recorded in {}", path.display());
    }
    let failed = failures(&rows);
    for row in &failed {
        eprintln!("required target missed: {}", row.measure);
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Replaces what lies between the markers of `path` with `results`.
fn record(path: &PathBuf, results: &str) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (before, rest) = text
        .split_once(START)
        .with_context(|| format!("no {START} in {}", path.display()))?;
    let (_, after) = rest
        .split_once(END)
        .with_context(|| format!("no {END} in {}", path.display()))?;
    let updated = format!("{before}{START}\n{results}\n{END}{after}");
    std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))
}
