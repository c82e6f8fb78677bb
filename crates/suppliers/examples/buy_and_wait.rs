//! Buy with your own reference and wait for the codes; buying again with the same
//! reference sends nothing and returns the same order, so a retry after a timeout or a
//! restart can never buy twice.
//!
//! Needs nothing: without `FOXRELOAD_API_KEY` it buys a Steam top-up from a sandbox
//! started in this process. With `FOXRELOAD_API_KEY` set it buys from FoxReload for
//! real and needs the product id (and `--field KEY=VALUE` for each note field the product
//! requires); `FOXRELOAD_TEST_ORDERS=1` places an order FoxReload records without
//! charging. The purchase is journaled in `SUPPLIERS_JOURNAL` (or the default file).
//!
//! ```sh
//! cargo run -p suppliers --example buy_and_wait
//! FOXRELOAD_API_KEY=... cargo run -p suppliers --example buy_and_wait -- PRODUCT_ID --field login=steam_user
//! ```

mod support;

use std::time::Duration;

use suppliers::model::{OrderStatus, SupplierId};
use suppliers::{BuyRequest, new_reference};
use suppliers_sandbox::{SandboxConfig, Timings};

/// The sandbox's Steam top-up (500 RUB).
const SANDBOX_PRODUCT: &str = "product_01krgfgww8eth9xvvysd6y7r4j";

#[tokio::main]
async fn main() -> support::Result<()> {
    let mut args = std::env::args().skip(1);
    let product = args.next();
    let fields = parse_fields(args)?;
    let connection = support::connect(SandboxConfig {
        timings: Timings::completing_after(Duration::from_millis(500)),
        ..SandboxConfig::default()
    })
    .await?;
    let product = match (product, &connection.sandbox) {
        (Some(product), _) => product,
        (None, Some(_)) => SANDBOX_PRODUCT.to_owned(),
        (None, None) => {
            return Err(
                "FOXRELOAD_API_KEY is set: name the product to buy for real \
                        (buy_and_wait -- PRODUCT_ID [--field KEY=VALUE]...)"
                    .into(),
            );
        }
    };
    let suppliers = &connection.suppliers;

    // Your id for this purchase (an invoice number, a cart id): the journal keeps at most
    // one purchase per supplier and reference.
    let mut request = BuyRequest::new(product, 1);
    request.fields = fields;
    request.reference = Some(format!("example-{}", new_reference()));
    let receipt = suppliers.buy(SupplierId::FoxReload, &request).await?;
    println!(
        "bought: reference {}, order {} ({})",
        receipt.reference, receipt.order.id, receipt.order.status
    );

    let order = suppliers
        .get(SupplierId::FoxReload)?
        .wait_for_order(&receipt.order.id, Duration::from_secs(300))
        .await?;
    let total = match (order.total, &order.currency) {
        (Some(total), Some(currency)) => format!("{total} {currency}"),
        _ => "unknown".to_owned(),
    };
    println!("order {}: {} for {total}", order.id, order.status);
    for code in &order.delivery.codes {
        println!("  code {code}");
    }
    if order.status != OrderStatus::Completed {
        return Err(format!("the order ended {}", order.status).into());
    }

    // The same reference again: nothing is sent, the recorded order comes back.
    let again = suppliers.buy(SupplierId::FoxReload, &request).await?;
    assert!(again.replayed, "a second purchase was made");
    assert_eq!(again.order.id, order.id);
    println!(
        "bought again with reference {}: replayed, the same order {}",
        again.reference, again.order.id
    );
    Ok(())
}

/// `--field KEY=VALUE` pairs, the product's note fields (e.g. `login=steam_user`).
fn parse_fields(
    mut args: impl Iterator<Item = String>,
) -> support::Result<std::collections::BTreeMap<String, String>> {
    let mut fields = std::collections::BTreeMap::new();
    while let Some(flag) = args.next() {
        let pair = match (flag.as_str(), args.next()) {
            ("--field", Some(pair)) => pair,
            _ => return Err(format!("unexpected argument {flag:?}").into()),
        };
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--field {pair:?} is not KEY=VALUE"))?;
        fields.insert(key.to_owned(), value.to_owned());
    }
    Ok(fields)
}
