//! The shop's store keeps every promise the SDK relies on: the SDK's own conformance
//! suite, on a fresh store per case.

use std::sync::Arc;

use shop_journal_downstream::ShopStore;
use suppliers::journal::JournalStore;

#[tokio::test]
async fn the_shops_rusqlite_store_keeps_the_journals_promises() {
    suppliers::journal::conformance::check(|| async {
        Arc::new(ShopStore::in_memory().unwrap()) as Arc<dyn JournalStore>
    })
    .await;
}

#[tokio::test]
async fn on_a_file_too() {
    let dir = std::env::temp_dir().join(format!("shop-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut n = 0;
    suppliers::journal::conformance::check(|| {
        n += 1;
        let path = dir.join(format!("case-{n}.sqlite3"));
        async move { Arc::new(ShopStore::open(&path).unwrap()) as Arc<dyn JournalStore> }
    })
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}
