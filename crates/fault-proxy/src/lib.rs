//! A small TCP fault proxy on tokio, with [Toxiproxy]'s toxics and their meanings.
//!
//! A [`FaultProxy`] listens on 127.0.0.1 and forwards every connection to one upstream
//! address, applying [`Toxic`]s to it: per direction ([`Stream::Upstream`], client to
//! server, or [`Stream::Downstream`], server to client, Toxiproxy's default) and per
//! connection (a toxic's `toxicity` is the share of connections it applies to, decided
//! once per connection). The seven [`ToxicKind`]s are Toxiproxy's: `latency` (with
//! jitter), `bandwidth`, `slicer` (small pieces with delays: a drip), `timeout` (data
//! stops, the connection closes later, or never with 0), `limit_data` (close after N
//! bytes), `reset_peer` (TCP RST) and `slow_close` (the close waits).
//!
//! Toxics change while the proxy runs: new connections see the new set at once, open
//! ones at their next chunk of data (and a `timeout` stall ends when its toxic is
//! removed). With [`FaultProxy::start_seeded`] every random choice (toxicity, jitter,
//! slice sizes) comes from one seed, so a schedule reproduces when connections come in
//! the same order.
//!
//! ```
//! use std::time::Duration;
//! use fault_proxy::{FaultProxy, Stream, Toxic, ToxicKind};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let proxy = FaultProxy::start(server.local_addr()?).await?;
//! // Answers 300 ms late; requests reset on a tenth of the connections.
//! proxy.add(Toxic::new(ToxicKind::Latency {
//!     latency: Duration::from_millis(300),
//!     jitter: Duration::ZERO,
//! }));
//! proxy.add("upstream/reset_peer:0@0.1".parse()?);
//! assert_eq!(proxy.toxics()[1].stream, Stream::Upstream);
//! println!("clients connect to {}", proxy.address());
//! proxy.remove("latency_downstream");
//! proxy.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Where it differs from Toxiproxy: one proxy per upstream, driven from Rust rather
//! than over HTTP; toxics of one direction act in a fixed order (`timeout` and
//! `reset_peer` stop data, then `latency`, `limit_data`, `slicer` and `bandwidth`, and
//! `slow_close` at the end) rather than in the order added; removing a `timeout`
//! lets data pass again rather than closing the connection.
//!
//! [Toxiproxy]: https://github.com/Shopify/toxiproxy

#![warn(missing_docs)]

mod connection;
mod toxic;

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use connection::{Installed, Shared, ToxicSet};
pub use toxic::{ParseToxicError, Stream, Toxic, ToxicKind};

/// A running proxy. Dropping it stops it too, without waiting (see
/// [`FaultProxy::shutdown`]).
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("address", &self.address)
            .field("upstream", &self.shared.upstream)
            .field("toxics", &self.toxics())
            .finish()
    }
}

/// What a proxy did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub connections: u64,
    /// For each kind (Toxiproxy's name, all seven present): how many times a toxic of
    /// that kind applied to a connection, i.e. its toxicity picked the connection.
    pub applied: BTreeMap<&'static str, u64>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 on a free port and forwards to `upstream`, with no toxics.
    pub async fn start(upstream: SocketAddr) -> io::Result<Self> {
        Self::bind((Ipv4Addr::LOCALHOST, 0).into(), upstream, None).await
    }

    /// Like [`FaultProxy::start`], with every random choice drawn from `seed`: the same
    /// toxics over connections coming in the same order pick the same connections,
    /// jitters and slice sizes.
    pub async fn start_seeded(upstream: SocketAddr, seed: u64) -> io::Result<Self> {
        Self::bind((Ipv4Addr::LOCALHOST, 0).into(), upstream, Some(seed)).await
    }

    /// Listens on `listen` (port 0 for a free one) and forwards to `upstream`, with no
    /// toxics; random choices from `seed` if given, as with
    /// [`FaultProxy::start_seeded`].
    pub async fn bind(
        listen: SocketAddr,
        upstream: SocketAddr,
        seed: Option<u64>,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            toxics: watch::Sender::new(ToxicSet::default()),
            next_uid: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            applied: Default::default(),
        });
        let rng = seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept(listener, shared.clone(), rng, stopped));
        Ok(Self {
            address,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The address clients connect to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The address connections are forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// The toxics in force, in order.
    pub fn toxics(&self) -> Vec<Toxic> {
        self.shared
            .toxics
            .borrow()
            .iter()
            .map(|installed| installed.toxic.clone())
            .collect()
    }

    /// Replaces every toxic with `toxics` (names may repeat; [`FaultProxy::remove`]
    /// removes all of a name).
    pub fn set_toxics(&self, toxics: Vec<Toxic>) {
        let toxics = toxics
            .into_iter()
            .map(|toxic| self.install(toxic))
            .collect();
        self.shared.toxics.send_replace(Arc::new(toxics));
    }

    /// Adds `toxic`, in place of those of the same name if any (their state on open
    /// connections is dropped and the toxicity drawn again).
    pub fn add(&self, toxic: Toxic) {
        let installed = self.install(toxic);
        self.change(|toxics| {
            match toxics
                .iter()
                .position(|old| old.toxic.name == installed.toxic.name)
            {
                Some(first) => {
                    toxics.retain(|old| old.toxic.name != installed.toxic.name);
                    toxics.insert(first.min(toxics.len()), installed);
                }
                None => toxics.push(installed),
            }
        });
    }

    /// Removes the toxics named `name`; whether there were any.
    pub fn remove(&self, name: &str) -> bool {
        let mut removed = false;
        self.change(|toxics| {
            let before = toxics.len();
            toxics.retain(|installed| installed.toxic.name != name);
            removed = toxics.len() != before;
        });
        removed
    }

    /// Removes every toxic.
    pub fn clear(&self) {
        self.shared.toxics.send_replace(ToxicSet::default());
    }

    /// Connections accepted so far, and how many each kind of toxic applied to.
    pub fn stats(&self) -> Stats {
        Stats {
            connections: self.shared.connections.load(Ordering::Relaxed),
            applied: ToxicKind::NAMES
                .iter()
                .zip(&self.shared.applied)
                .map(|(name, count)| (*name, count.load(Ordering::Relaxed)))
                .collect(),
        }
    }

    /// Stops accepting, closes the open connections and waits until they are closed.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn install(&self, toxic: Toxic) -> Installed {
        Installed {
            uid: self.shared.next_uid.fetch_add(1, Ordering::Relaxed),
            toxic,
            taken: Arc::default(),
        }
    }

    /// Applies `edit` to a copy of the toxics and publishes it.
    fn change(&self, edit: impl FnOnce(&mut Vec<Installed>)) {
        self.shared.toxics.send_modify(|set| {
            let mut toxics = set.to_vec();
            edit(&mut toxics);
            *set = Arc::new(toxics);
        });
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Accepts connections until `stop`, then waits for them to close.
async fn accept(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut rng: fastrand::Rng,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = connection::stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    let seed = rng.u64(..);
                    connections.spawn(connection::serve(client, shared.clone(), seed, stop.clone()));
                }
                // Out of file descriptors, say: try again shortly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}
