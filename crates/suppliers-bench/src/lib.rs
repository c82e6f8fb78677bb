//! What the supplier SDK costs on top of the wire, each figure measured against a
//! baseline in the same run on 127.0.0.1 (issue 7). `cargo xtask bench` builds this
//! crate in release mode, runs every section and prints one table:
//!
//! 1. [`request_overhead`]: `get order` through the facade against hand-written
//!    `reqwest` + `serde_json`, one at a time and 32 in flight;
//! 2. [`decoding`]: large bodies decoded by the generated types against
//!    `serde_json::Value` and a minimal hand-written struct;
//! 3. [`batch_tracking`]: MousaCard `wait_for_orders` against one request per order;
//! 4. [`completion_latency`]: Cryptorefills `Done` to the caller, over SSE and polling;
//! 5. [`catalog_memory`]: peak memory streaming a catalog against collecting it;
//! 6. codegen wall time, measured by the xtask and passed in;
//! 7. [`journal_overhead`]: FoxReload purchases journaled in SQLite against the same
//!    purchases unjournaled: 64 in flight against a sandbox 50 ms away (what a
//!    reseller sees), and 32 in flight on loopback with the CPU time each costs;
//! 9. [`fulfilment_tracking`]: many open orders followed to the end by one tracker
//!    process, against one poll per order per round;
//! 10. [`catalog_concurrency`]: whole catalogs 100 ms away, 8 requests in flight against
//!     one page at a time and against the floor no walk at 8 can beat;
//! 11. [`cold_build`]: a crate on `suppliers` without default features built cold against
//!     one on the three client crates, measured by the xtask and passed in.
//!
//! Each section is a plain function returning its rows:
//!
//! ```no_run
//! use suppliers_bench::{Mode, decoding, report};
//!
//! let rows = decoding::run(Mode::Quick).expect("decoding bench");
//! println!("{}", report::markdown(&rows));
//! ```

pub mod batch_tracking;
pub mod catalog_concurrency;
pub mod catalog_memory;
pub mod child;
pub mod cold_build;
pub mod completion_latency;
pub mod cores;
pub mod decoding;
pub mod fulfilment_tracking;
pub mod journal_overhead;
pub mod machine;
pub mod report;
pub mod request_overhead;
pub mod server;

/// How long to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Small sizes and few trials: under 30 s, so CI runs it and it never rots.
    Quick,
    /// The sizes the issue asks for; a few minutes on two cores.
    Full,
}

impl Mode {
    /// `quick` in quick mode, `full` otherwise.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Self::Quick => quick,
            Self::Full => full,
        }
    }
}

/// A runtime for the measured client side: the calling thread, pinned to a core of its
/// own ([`cores`]); the sandbox runs on another ([`server`]).
pub fn client_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    cores::pin_client();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
