//! Use the `cryptorefills` crate alone, without the `suppliers` facade: a program that
//! depends on it compiles no other supplier's client. It reads the brands sold in one
//! country, the products of the first brand and
//! family, and the exact stablecoin price of one.
//!
//! Needs nothing: without `CRYPTOREFILLS_PARTNER_ID` it starts a sandbox in this
//! process (a dev-dependency of this crate's examples, not of the crate). With
//! `CRYPTOREFILLS_PARTNER_ID` set it also reads `CRYPTOREFILLS_APP_VERSION` (required),
//! `CRYPTOREFILLS_BASE_URL` (default: production) and `CRYPTOREFILLS_COUNTRY` (default
//! `US`). It only reads.
//!
//! ```sh
//! cargo run -p cryptorefills --example cryptorefills_alone
//! ```

use cryptorefills::{Client, PartnerHeaders};
use suppliers_sandbox::{Sandbox, SandboxConfig};

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// The stablecoin prices are quoted in.
const COIN: &str = "USDC";

#[tokio::main]
async fn main() -> Result<()> {
    let country = std::env::var("CRYPTOREFILLS_COUNTRY").unwrap_or_else(|_| "US".to_owned());
    // Kept alive until the end of `main`.
    let (client, _sandbox) = match std::env::var("CRYPTOREFILLS_PARTNER_ID") {
        Ok(partner_id) => {
            let version = std::env::var("CRYPTOREFILLS_APP_VERSION").map_err(
                |_| "CRYPTOREFILLS_APP_VERSION is required with CRYPTOREFILLS_PARTNER_ID",
            )?;
            let base_url = std::env::var("CRYPTOREFILLS_BASE_URL")
                .unwrap_or_else(|_| cryptorefills::DEFAULT_BASE_URL.to_owned());
            let partner = PartnerHeaders::new(partner_id, version).with_country(&country);
            (Client::with_partner(&base_url, &partner)?, None)
        }
        Err(_) => {
            let sandbox = Sandbox::start(SandboxConfig::default()).await?;
            eprintln!(
                "CRYPTOREFILLS_PARTNER_ID unset: using a sandbox on {}",
                sandbox.address()
            );
            let partner = PartnerHeaders::new("sandbox", "1.0.0").with_country(&country);
            let client = Client::with_partner(&sandbox.cryptorefills_url(), &partner)?;
            (client, Some(sandbox))
        }
    };

    let catalog = client
        .list_brands()
        .country_code(country.as_str())
        .send()
        .await?
        .into_inner();
    let brands: Vec<&str> = catalog
        .all_brands
        .iter()
        .filter_map(|brand| brand.brand.as_deref())
        .collect();
    println!(
        "{} brands in {country}: {}",
        brands.len(),
        brands.join(", ")
    );
    // Products are listed per brand and family (a brand's product line).
    let Some((brand, family)) = catalog
        .all_brands
        .iter()
        .find_map(|b| Some((b.brand.as_deref()?, b.family.as_deref()?)))
    else {
        return Err(format!("no brand with a family is sold in {country}").into());
    };

    let families = client
        .list_products()
        .country_code(country.as_str())
        .brand_name(brand)
        .family_name(family)
        .send()
        .await?
        .into_inner();
    let products: Vec<_> = families.iter().flat_map(|f| &f.products).collect();
    for product in &products {
        println!(
            "  {}  {}",
            product.product_id.as_deref().unwrap_or("-"),
            product.denomination.as_deref().unwrap_or("-")
        );
    }

    // A gift card of a fixed face value ("25 USD") has one exact price in each coin.
    let face_value = products.iter().find_map(|p| {
        let (amount, _currency) = p.denomination.as_deref()?.split_once(' ')?;
        amount.parse::<rust_decimal::Decimal>().ok()
    });
    if let Some(face_value) = face_value {
        let price = client
            .get_price()
            .brand_name(brand)
            .country_code(country.as_str())
            .face_value(face_value.to_string())
            .coin(COIN)
            .send()
            .await?
            .into_inner();
        println!("{brand} {face_value}: {} {COIN}", price.coin_amount);
    }
    Ok(())
}
