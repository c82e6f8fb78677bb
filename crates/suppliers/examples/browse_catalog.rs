//! Browse a catalog: each configured supplier's balance and first products, streamed
//! page by page, then one product read on its own.
//!
//! Needs nothing: with none of `FOXRELOAD_API_KEY`, `MOUSACARD_TOKEN` or
//! `CRYPTOREFILLS_PARTNER_ID` set it starts a sandbox in this process. With any of them
//! set (and the variables the README's "Configure the facade" lists), it reads those
//! suppliers; it only reads, nothing is bought.
//!
//! ```sh
//! cargo run -p suppliers --example browse_catalog            # every product
//! cargo run -p suppliers --example browse_catalog -- steam   # a search
//! ```

mod support;

use futures::StreamExt;
use suppliers::CatalogQuery;
use suppliers::model::{Product, SupplierId};
use suppliers_sandbox::SandboxConfig;

/// Products shown per supplier.
const SHOWN: usize = 5;

#[tokio::main]
async fn main() -> support::Result<()> {
    let search = std::env::args().nth(1);
    let connection = support::connect(SandboxConfig::default()).await?;
    let suppliers = &connection.suppliers;

    for id in SupplierId::ALL {
        // A supplier without credentials in the environment is not configured.
        let Ok(supplier) = suppliers.get(id) else {
            continue;
        };
        match supplier.balance().await? {
            Some(balance) => println!("{id}: balance {} {}", balance.amount, balance.currency),
            None => println!("{id}: paid per order (no balance)"),
        }
        let query = CatalogQuery {
            search: search.clone(),
            ..CatalogQuery::default()
        };
        // The catalog is a stream: pages are fetched as it is read, and reading stops
        // after `SHOWN` products without fetching the rest.
        let products: Vec<Product> = supplier
            .catalog(query)
            .take(SHOWN)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        for product in &products {
            println!("  {}", line(product));
        }
        if let Some(first) = products.first() {
            let again = supplier.product(&first.id).await?;
            println!(
                "  {} read alone: quantity {}..={}, required fields {:?}",
                again.id,
                again.min_quantity.unwrap_or(1),
                again
                    .max_quantity
                    .map_or_else(|| "any".to_owned(), |max| max.to_string()),
                again.required_fields
            );
        }
    }
    Ok(())
}

/// `id  name  price currency`, `-` for a product without a price.
fn line(product: &Product) -> String {
    let price = match (&product.price, &product.currency) {
        (Some(price), Some(currency)) => format!("{price} {currency}"),
        (Some(price), None) => price.to_string(),
        (None, _) => "-".to_owned(),
    };
    let stock = if product.available {
        ""
    } else {
        "  (unavailable)"
    };
    format!("{}  {}  {price}{stock}", product.id, product.name)
}
