//! Use the `foxreload` crate alone, without the `suppliers` facade: a program that
//! depends on it compiles no other supplier's client. It reads the balance, the first
//! categories, the products of one and a product on its own, and shows how a refusal
//! comes back (a product that does not exist: 404 with FoxReload's typed error body).
//!
//! Needs nothing: without `FOXRELOAD_API_KEY` it starts a sandbox in this process (a
//! dev-dependency of this crate's examples, not of the crate). With `FOXRELOAD_API_KEY`
//! set it reads `FOXRELOAD_BASE_URL` (default: production). It only reads.
//!
//! ```sh
//! cargo run -p foxreload --example foxreload_alone
//! ```

use foxreload::types::GetProductError;
use foxreload::{Client, Error};
use suppliers_sandbox::{Sandbox, SandboxConfig};

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

#[tokio::main]
async fn main() -> Result<()> {
    // Kept alive until the end of `main`.
    let (client, _sandbox) = match std::env::var("FOXRELOAD_API_KEY") {
        Ok(api_key) => {
            let base_url = std::env::var("FOXRELOAD_BASE_URL")
                .unwrap_or_else(|_| foxreload::DEFAULT_BASE_URL.to_owned());
            (Client::with_api_key(&base_url, &api_key)?, None)
        }
        Err(_) => {
            let sandbox = Sandbox::start(SandboxConfig::default()).await?;
            eprintln!(
                "FOXRELOAD_API_KEY unset: using a sandbox on {}",
                sandbox.address()
            );
            let client = Client::with_api_key(&sandbox.foxreload_url(), "sandbox")?;
            (client, Some(sandbox))
        }
    };

    for balance in client.list_balances().send().await?.into_inner() {
        println!("balance: {} {}", balance.available, balance.currency);
    }

    let categories = client
        .list_categories()
        .limit(5u64)
        .send()
        .await?
        .into_inner();
    for category in &categories.items {
        println!("category {}  {}", category.id, category.name);
    }
    let Some(category) = categories
        .items
        .iter()
        .find(|c| c.has_products != Some(false))
    else {
        return Err("no category with products".into());
    };

    let products = client
        .list_products()
        .category_id_or_slug(category.id.as_str())
        .limit(5u64)
        .send()
        .await?
        .into_inner();
    for product in &products.items {
        let price = product
            .price
            .map_or_else(|| "-".to_owned(), |price| price.to_string());
        let currency = product.currency.as_deref().unwrap_or("");
        println!(
            "  product {}  {}  {price} {currency}",
            product.id, product.name
        );
    }

    if let Some(first) = products.items.first() {
        let product = client
            .get_product()
            .product_id(first.id.as_str())
            .send()
            .await?
            .into_inner();
        println!(
            "{}: order {}..={} at a time, note fields {:?}",
            product.name,
            product.order_min_quantity.unwrap_or(1),
            product.order_max_quantity.unwrap_or(i64::MAX),
            product.required_note_fields.unwrap_or_default()
        );
    }

    // A refusal is `Error::ErrorResponse` with the status and the spec's error body.
    match client
        .get_product()
        .product_id("product_does_not_exist")
        .send()
        .await
    {
        Err(Error::ErrorResponse(answer)) => {
            let status = answer.status();
            match answer.into_inner() {
                GetProductError::ErrorDetail(detail) => {
                    println!("unknown product: {status}, {:?}", detail.detail)
                }
                other => println!("unknown product: {status}, {other:?}"),
            }
        }
        Ok(_) => return Err("a product that does not exist was found".into()),
        Err(other) => return Err(other.into()),
    }
    Ok(())
}
