//! Reconcile after a crash: a purchase whose process died mid-request is found in the
//! journal, settled from what the supplier can tell, and finished by buying again with
//! its reference, which never makes a second order.
//!
//! Needs nothing: without supplier variables it starts a sandbox in this process, runs
//! a buyer in a child process (this program again) against it with an SQLite journal in
//! a temporary directory, kills the child with SIGKILL while its FoxReload payment is in
//! flight (a sandbox fault holds that request), then does what the restarted program
//! does. With supplier variables set (see the README's "Configure the facade") it does
//! only that second half, on your journal (`SUPPLIERS_JOURNAL` or the default file):
//! lists what was in flight and reconciles it, buying nothing.
//!
//! ```sh
//! cargo run -p suppliers --example reconcile_after_crash
//! ```

mod support;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use suppliers::journal::State;
use suppliers::model::SupplierId;
use suppliers::{BuyRequest, Journal, Suppliers};
use suppliers_sandbox::{FaultRule, Sandbox, SandboxConfig, Timings};

/// Set in the child process: the reference it buys with.
const BUYER: &str = "RECONCILE_EXAMPLE_BUYER";
/// The sandbox's Steam top-up, and the id its first FoxReload order gets.
const PRODUCT: &str = "product_01krgfgww8eth9xvvysd6y7r4j";
const FIRST_ORDER: &str = "5f0c3f7e-0000-4000-8000-000000000001";

#[tokio::main]
async fn main() -> support::Result<()> {
    if let Ok(reference) = std::env::var(BUYER) {
        return buyer(reference).await;
    }
    if support::configured_from_env() {
        let suppliers = Suppliers::from_env().await?;
        settle(&suppliers).await?;
        return Ok(());
    }

    // The payment of the first order is held for 30 s: the buyer dies meanwhile.
    let hold_payment: FaultRule =
        format!("POST /foxreload/api/orders/{FIRST_ORDER}/pay=slow:30000").parse()?;
    let sandbox = Sandbox::start(SandboxConfig {
        timings: Timings::completing_after(Duration::from_millis(500)),
        faults: vec![hold_payment],
        ..SandboxConfig::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("journal.sqlite3").display().to_string();
    let reference = "invoice-1042";

    let mut child = spawn_buyer(&sandbox, &journal, reference)?;
    // The program after its restart: the same journal, the same suppliers.
    let suppliers = support::on_sandbox(&sandbox)?
        .journal(Journal::open(&journal).await?)
        .build()?;
    let in_flight = wait_until_paying(&suppliers, &mut child, reference).await;
    child.kill()?;
    child.wait()?;
    let order_id = in_flight?;
    println!("buyer killed while paying order {order_id}");

    settle(&suppliers).await?;

    // Buying again with the reference pays the order the first attempt created.
    let mut request = BuyRequest::new(PRODUCT, 1);
    request.reference = Some(reference.to_owned());
    let receipt = suppliers.buy(SupplierId::FoxReload, &request).await?;
    assert_eq!(receipt.order.id, order_id, "a second order was created");
    let order = suppliers
        .get(SupplierId::FoxReload)?
        .wait_for_order(&order_id, Duration::from_secs(60))
        .await?;
    println!(
        "bought again with {reference}: order {} {}, {} code(s)",
        order.id,
        order.status,
        order.delivery.codes.len()
    );
    Ok(())
}

/// The child: buys with `reference` as any program would, and is killed before the
/// answer comes.
async fn buyer(reference: String) -> support::Result<()> {
    let suppliers = Suppliers::from_env().await?;
    let mut request = BuyRequest::new(PRODUCT, 1);
    request.reference = Some(reference);
    suppliers.buy(SupplierId::FoxReload, &request).await?;
    Err("the buyer was expected to be killed before its purchase finished".into())
}

fn spawn_buyer(sandbox: &Sandbox, journal: &str, reference: &str) -> std::io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .env(BUYER, reference)
        .env("FOXRELOAD_BASE_URL", sandbox.foxreload_url())
        .env("FOXRELOAD_API_KEY", "sandbox")
        .env("SUPPLIERS_JOURNAL", journal)
        .spawn()
}

/// Waits until the journal shows `reference`'s order created (so its payment is on its
/// way), and returns the order id.
async fn wait_until_paying(
    suppliers: &Suppliers,
    child: &mut Child,
    reference: &str,
) -> support::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending = suppliers.pending().await?;
        let entry = pending.iter().find(|e| e.reference == reference);
        if let Some(entry) = entry.filter(|e| e.state == State::Created) {
            return Ok(entry.order_id.clone().unwrap_or_default());
        }
        if let Some(status) = child.try_wait()? {
            return Err(format!("the buyer ended first ({status})").into());
        }
        if Instant::now() > deadline {
            return Err("the buyer never created its order".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a program does after a restart: list what was in flight, then settle it from
/// what each supplier can tell.
async fn settle(suppliers: &Suppliers) -> support::Result<()> {
    let pending = suppliers.pending().await?;
    println!("pending after the restart: {}", pending.len());
    for entry in &pending {
        println!(
            "  {} {} {}: {} (order {})",
            entry.supplier,
            entry.reference,
            entry.product_id,
            entry.state,
            entry.order_id.as_deref().unwrap_or("-")
        );
    }
    for line in suppliers.reconcile().await? {
        let entry = &line.entry;
        let how = entry.detail.as_deref().unwrap_or("");
        let verb = if line.settled { "settled" } else { "left" };
        println!(
            "  {verb} {} {}: {} -> {} ({how})",
            entry.supplier, entry.reference, line.before, entry.state
        );
    }
    Ok(())
}
