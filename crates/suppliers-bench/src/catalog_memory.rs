//! Catalog streaming memory (section 5): the peak resident memory of a client that streams a
//! FoxReload catalog page by page, against one that collects it, for growing sizes.
//! Each client is a child process of its own (this binary's hidden `catalog-client`
//! command), so the peak it reports is the client's alone: the sandbox, holding the
//! whole synthetic catalog, runs in the parent. Peaks come from `VmHWM` (Linux).

use std::path::Path;

use anyhow::{Context, Result, ensure};
use futures::{StreamExt, TryStreamExt};
use suppliers::config::FoxReloadConfig;
use suppliers::model::SupplierId;
use suppliers::{CatalogQuery, Suppliers};
use suppliers_sandbox::SandboxConfig;

use crate::Mode;
use crate::report::{Row, Target};
use crate::server::Server;

/// Streaming peaks may grow this much from the smallest catalog to the largest and
/// still count as flat.
pub const FLAT_RATIO: f64 = 1.10;

/// What a catalog client does with the products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consume {
    /// Reads them one at a time as pages arrive, keeping none.
    Stream,
    /// Collects them all into a `Vec` first.
    Collect,
}

impl std::str::FromStr for Consume {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "stream" => Ok(Self::Stream),
            "collect" => Ok(Self::Collect),
            other => Err(format!("{other:?}: expected stream or collect")),
        }
    }
}

impl std::fmt::Display for Consume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Stream => "stream",
            Self::Collect => "collect",
        })
    }
}

/// The client side, run in a child process: reads the first `items` products of the
/// FoxReload catalog at `url` and returns how many it read and its peak memory (KiB).
pub fn client(url: &str, consume: Consume, items: usize) -> Result<(usize, u64)> {
    let runtime = crate::client_runtime()?;
    let read = runtime.block_on(async {
        let suppliers = Suppliers::builder()
            .foxreload(FoxReloadConfig::new("sandbox", url)?)
            .build()?;
        let catalog = suppliers
            .get(SupplierId::FoxReload)?
            .catalog(CatalogQuery::default())
            .take(items);
        Ok::<_, anyhow::Error>(match consume {
            Consume::Stream => {
                catalog
                    .try_fold(0, |n, product| {
                        std::hint::black_box(product);
                        async move { Ok(n + 1) }
                    })
                    .await?
            }
            Consume::Collect => std::hint::black_box(catalog.try_collect::<Vec<_>>().await?).len(),
        })
    })?;
    Ok((read, peak_resident_kib()?))
}

/// This process's peak resident set size in KiB.
pub fn peak_resident_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")
        .context("peak memory is read from /proc/self/status (Linux only)")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM line in /proc/self/status")
}

/// Runs one client process and returns its peak (KiB).
fn measure(exe: &Path, url: &str, consume: Consume, items: usize) -> Result<u64> {
    let (consume, wanted) = (consume.to_string(), items.to_string());
    let args = [
        "catalog-client",
        "--url",
        url,
        "--consume",
        &consume,
        "--items",
        &wanted,
    ];
    let fields = crate::child::run(exe, &args)?;
    let read = fields.get("items")?;
    ensure!(
        read == items as u64,
        "the client read {read} of {items} products"
    );
    fields.get("peak_kib")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Runs the section with `client_exe` (this binary) as the client: one row per size
/// and one for flatness.
pub fn run(mode: Mode, client_exe: &Path) -> Result<Vec<Row>> {
    let sizes: &[usize] = mode.pick(&[1_000, 10_000], &[1_000, 10_000, 100_000]);
    let largest = *sizes.last().expect("sizes");
    let server = Server::start(SandboxConfig {
        foxreload_synthetic_products: largest,
        ..SandboxConfig::default()
    })?;
    let url = server.sandbox().foxreload_url();
    let mut rows = Vec::new();
    let mut streamed = Vec::new();
    for &items in sizes {
        let stream = measure(client_exe, &url, Consume::Stream, items)?;
        let collect = measure(client_exe, &url, Consume::Collect, items)?;
        streamed.push(stream);
        rows.push(Row {
            section: 5,
            measure: format!("peak memory, FoxReload catalog of {items} products"),
            sdk: format!("{} (streamed)", mib(stream)),
            baseline: format!("{} (collected)", mib(collect)),
            ratio: Some(stream as f64 / collect as f64),
            target: None,
        });
    }
    let (small, large) = (streamed[0], *streamed.last().expect("sizes"));
    let growth = large as f64 / small as f64;
    rows.push(Row {
        section: 5,
        measure: format!(
            "streaming peak, {largest} products against {} products",
            sizes[0]
        ),
        sdk: mib(large),
        baseline: mib(small),
        ratio: Some(growth),
        target: Some(Target::new(
            format!("<= {FLAT_RATIO:.2} (flat)"),
            growth <= FLAT_RATIO,
        )),
    });
    Ok(rows)
}
