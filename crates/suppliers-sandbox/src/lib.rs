//! A stateful local simulator of the supplier APIs, on 127.0.0.1: the embedded default
//! of the CLI's `--sandbox` mode and of the test suites. Orders move through their real
//! lifecycles on a clock, balances are debited, stock runs out, and faults can be
//! injected per route.
//!
//! Served: FoxReload under `/foxreload`, MousaCard under `/mousacard`, Cryptorefills
//! under `/cryptorefills` (with SSE order tracking).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let sandbox = suppliers_sandbox::Sandbox::start(Default::default()).await?;
//! println!("FoxReload at {} (X-API-Key: sandbox)", sandbox.foxreload_url());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! What [`SandboxConfig`] shapes, beyond balances and stock (the binary's flags, also
//! taken by `suppliers sandbox`, in brackets; see [`SandboxFlags`]):
//! - how long orders take to complete, [`Timings`] (`--complete-after MS`);
//! - the share of orders that fail after the purchase, without codes:
//!   [`SandboxConfig::failure_share`] (`--failure-share F`): FoxReload `failed` and
//!   MousaCard `rejected`, both refunded to the balance, Cryptorefills `Refunded`;
//! - the share of Cryptorefills orders never paid, which end `Expired` when the payment
//!   window closes: [`SandboxConfig::cryptorefills_unpaid_share`] (`--unpaid-share F`),
//!   [`SandboxConfig::cryptorefills_payment_window`] (`--payment-window SECS`) and
//!   [`SandboxConfig::cryptorefills_auto_pay_after`] (`--auto-pay-after MS`);
//! - a delay before every answer, [`SandboxConfig::latency`] (`--latency MS[:JITTER_MS]`),
//!   to give the sandbox a real supplier's distance;
//! - a catalog of a real supplier's size, [`SandboxConfig::catalog_size`]: generated
//!   Cryptorefills brand families in each country (`--cryptorefills-families N`) and
//!   FoxReload categories of N products (`--foxreload-categories N`,
//!   `--foxreload-products-per-category N`);
//! - faults on the TCP connections themselves, [`SandboxConfig::network_faults`]
//!   (`--network-fault [upstream/|downstream/]TOXIC[:ARGS][@SHARE]`, repeatable, and
//!   `--network-fault-seed N`): Toxiproxy's toxics, applied by a [`FaultProxy`] the
//!   sandbox then serves through, e.g. `--network-fault latency:300` (answers 300 ms
//!   late), `--network-fault reset_peer:0@0.1` (a tenth of the connections reset at
//!   their answer), `--network-fault downstream/slicer:1:0:3000000@0.2` (a fifth
//!   dripping a byte every 3 s); see [`fault_proxy::Toxic`]'s `FromStr`.
//!
//! Every default keeps orders succeeding, a few seconds after payment, with no delay.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::time::Duration;
//! use suppliers_sandbox::{Latency, Sandbox, SandboxConfig, Timings};
//!
//! // 50-300 ms away, orders done 2 s after payment, one in ten failing.
//! let sandbox = Sandbox::start(SandboxConfig {
//!     timings: Timings::completing_after(Duration::from_secs(2)),
//!     failure_share: 0.1,
//!     latency: Some(Latency {
//!         base: Duration::from_millis(50),
//!         jitter: Duration::from_millis(250),
//!     }),
//!     ..SandboxConfig::default()
//! })
//! .await?;
//! # sandbox.shutdown().await;
//! # Ok(()) }
//! ```

pub mod books;
pub mod config;
pub mod cryptorefills;
mod extract;
pub mod faults;
pub mod flags;
pub mod foxreload;
mod latency;
pub mod mousacard;
mod outcomes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use books::{BookedOrder, Books};
pub use config::{CatalogSize, Latency, SandboxConfig, Timings};
/// The TCP fault proxy behind [`SandboxConfig::network_faults`].
pub use fault_proxy;
use fault_proxy::FaultProxy;
pub use faults::{Fault, FaultRule, Faults};
pub use flags::SandboxFlags;

/// A running sandbox. Dropping it without [`Sandbox::shutdown`] leaves the server
/// running until the runtime ends (a fault proxy in front of it stops).
pub struct Sandbox {
    address: SocketAddr,
    network_faults: Option<FaultProxy>,
    credential: String,
    faults: Faults,
    requests: Arc<RequestCounts>,
    foxreload: Arc<foxreload::FoxState>,
    mousacard: Arc<mousacard::MousaState>,
    cryptorefills: Arc<cryptorefills::CryptoState>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Sandbox {
    /// Binds 127.0.0.1 on the configured port (0 for any free one) and serves. With
    /// [`SandboxConfig::network_faults`], a [`FaultProxy`] binds that port instead and
    /// forwards to the sandbox on a free port. A configuration
    /// [`SandboxConfig::check`] refuses is an `InvalidInput` error.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Self> {
        config
            .check()
            .map_err(|why| std::io::Error::new(std::io::ErrorKind::InvalidInput, why))?;
        let config = Arc::new(config);
        let proxied = !config.network_faults.is_empty();
        let own_port = if proxied { 0 } else { config.port };
        let listener = TcpListener::bind(("127.0.0.1", own_port)).await?;
        let own_address = listener.local_addr()?;
        let network_faults = if proxied {
            let listen = SocketAddr::from(([127, 0, 0, 1], config.port));
            let proxy = FaultProxy::bind(listen, own_address, config.network_faults_seed).await?;
            proxy.set_toxics(config.network_faults.clone());
            Some(proxy)
        } else {
            None
        };
        let address = network_faults
            .as_ref()
            .map_or(own_address, FaultProxy::address);
        let faults = Faults::default();
        config
            .faults
            .iter()
            .cloned()
            .for_each(|rule| faults.add(rule));
        let foxreload = foxreload::FoxState::new(config.clone());
        let mousacard = mousacard::MousaState::new(config.clone());
        let cryptorefills = cryptorefills::CryptoState::new(config.clone(), faults.clone());
        let requests = Arc::new(RequestCounts::default());
        let app = Router::new()
            .nest("/foxreload", foxreload::router(foxreload.clone()))
            .nest("/mousacard", mousacard::router(mousacard.clone()))
            .nest(
                "/cryptorefills",
                cryptorefills::router(cryptorefills.clone()),
            )
            .layer(axum::middleware::from_fn_with_state(
                faults.clone(),
                faults::inject,
            ));
        // Outside the faults: a refusal travels as far as an answer.
        let app = match config.latency {
            Some(latency) => app.layer(axum::middleware::from_fn_with_state(
                latency,
                latency::delay,
            )),
            None => app,
        };
        let app = app.layer(axum::middleware::from_fn_with_state(
            requests.clone(),
            count_request,
        ));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self {
            address,
            network_faults,
            credential: config.credential.clone(),
            faults,
            requests,
            foxreload,
            mousacard,
            cryptorefills,
            stop: Some(stop),
            server,
        })
    }

    /// The address served: the fault proxy's with [`SandboxConfig::network_faults`].
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The fault proxy in front of the sandbox, with [`SandboxConfig::network_faults`]:
    /// to change its toxics while it runs, or read its stats.
    pub fn network_faults(&self) -> Option<&FaultProxy> {
        self.network_faults.as_ref()
    }

    /// FoxReload's base URL, e.g. `http://127.0.0.1:P/foxreload`.
    pub fn foxreload_url(&self) -> String {
        format!("http://{}/foxreload", self.address)
    }

    /// MousaCard's base URL, e.g. `http://127.0.0.1:P/mousacard`.
    pub fn mousacard_url(&self) -> String {
        format!("http://{}/mousacard", self.address)
    }

    /// MousaCard's state, for assertions (balance, orders).
    pub fn mousacard(&self) -> &mousacard::MousaState {
        &self.mousacard
    }

    /// Cryptorefills' base URL, e.g. `http://127.0.0.1:P/cryptorefills`.
    pub fn cryptorefills_url(&self) -> String {
        format!("http://{}/cryptorefills", self.address)
    }

    /// Cryptorefills' state, for assertions and to pay orders.
    pub fn cryptorefills(&self) -> &cryptorefills::CryptoState {
        &self.cryptorefills
    }

    /// The environment variables that point the facade and the CLI at this sandbox,
    /// with its credentials.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FOXRELOAD_BASE_URL", self.foxreload_url()),
            ("FOXRELOAD_API_KEY", self.credential.clone()),
            ("MOUSACARD_BASE_URL", self.mousacard_url()),
            ("MOUSACARD_TOKEN", self.credential.clone()),
            ("CRYPTOREFILLS_BASE_URL", self.cryptorefills_url()),
            ("CRYPTOREFILLS_PARTNER_ID", self.credential.clone()),
            ("CRYPTOREFILLS_APP_VERSION", "1.0.0".into()),
        ]
    }

    /// Fault injection for this sandbox.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Requests received so far, faulted ones included: what benchmarks and tests
    /// count round trips with.
    pub fn requests_served(&self) -> u64 {
        self.requests.all.load(Ordering::Relaxed)
    }

    /// Requests received so far under one supplier's prefix (`foxreload`, `mousacard`
    /// or `cryptorefills`), faulted ones included.
    pub fn requests_served_by(&self, supplier: &str) -> u64 {
        let counter = match supplier {
            "foxreload" => &self.requests.foxreload,
            "mousacard" => &self.requests.mousacard,
            "cryptorefills" => &self.requests.cryptorefills,
            _ => return 0,
        };
        counter.load(Ordering::Relaxed)
    }

    /// Requests received so far with `method` whose path starts with `path_prefix`
    /// (e.g. `POST`, `/mousacard/orders`), faulted ones included: what a supplier saw of
    /// one operation.
    pub fn requests_to(&self, method: &str, path_prefix: &str) -> u64 {
        let routes = self
            .requests
            .by_route
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        routes
            .iter()
            .filter(|((m, path), _)| m == method && path.starts_with(path_prefix))
            .map(|(_, count)| count)
            .sum()
    }

    /// The most requests that were being handled at once so far, from a request's
    /// arrival until its answer leaves (the configured latency included; an event
    /// stream until its head leaves): how tests check a client's concurrency bound.
    pub fn peak_in_flight(&self) -> u64 {
        self.requests.peak_in_flight.load(Ordering::SeqCst)
    }

    /// Starts [`Self::peak_in_flight`] again from the requests being handled now.
    pub fn reset_peak_in_flight(&self) {
        let now = self.requests.in_flight.load(Ordering::SeqCst);
        self.requests.peak_in_flight.store(now, Ordering::SeqCst);
    }

    /// FoxReload's state, for assertions (balance, orders).
    pub fn foxreload(&self) -> &foxreload::FoxState {
        &self.foxreload
    }

    /// Stops accepting connections, lets requests in flight finish, and waits. The
    /// fault proxy, if any, closes its connections first.
    pub async fn shutdown(mut self) {
        if let Some(proxy) = self.network_faults.take() {
            proxy.shutdown().await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
    }
}

/// Requests received, in all and per supplier, and how many were handled at once.
#[derive(Debug, Default)]
struct RequestCounts {
    all: AtomicU64,
    foxreload: AtomicU64,
    mousacard: AtomicU64,
    cryptorefills: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    /// Requests received by method and path, for tests that count what a supplier saw.
    by_route: std::sync::Mutex<std::collections::HashMap<(String, String), u64>>,
}

/// One request being handled; counted out when dropped, even if its client went away.
struct InFlight<'a>(&'a RequestCounts);

impl<'a> InFlight<'a> {
    fn enter(counts: &'a RequestCounts) -> Self {
        let now = counts.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counts.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(counts)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn count_request(
    State(requests): State<Arc<RequestCounts>>,
    request: Request,
    next: Next,
) -> Response {
    requests.all.fetch_add(1, Ordering::Relaxed);
    let path = request.uri().path();
    let supplier = [
        ("/foxreload/", &requests.foxreload),
        ("/mousacard/", &requests.mousacard),
        ("/cryptorefills/", &requests.cryptorefills),
    ]
    .into_iter()
    .find(|(prefix, _)| path.starts_with(prefix));
    if let Some((_, counter)) = supplier {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    let route = (request.method().as_str().to_owned(), path.to_owned());
    *requests
        .by_route
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(route)
        .or_default() += 1;
    let _in_flight = InFlight::enter(&requests);
    next.run(request).await
}
