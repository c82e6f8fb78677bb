//! Track many orders: a [`Tracker`] follows every bought purchase in the journal until
//! its goods arrive or the supplier gives up on it, and hands each outcome to your
//! handler (store the codes, email the customer) until the handler takes it.
//!
//! Needs nothing: without supplier variables it starts a sandbox in this process (one
//! of each supplier's three orders failing after the purchase), buys them and tracks
//! them. With supplier variables set (see the README's "Configure the facade")
//! it buys nothing and tracks what your journal (`SUPPLIERS_JOURNAL` or the default
//! file) holds, as `suppliers track` does, until every order is settled or Ctrl-C.
//!
//! ```sh
//! cargo run -p suppliers --example track_many_orders
//! ```

mod support;

use std::time::Duration;

use suppliers::journal::Fulfilment;
use suppliers::model::SupplierId;
use suppliers::tracker::{Report, Tracker, TrackerConfig};
use suppliers::{BuyRequest, Suppliers};
use suppliers_sandbox::{SandboxConfig, Timings};

/// Orders bought from each supplier on the sandbox.
const EACH: usize = 3;

#[tokio::main]
async fn main() -> support::Result<()> {
    let connection = support::connect(SandboxConfig {
        timings: Timings::completing_after(Duration::from_millis(500)),
        cryptorefills_auto_pay_after: Some(chrono::TimeDelta::milliseconds(300)),
        // Exactly floor(3 x 0.4) = 1 of each supplier's 3 orders fails.
        failure_share: 0.4,
        ..SandboxConfig::default()
    })
    .await?;
    let suppliers = &connection.suppliers;
    let config = if connection.sandbox.is_some() {
        buy_from_each(suppliers).await?;
        // The sandbox is on this machine: ask often.
        TrackerConfig {
            round: Duration::from_millis(200),
            min_poll_delay: Duration::from_millis(200),
            max_poll_delay: Duration::from_secs(1),
            requests_per_second: 100.0,
            timeout: Some(Duration::from_secs(60)),
            ..TrackerConfig::default()
        }
    } else {
        TrackerConfig::default()
    };
    println!(
        "{} purchase(s) await their goods",
        suppliers.awaiting_fulfilment().await?.len()
    );

    let tracker = Tracker::new(suppliers, config)?;
    let summary = tracker
        .run(|report| async move { handle(&report) }, async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    println!(
        "{} reported, {} still open{}",
        summary.reported,
        summary.still_open,
        if summary.stopped { " (stopped)" } else { "" }
    );
    if summary.still_open > 0 && !summary.stopped {
        return Err("the tracker timed out with orders still open".into());
    }
    Ok(())
}

/// Your handler: an `Err` hands the report over again later, so only return `Ok` once
/// the outcome is stored. `event_id` is the same on every hand-over: deduplicate on it.
fn handle(report: &Report) -> Result<(), std::io::Error> {
    let order = &report.order;
    match report.outcome {
        Fulfilment::Delivered => println!(
            "{} {} {}: delivered, {} code(s) [{}]",
            report.reference,
            report.supplier,
            order.id,
            order.delivery.codes.len(),
            report.event_id
        ),
        _ => println!(
            "{} {} {}: not delivered: {} [{}]",
            report.reference,
            report.supplier,
            order.id,
            report.reason.as_deref().unwrap_or("no reason given"),
            report.event_id
        ),
    }
    Ok(())
}

/// Buys `EACH` of a product from every supplier, without waiting for the goods.
async fn buy_from_each(suppliers: &Suppliers) -> support::Result<()> {
    for (supplier, product) in [
        (SupplierId::FoxReload, "product_01krgfgww8eth9xvvysd6y7r4j"),
        (SupplierId::MousaCard, "12330"),
        (SupplierId::Cryptorefills, "giftcard/Airbnb/US/100"),
    ] {
        for i in 1..=EACH {
            let mut request = BuyRequest::new(product, 1);
            // Cryptorefills delivers to an email address.
            request.email = Some("user@example.com".into());
            request.reference = Some(format!("{supplier}-order-{i}"));
            let receipt = suppliers.buy(supplier, &request).await?;
            println!(
                "bought {} {}: order {}",
                receipt.reference, supplier, receipt.order.id
            );
        }
    }
    Ok(())
}
