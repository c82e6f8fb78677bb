//! Catalogs at network distance (section 10): a whole catalog walked with 8 requests in
//! flight against the same walk one page at a time, from a sandbox that answers after
//! 100 ms. Each walk runs in a child process of its own (this binary's hidden
//! `catalog-walk` command), so its wall time and peak memory are the client's alone; the
//! sandbox in the parent counts the requests each walk made, for the floor
//! `ceil(requests / 8) x 100 ms` that no client at 8 in flight can beat.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use futures::TryStreamExt;
use suppliers::config::{CryptorefillsConfig, FoxReloadConfig};
use suppliers::model::SupplierId;
use suppliers::{CatalogQuery, Suppliers};
use suppliers_sandbox::{CatalogSize, Latency, SandboxConfig};

use crate::Mode;
use crate::catalog_memory::peak_resident_kib;
use crate::report::{Row, Target, median};
use crate::server::Server;

/// What every sandbox answer waits.
pub const LATENCY: Duration = Duration::from_millis(100);
/// Catalog requests in flight on the concurrent side (the SDK's default).
pub const CONCURRENCY: usize = 8;
/// The concurrent walk must be at least this much faster than the sequential one.
pub const SPEED_UP: f64 = 6.0;
/// ... and at most this far above the floor.
pub const ABOVE_FLOOR: f64 = 1.3;
/// ... and hold at most this much more memory than the sequential walk.
pub const MEMORY: f64 = 1.2;

/// What one walk in a child process reports.
#[derive(Debug, Clone, Copy)]
pub struct Walk {
    /// Products the walk yielded.
    pub products: usize,
    /// From the first request to the last product.
    pub elapsed: Duration,
    /// The child's peak resident memory, KiB.
    pub peak_kib: u64,
}

/// The client side, run in a child process: walks `supplier`'s whole catalog at `url`
/// (Cryptorefills in the US) with `concurrency` requests in flight, streaming it.
pub fn client(supplier: SupplierId, url: &str, concurrency: usize) -> Result<Walk> {
    let runtime = crate::client_runtime()?;
    let (products, elapsed) = runtime.block_on(async {
        let builder = Suppliers::builder().catalog_concurrency(concurrency);
        let (builder, query) = match supplier {
            SupplierId::FoxReload => (
                builder.foxreload(FoxReloadConfig::new("sandbox", url)?),
                CatalogQuery::default(),
            ),
            SupplierId::Cryptorefills => (
                builder.cryptorefills(CryptorefillsConfig::new("sandbox", "1.0.0", url)?),
                CatalogQuery {
                    country: Some("US".into()),
                    ..CatalogQuery::default()
                },
            ),
            SupplierId::MousaCard => bail!("MousaCard's catalog is one request"),
        };
        let suppliers = builder.build()?;
        let started = Instant::now();
        let products = suppliers
            .get(supplier)?
            .catalog(query)
            .try_fold(0, |n, product| {
                std::hint::black_box(product);
                async move { Ok(n + 1) }
            })
            .await?;
        Ok::<_, anyhow::Error>((products, started.elapsed()))
    })?;
    Ok(Walk {
        products,
        elapsed,
        peak_kib: peak_resident_kib()?,
    })
}

/// Runs one walk in a child process.
fn walk(exe: &Path, supplier: SupplierId, url: &str, concurrency: usize) -> Result<Walk> {
    let concurrency = concurrency.to_string();
    let args = [
        "catalog-walk",
        "--supplier",
        supplier.as_str(),
        "--url",
        url,
        "--concurrency",
        &concurrency,
    ];
    let fields = crate::child::run(exe, &args)?;
    Ok(Walk {
        products: usize::try_from(fields.get("products")?)?,
        elapsed: Duration::from_micros(fields.get("micros")?),
        peak_kib: fields.get("peak_kib")?,
    })
}

/// Prints what [`client`] measured, for the parent process to read.
pub fn print(walk: &Walk) {
    println!(
        "products={} micros={} peak_kib={}",
        walk.products,
        walk.elapsed.as_micros(),
        walk.peak_kib
    );
}

/// The walks of one side: wall times (s), peak memories (KiB), products and requests of
/// the last one.
struct Side {
    seconds: Vec<f64>,
    peaks: Vec<f64>,
    products: usize,
    requests: u64,
}

fn side(
    server: &Server,
    exe: &Path,
    supplier: SupplierId,
    concurrency: usize,
    trials: usize,
) -> Result<Side> {
    let url = match supplier {
        SupplierId::FoxReload => server.sandbox().foxreload_url(),
        _ => server.sandbox().cryptorefills_url(),
    };
    let mut side = Side {
        seconds: Vec::new(),
        peaks: Vec::new(),
        products: 0,
        requests: 0,
    };
    for _ in 0..trials {
        let before = server.sandbox().requests_served_by(supplier.as_str());
        server.sandbox().reset_peak_in_flight();
        let walked = walk(exe, supplier, &url, concurrency)?;
        side.requests = server.sandbox().requests_served_by(supplier.as_str()) - before;
        let in_flight = server.sandbox().peak_in_flight();
        ensure!(
            in_flight <= concurrency as u64,
            "{in_flight} requests in flight at a concurrency of {concurrency}"
        );
        side.seconds.push(walked.elapsed.as_secs_f64());
        side.peaks.push(walked.peak_kib as f64);
        side.products = walked.products;
    }
    Ok(side)
}

/// Runs the section with `client_exe` (this binary) as the client: for each supplier the
/// speed-up, the distance to the floor and the memory of the concurrent walk.
pub fn run(mode: Mode, client_exe: &Path) -> Result<Vec<Row>> {
    let (families, categories, per_category) = mode.pick((40, 8, 50), (300, 40, 50));
    let trials = mode.pick(1, 3);
    let server = Server::start(SandboxConfig {
        latency: Some(Latency {
            base: LATENCY,
            jitter: Duration::ZERO,
        }),
        catalog_size: CatalogSize {
            cryptorefills_families: families,
            foxreload_categories: categories,
            foxreload_products_per_category: per_category,
        },
        ..SandboxConfig::default()
    })?;
    let mut rows = Vec::new();
    for (supplier, catalog) in [
        (
            SupplierId::Cryptorefills,
            format!("{families}-family Cryptorefills catalog"),
        ),
        (
            SupplierId::FoxReload,
            format!("{categories}-category x {per_category}-product FoxReload catalog"),
        ),
    ] {
        let sequential = side(&server, client_exe, supplier, 1, trials)?;
        let concurrent = side(&server, client_exe, supplier, CONCURRENCY, trials)?;
        ensure!(
            sequential.products == concurrent.products
                && sequential.requests == concurrent.requests,
            "{supplier}: {} products in {} requests one at a time, {} in {} at {CONCURRENCY}",
            sequential.products,
            sequential.requests,
            concurrent.products,
            concurrent.requests
        );
        let (fast, slow) = (median(&concurrent.seconds), median(&sequential.seconds));
        let rounds = concurrent.requests.div_ceil(CONCURRENCY as u64);
        let floor = rounds as f64 * LATENCY.as_secs_f64();
        let speed_up = slow / fast;
        let above = fast / floor;
        let memory = median(&concurrent.peaks) / median(&sequential.peaks);
        let label = format!(
            "{catalog}, {} products in {} requests, 100 ms answers",
            concurrent.products, concurrent.requests
        );
        rows.push(Row {
            section: 10,
            measure: format!("{label}: speed-up of {CONCURRENCY} in flight (x)"),
            sdk: format!("{fast:.2} s at {CONCURRENCY}"),
            baseline: format!("{slow:.2} s one page at a time"),
            ratio: Some(speed_up),
            target: Some(Target::new(
                format!(">= {SPEED_UP:.0}"),
                speed_up >= SPEED_UP,
            )),
        });
        rows.push(Row {
            section: 10,
            measure: format!("{label}: wall time at {CONCURRENCY} against the floor"),
            sdk: format!("{fast:.2} s"),
            baseline: format!("{floor:.2} s (ceil(requests / {CONCURRENCY}) x 100 ms)"),
            ratio: Some(above),
            target: Some(Target::new(
                format!("<= {ABOVE_FLOOR:.1}"),
                above <= ABOVE_FLOOR,
            )),
        });
        rows.push(Row {
            section: 10,
            measure: format!("{label}: peak memory at {CONCURRENCY} against one at a time"),
            sdk: format!("{:.1} MiB", median(&concurrent.peaks) / 1024.0),
            baseline: format!("{:.1} MiB", median(&sequential.peaks) / 1024.0),
            ratio: Some(memory),
            target: Some(Target::new(format!("<= {MEMORY:.1}"), memory <= MEMORY)),
        });
    }
    Ok(rows)
}
