//! Buys from a supplier (the sandbox's variables, as `suppliers-sandbox` prints them)
//! through a journal the shop keeps in its own SQLite, buys again under the same
//! reference (replayed, nothing sent), and reconciles.
//!
//! `cargo run -- JOURNAL_FILE`, with FOXRELOAD_BASE_URL and FOXRELOAD_API_KEY set.

use std::sync::Arc;

use shop_journal_downstream::ShopStore;
use suppliers::model::SupplierId;
use suppliers::{BuyRequest, Journal, Suppliers};

const STEAM_500_RUB: &str = "product_01krgfgww8eth9xvvysd6y7r4j";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: shop-journal-downstream JOURNAL_FILE")?;
    let store = ShopStore::open(std::path::Path::new(&path))?;
    let suppliers = Suppliers::builder_from_env()?
        .journal(Journal::from_store(Arc::new(store)))
        .build()?;
    let mut request = BuyRequest::new(STEAM_500_RUB, 1);
    request.reference = Some(format!("shop-order-{}", std::process::id()));
    let bought = suppliers.buy(SupplierId::FoxReload, &request).await?;
    println!("bought {} as {}", bought.order.id, bought.reference);
    let again = suppliers.buy(SupplierId::FoxReload, &request).await?;
    if !again.replayed || again.order.id != bought.order.id {
        return Err("buying again under the reference did not replay the order".into());
    }
    println!("replayed {} (nothing sent)", again.order.id);
    let reconciled = suppliers.reconcile().await?;
    println!("reconciled: {} pending", reconciled.len());
    if !reconciled.is_empty() {
        return Err("a bought purchase was left pending".into());
    }
    Ok(())
}
