//! The built `suppliers` binary against its in-process sandbox.

use assert_cmd::Command;
use serde_json::Value;

fn suppliers() -> Command {
    let mut command = Command::cargo_bin("suppliers").unwrap();
    for var in [
        "FOXRELOAD_API_KEY",
        "MOUSACARD_TOKEN",
        "CRYPTOREFILLS_PARTNER_ID",
        "SUPPLIERS_SANDBOX_FAULTS",
        "SUPPLIERS_JOURNAL",
    ] {
        command.env_remove(var);
    }
    command.timeout(std::time::Duration::from_secs(60));
    command
}

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn a_purchase_on_each_supplier_ends_with_codes() {
    let cases: [&[&str]; 3] = [
        &[
            "buy",
            "foxreload",
            "product_01krgfgww8eth9xvvysd6y7r4j",
            "--quantity",
            "2",
        ],
        &["buy", "mousacard", "12310", "--field", "playerid=12345678"],
        &[
            "buy",
            "cryptorefills",
            "giftcard/Airbnb/US/100",
            "--email",
            "user@example.com",
        ],
    ];
    for case in cases {
        let output = suppliers()
            .args(["--sandbox", "--json"])
            .args(case)
            .args(["--wait", "--yes"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{case:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let order = json_of(&output);
        assert_eq!(order["status"], "completed", "{case:?}: {order}");
        assert_eq!(order["supplier"], case[1]);
        assert!(!order["codes"].as_array().unwrap().is_empty(), "{order}");
        assert!(
            order["total"].is_string(),
            "money is a decimal string: {order}"
        );
    }
}

#[test]
fn input_is_rejected_before_any_request_with_exit_2() {
    let output = suppliers()
        .args([
            "--sandbox",
            "buy",
            "foxreload",
            "product_01krgfgww8eth9xvvysd6y7r4j",
            "--quantity",
            "0",
            "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = suppliers()
        .args([
            "--sandbox",
            "buy",
            "cryptorefills",
            "mobile_recharge/T-Mobile/US/20",
            "--email",
            "user@example.com",
            "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("E.164"));
    // No terminal and no --yes: nothing is bought.
    let output = suppliers()
        .args(["--sandbox", "buy", "mousacard", "12330"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}

#[test]
fn refusals_exit_4_and_missing_credentials_exit_2() {
    let output = suppliers()
        .args([
            "--sandbox",
            "buy",
            "mousacard",
            "12340",
            "--quantity",
            "5",
            "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\nerror: mousacard: insufficient balance: 250 $ required"),
        "{stderr}"
    );
    let output = suppliers().args(["balance", "foxreload"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("FOXRELOAD_API_KEY"));
}

#[test]
fn a_dropped_foxreload_create_is_reconciled_and_paid_once() {
    let output = suppliers()
        .env(
            "SUPPLIERS_SANDBOX_FAULTS",
            "POST /foxreload/api/orders/=drop",
        )
        .args([
            "--sandbox",
            "--json",
            "buy",
            "foxreload",
            "product_01krgfgww8eth9xvvysd6y7r4j",
            "--reference",
            "inv-7",
            "--yes",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let order: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(order["reference"], "inv-7");
    assert_eq!(order["replayed"], false);
    assert_eq!(order["supplier_status"], "paid", "{order}");
}

#[test]
fn a_dropped_mousacard_create_the_journal_cannot_place_exits_6_naming_the_reference() {
    let output = suppliers()
        .env("SUPPLIERS_SANDBOX_FAULTS", "POST /mousacard/orders=drop")
        .args(["--sandbox", "buy", "mousacard", "12330", "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("may have gone through")
            && stderr.contains("suppliers reconcile")
            && stderr.contains("connection closed")
            && stderr.contains("balance 150.5 -> 140.5 USD (-10.0)"),
        "{stderr}"
    );
}

#[test]
fn a_429_storm_and_a_cut_event_stream_are_survived() {
    let output = suppliers()
        .env(
            "SUPPLIERS_SANDBOX_FAULTS",
            "/foxreload/api/orders/=rate-limit:0x3; /cryptorefills/v5/orders/=cut-stream:1",
        )
        .args(["--sandbox", "--json", "balance", "foxreload"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(json_of(&output)["balance"], "1000");

    let output = suppliers()
        .env(
            "SUPPLIERS_SANDBOX_FAULTS",
            "GET /foxreload/api/orders/=rate-limit:0x3",
        )
        .args([
            "--sandbox",
            "--json",
            "buy",
            "foxreload",
            "product_01krgfgww8eth9xvvysd6y7r4j",
            "--wait",
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(json_of(&output)["status"], "completed");

    let output = suppliers()
        .env(
            "SUPPLIERS_SANDBOX_FAULTS",
            "/cryptorefills/v5/orders/=cut-stream:1",
        )
        .args([
            "--sandbox",
            "--json",
            "buy",
            "cryptorefills",
            "esim/Airalo eSIM/US/10",
            "--email",
            "user@example.com",
            "--wait",
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(json_of(&output)["status"], "completed");
}

#[test]
fn catalog_and_balance_json_are_parseable() {
    let output = suppliers()
        .args(["--sandbox", "--json", "catalog", "mousacard"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let list = json_of(&output);
    assert!(list.as_array().unwrap().iter().any(|p| p["id"] == "12310"));
    let output = suppliers()
        .args(["--sandbox", "--json", "balance", "mousacard"])
        .output()
        .unwrap();
    assert_eq!(
        json_of(&output),
        serde_json::json!({"supplier": "mousacard", "balance": "150.5", "currency": "USD"})
    );
}
