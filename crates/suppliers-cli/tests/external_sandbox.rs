//! The `suppliers` binary against a sandbox in another process (`suppliers sandbox`),
//! configured only through the environment, as against a real supplier.

mod support;

use support::{journal_file, start_sandbox, suppliers};

#[test]
fn bad_credentials_exit_3_and_a_dropped_buy_is_settled_with_exactly_one_order() {
    let (_sandbox, vars) = start_sandbox("POST /foxreload/api/orders/=drop");
    let (_journal_dir, journal) = journal_file();

    let output = suppliers(&vars, &journal)
        .env("FOXRELOAD_API_KEY", "wrong")
        .args(["balance", "foxreload"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "error: foxreload: unauthorized (Invalid API key)"
    );
    assert!(!stderr.contains("wrong"), "the key leaked: {stderr}");

    let output = suppliers(&vars, &journal)
        .args([
            "buy",
            "foxreload",
            "product_01krgfgww8eth9xvvysd6y7r4j",
            "--yes",
        ])
        .output()
        .unwrap();
    // The drop is settled at once: the order is found among the recent ones and paid.
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = suppliers(&vars, &journal)
        .args(["--json", "orders", "foxreload"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let orders: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        orders.as_array().unwrap().len(),
        1,
        "exactly one order: {orders}"
    );
}

#[test]
fn wait_on_several_orders_prints_an_array_of_finished_orders() {
    let (_sandbox, vars) = start_sandbox("");
    let (_journal_dir, journal) = journal_file();
    let mut ids = Vec::new();
    for product in ["12340", "12420"] {
        let output = suppliers(&vars, &journal)
            .args(["--json", "buy", "mousacard", product, "--yes"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let order: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(order["status"], "processing");
        ids.push(order["id"].as_str().unwrap().to_owned());
    }
    let output = suppliers(&vars, &journal)
        .args(["--json", "wait", "mousacard"])
        .args(&ids)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let orders: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let orders = orders.as_array().unwrap();
    assert_eq!(orders.len(), 2);
    assert!(
        orders.iter().all(|o| o["status"] == "completed"),
        "{orders:?}"
    );
    assert_eq!(orders[1]["account"]["url"], "https://example.com/login");
}

#[test]
fn reconcile_exits_5_while_an_outcome_is_still_unknown() {
    // The first MousaCard purchase loses its answer: no earlier order bounds its id.
    let (_sandbox, vars) = start_sandbox("POST /mousacard/orders=drop");
    let (_journal_dir, journal) = journal_file();
    let output = suppliers(&vars, &journal)
        .args([
            "buy",
            "mousacard",
            "12330",
            "--reference",
            "lost-1",
            "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = suppliers(&vars, &journal)
        .args(["--json", "reconcile"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report[0]["state"], "unknown", "{report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("1 purchase(s) still of unknown outcome"),
        "{stderr}"
    );
}
