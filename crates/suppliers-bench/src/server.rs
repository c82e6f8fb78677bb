//! The sandbox on a runtime and thread of its own, pinned to a core of its own
//! ([`crate::cores`]), so the client side being measured shares neither scheduler nor
//! core with the server it talks to.

use std::collections::HashMap;

use suppliers::config::{ConfigError, CryptorefillsConfig, FoxReloadConfig, MousaCardConfig};
use suppliers::{Suppliers, SuppliersBuilder};
use suppliers_sandbox::{Sandbox, SandboxConfig};

/// A running sandbox. Dropping it stops the server with its runtime; create and drop it
/// outside any async context.
pub struct Server {
    sandbox: Sandbox,
    // Declared last: dropped after the sandbox handle.
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    /// Starts a sandbox with `config` on a one-thread runtime.
    pub fn start(config: SandboxConfig) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sandbox")
            .on_thread_start(|| {
                crate::cores::pin_server();
            })
            .enable_all()
            .build()?;
        let sandbox = runtime.block_on(Sandbox::start(config))?;
        Ok(Self {
            sandbox,
            _runtime: runtime,
        })
    }

    /// The sandbox, for its URLs, state and request count.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The facade configured for all three suppliers of this sandbox, from the same
    /// variables the sandbox prints for users.
    pub fn facade(&self) -> Result<SuppliersBuilder, ConfigError> {
        let environment: HashMap<&str, String> = self.sandbox.environment().into_iter().collect();
        let lookup = |name: &str| environment.get(name).cloned();
        Ok(Suppliers::builder()
            .foxreload(FoxReloadConfig::from_lookup(lookup)?)
            .mousacard(MousaCardConfig::from_lookup(lookup)?)
            .cryptorefills(CryptorefillsConfig::from_lookup(lookup)?))
    }
}
