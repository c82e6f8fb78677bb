//! What the facade's examples share: the suppliers configured from the environment, or
//! all three on a sandbox started in this process when no supplier's variables are set.

// Each example uses a part of this module.
#![allow(dead_code)]

use suppliers::config::{CryptorefillsConfig, FoxReloadConfig, MousaCardConfig};
use suppliers::{Journal, Suppliers, SuppliersBuilder};
use suppliers_sandbox::{Sandbox, SandboxConfig};

/// Any error, with its message, ends an example.
pub type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// The variables that configure a supplier: with none of them set, the examples use
/// the sandbox.
const CREDENTIALS: [&str; 3] = [
    "FOXRELOAD_API_KEY",
    "MOUSACARD_TOKEN",
    "CRYPTOREFILLS_PARTNER_ID",
];

/// Whether any supplier is configured in the environment.
pub fn configured_from_env() -> bool {
    CREDENTIALS
        .iter()
        .any(|name| std::env::var_os(name).is_some())
}

/// The suppliers to use, and the sandbox they talk to (kept alive by the caller).
pub struct Connection {
    pub suppliers: Suppliers,
    pub sandbox: Option<Sandbox>,
}

/// The suppliers configured in the environment with the journal of
/// `SUPPLIERS_JOURNAL` (or the default file); with none configured, a sandbox shaped
/// by `sandbox` and an in-memory journal.
pub async fn connect(sandbox: SandboxConfig) -> Result<Connection> {
    if configured_from_env() {
        let suppliers = Suppliers::from_env().await?;
        return Ok(Connection {
            suppliers,
            sandbox: None,
        });
    }
    let sandbox = Sandbox::start(sandbox).await?;
    eprintln!(
        "no supplier variables set: using a sandbox on {}",
        sandbox.address()
    );
    let suppliers = on_sandbox(&sandbox)?
        .journal(Journal::in_memory().await?)
        .build()?;
    Ok(Connection {
        suppliers,
        sandbox: Some(sandbox),
    })
}

/// All three suppliers on `sandbox`, without a journal.
pub fn on_sandbox(sandbox: &Sandbox) -> Result<SuppliersBuilder> {
    Ok(Suppliers::builder()
        .foxreload(FoxReloadConfig::new("sandbox", &sandbox.foxreload_url())?)
        .mousacard(MousaCardConfig::new("sandbox", &sandbox.mousacard_url())?)
        .cryptorefills(CryptorefillsConfig::new(
            "sandbox",
            "1.0.0",
            &sandbox.cryptorefills_url(),
        )?))
}
