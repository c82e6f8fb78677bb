//! The sandbox on a runtime and thread of its own, pinned to a core of its own
//! ([`crate::cores`]), so the client side being measured shares neither scheduler nor
//! core with the server it talks to.

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
}
