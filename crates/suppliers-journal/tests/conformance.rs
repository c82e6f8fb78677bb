//! Every shipped store keeps [`JournalStore`]'s promises: the in-memory one, SQLite (a
//! file and `:memory:`), and PostgreSQL where libpq's `PG*` variables point
//! (`pg_virtualenv cargo test ...`), a fresh database per case.

#[path = "support/postgres.rs"]
mod postgres;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use suppliers_journal::{JournalStore, Location, MemoryStore, conformance};

async fn open(location: &str) -> Arc<dyn JournalStore> {
    let location = Location::parse(location).unwrap();
    location
        .open_store()
        .await
        .unwrap_or_else(|e| panic!("{location:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_memory_store_keeps_every_promise() {
    conformance::check(|| async { Arc::new(MemoryStore::new()) as Arc<dyn JournalStore> }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sqlite_store_keeps_every_promise() {
    let dir = tempfile::tempdir().unwrap();
    let cases = AtomicUsize::new(0);
    conformance::check(|| {
        let n = cases.fetch_add(1, Ordering::Relaxed);
        let file = dir.path().join(format!("case-{n}.sqlite3"));
        async move { open(&file.display().to_string()).await }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_in_memory_sqlite_store_keeps_every_promise() {
    conformance::check(|| open(":memory:")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_postgres_store_keeps_every_promise() {
    if !postgres::available() {
        return;
    }
    conformance::check(|| async { open(&postgres::fresh_database()).await }).await;
}
