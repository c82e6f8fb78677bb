//! What the tests that buy through the journal against an in-process sandbox share.

#[path = "../../../suppliers-journal/tests/support/postgres.rs"]
mod postgres;

use suppliers::config::{CryptorefillsConfig, FoxReloadConfig, MousaCardConfig};
use suppliers::{Journal, Suppliers};
use suppliers_sandbox::Sandbox;

/// Journal locations to run against: a fresh SQLite file, and a fresh PostgreSQL
/// database where libpq's `PG*` variables point.
pub fn locations() -> Vec<(String, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![(
        dir.path().join("journal.sqlite3").display().to_string(),
        Some(dir),
    )];
    if postgres::available() {
        all.push((postgres::fresh_database(), None));
    }
    all
}

/// The facade on all three suppliers of `sandbox`, journaling in `journal`.
pub async fn facade(sandbox: &Sandbox, journal: &str) -> Suppliers {
    Suppliers::builder()
        .foxreload(FoxReloadConfig::new("sandbox", &sandbox.foxreload_url()).unwrap())
        .mousacard(MousaCardConfig::new("sandbox", &sandbox.mousacard_url()).unwrap())
        .cryptorefills(
            CryptorefillsConfig::new("sandbox", "1.0.0", &sandbox.cryptorefills_url()).unwrap(),
        )
        .journal(Journal::open(journal).await.unwrap())
        .build()
        .unwrap()
}
