//! Use the `mousacard` crate alone, without the `suppliers` facade: a program that
//! depends on it compiles no other supplier's client. It reads the balance, the
//! categories and products, and one product with the custom fields a purchase of it
//! needs.
//!
//! MousaCard wraps every answer in `{"success", "data"}`; the generated types keep
//! that envelope (`.data`). A `success: false` answer with HTTP 200 comes back as an
//! invalid payload: the `suppliers` facade turns it into a typed error.
//!
//! Needs nothing: without `MOUSACARD_TOKEN` it starts a sandbox in this process (a
//! dev-dependency of this crate's examples, not of the crate). With `MOUSACARD_TOKEN`
//! set it reads `MOUSACARD_BASE_URL` (default: production). It only reads.
//!
//! ```sh
//! cargo run -p mousacard --example mousacard_alone
//! ```

use mousacard::Client;
use suppliers_sandbox::{Sandbox, SandboxConfig};

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

#[tokio::main]
async fn main() -> Result<()> {
    // Kept alive until the end of `main`.
    let (client, _sandbox) = match std::env::var("MOUSACARD_TOKEN") {
        Ok(token) => {
            let base_url = std::env::var("MOUSACARD_BASE_URL")
                .unwrap_or_else(|_| mousacard::DEFAULT_BASE_URL.to_owned());
            (Client::with_token(&base_url, &token)?, None)
        }
        Err(_) => {
            let sandbox = Sandbox::start(SandboxConfig::default()).await?;
            eprintln!(
                "MOUSACARD_TOKEN unset: using a sandbox on {}",
                sandbox.address()
            );
            let client = Client::with_token(&sandbox.mousacard_url(), "sandbox")?;
            (client, Some(sandbox))
        }
    };

    let balance = client.get_balance().send().await?.into_inner().data;
    println!("balance: {} {}", balance.balance, balance.currency_name);

    let categories = client.list_categories().send().await?.into_inner().data;
    for category in &categories.categories {
        println!("category {}", category.name);
    }

    let products = client.list_products().send().await?.into_inner().data;
    for product in products.products.iter().take(5) {
        let stock = if product.available {
            ""
        } else {
            "  (unavailable)"
        };
        println!(
            "  product {}  {}  {} {}{stock}",
            product.id, product.name, product.price, product.currency_name
        );
    }

    if let Some(first) = products.products.first() {
        let product = client
            .get_product()
            .id(first.id.as_str())
            .send()
            .await?
            .into_inner()
            .data;
        println!(
            "{}: {}..={} at a time",
            product.name, product.min_quantity, product.max_quantity
        );
        for field in &product.custom_fields {
            let required = if field.required == Some(true) {
                "required"
            } else {
                "optional"
            };
            println!("  field {} ({}): {required}", field.key, field.label);
        }
    }
    Ok(())
}
