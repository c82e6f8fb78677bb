//! Purchases across processes: a `suppliers buy` killed with SIGKILL mid-purchase is
//! found by `pending`, settled by `reconcile` and finished by `buy --reference`, and
//! twelve processes buying with one reference at once make one order. Against a
//! sandbox in another process, with an SQLite journal file and, where libpq's `PG*`
//! variables point, PostgreSQL.

#[path = "../../suppliers-journal/tests/support/postgres.rs"]
mod postgres;
mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{journal_file, json, start_sandbox, suppliers, suppliers_process};

const STEAM_500_RUB: &str = "product_01krgfgww8eth9xvvysd6y7r4j";
/// The sandbox's first FoxReload order id (ids are sequential).
const FIRST_FOX_ORDER: &str = "5f0c3f7e-0000-4000-8000-000000000001";

fn entries<'a>(list: &'a serde_json::Value, reference: &str) -> Vec<&'a serde_json::Value> {
    list.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reference"] == reference)
        .collect()
}

#[test]
fn a_buy_killed_while_paying_is_pending_then_reconciled_then_paid_once_with_its_codes() {
    // The pay request hangs for 30 s: the process is killed while it is in flight.
    let (_sandbox, vars) = start_sandbox(&format!(
        "POST /foxreload/api/orders/{FIRST_FOX_ORDER}/pay=slow:30000x1"
    ));
    let (_dir, journal) = journal_file();
    let mut buyer = suppliers_process(&vars, &journal)
        .args([
            "buy",
            "foxreload",
            STEAM_500_RUB,
            "--reference",
            "crash-1",
            "--yes",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the journal shows the order created: the pay is on its way.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending = json(&vars, &journal, &["pending"]);
        if entries(&pending, "crash-1")
            .first()
            .is_some_and(|e| e["state"] == "created")
        {
            break;
        }
        assert!(Instant::now() < deadline, "never created: {pending}");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    buyer.kill().unwrap(); // SIGKILL
    buyer.wait().unwrap();

    let pending = json(&vars, &journal, &["pending"]);
    let listed = entries(&pending, "crash-1");
    assert_eq!(listed.len(), 1, "{pending}");
    assert_eq!(listed[0]["order_id"], FIRST_FOX_ORDER);
    assert_eq!(listed[0]["in_progress"], false, "its process is gone");

    let report = json(&vars, &journal, &["reconcile"]);
    let line = entries(&report, "crash-1");
    assert_eq!(line[0]["settled"], true, "{report}");
    assert_eq!(line[0]["state"], "created", "active, not paid: {report}");
    assert!(
        line[0]["how"]
            .as_str()
            .unwrap()
            .contains("buy --reference crash-1")
    );

    let order = json(
        &vars,
        &journal,
        &[
            "buy",
            "foxreload",
            STEAM_500_RUB,
            "--reference",
            "crash-1",
            "--yes",
            "--wait",
        ],
    );
    assert_eq!(order["id"], FIRST_FOX_ORDER);
    assert_eq!(order["status"], "completed");
    assert!(!order["codes"].as_array().unwrap().is_empty(), "{order}");

    let orders = json(&vars, &journal, &["orders", "foxreload"]);
    assert_eq!(orders.as_array().unwrap().len(), 1, "one order: {orders}");
    assert_eq!(json(&vars, &journal, &["pending"]), serde_json::json!([]));
    // Once more: the recorded order, nothing sent.
    let again = json(
        &vars,
        &journal,
        &[
            "buy",
            "foxreload",
            STEAM_500_RUB,
            "--reference",
            "crash-1",
            "--yes",
        ],
    );
    assert_eq!(again["replayed"], true);
    assert_eq!(again["id"], FIRST_FOX_ORDER);
}

/// Twelve `suppliers buy --reference race` started together (their start-up, journal
/// open and product read overlap); the winner's create is slow, so the others find it
/// in flight.
fn twelve_buyers_make_one_order(journal: &str) {
    let (_sandbox, vars) = start_sandbox("POST /foxreload/api/orders/=slow:1500x1");
    let buyers: Vec<_> = (0..12)
        .map(|_| {
            suppliers_process(&vars, journal)
                .args([
                    "--json",
                    "buy",
                    "foxreload",
                    STEAM_500_RUB,
                    "--reference",
                    "race",
                    "--yes",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut bought = 0;
    let mut in_progress = 0;
    for buyer in buyers {
        let output = buyer.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        match output.status.code() {
            Some(0) => {
                let order: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
                assert_eq!(order["id"], FIRST_FOX_ORDER);
                bought += 1;
            }
            Some(7) => {
                assert!(
                    stderr.contains("in progress in another process"),
                    "{stderr}"
                );
                in_progress += 1;
            }
            other => panic!("exit {other:?}: {stderr}"),
        }
    }
    eprintln!("{bought} bought or replayed, {in_progress} in progress");
    assert!(bought >= 1, "{bought} bought, {in_progress} in progress");
    let orders = json(&vars, journal, &["orders", "foxreload"]);
    assert_eq!(orders.as_array().unwrap().len(), 1, "one order: {orders}");
    let again = suppliers(&vars, journal)
        .args([
            "--json",
            "buy",
            "foxreload",
            STEAM_500_RUB,
            "--reference",
            "race",
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(again.status.success());
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["replayed"], true);
}

#[test]
fn twelve_processes_buying_with_one_reference_make_one_order_with_sqlite() {
    let (_dir, journal) = journal_file();
    twelve_buyers_make_one_order(&journal);
}

#[test]
fn twelve_processes_buying_with_one_reference_make_one_order_with_postgres() {
    if postgres::available() {
        twelve_buyers_make_one_order(&postgres::fresh_database());
    }
}

/// A reference that bought one thing refuses another product or quantity with exit 2,
/// before anything is sent, and still replays its own purchase.
#[test]
fn a_used_reference_for_another_product_or_quantity_exits_2_and_sends_nothing() {
    const STEAM_1000_RUB: &str = "product_01krgfh2m3n4p5q6r7s8t9v0wx";
    let (_sandbox, vars) = start_sandbox("");
    let (_dir, journal) = journal_file();
    let buy = |product: &str, quantity: &str| {
        suppliers(&vars, &journal)
            .args([
                "--json",
                "buy",
                "foxreload",
                product,
                "--quantity",
                quantity,
                "--reference",
                "inv-9",
                "--yes",
            ])
            .output()
            .unwrap()
    };
    let first = buy(STEAM_500_RUB, "1");
    assert!(first.status.success(), "{first:?}");
    for (product, quantity) in [(STEAM_500_RUB, "2"), (STEAM_1000_RUB, "1")] {
        let refused = buy(product, quantity);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("inv-9"), "{stderr}");
    }
    let orders = json(&vars, &journal, &["orders", "foxreload"]);
    assert_eq!(orders.as_array().unwrap().len(), 1, "one order: {orders}");
    let again = buy(STEAM_500_RUB, "1");
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["replayed"], true);
    assert_eq!(again["id"], FIRST_FOX_ORDER);
}
