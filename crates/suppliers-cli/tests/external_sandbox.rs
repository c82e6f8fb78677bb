//! The `suppliers` binary against a sandbox in another process (`suppliers sandbox`),
//! configured only through the environment, as against a real supplier.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Process, Stdio};

use assert_cmd::Command;

/// The sandbox process, killed however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `suppliers sandbox --port 0` with `faults` and returns the variables it prints.
fn start_sandbox(faults: &str) -> (Running, HashMap<String, String>) {
    let mut child = Running(
        Process::new(env!("CARGO_BIN_EXE_suppliers"))
            .args(["sandbox", "--port", "0"])
            .env("SUPPLIERS_SANDBOX_FAULTS", faults)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut vars = HashMap::new();
    for line in BufReader::new(child.0.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.starts_with("sandbox running") {
            break;
        }
        if let Some((key, value)) = line.split_once('=') {
            vars.insert(key.to_owned(), value.to_owned());
        }
    }
    (child, vars)
}

fn suppliers(vars: &HashMap<String, String>) -> Command {
    let mut command = Command::cargo_bin("suppliers").unwrap();
    command.envs(vars).env_remove("SUPPLIERS_SANDBOX_FAULTS");
    command.timeout(std::time::Duration::from_secs(60));
    command
}

#[test]
fn bad_credentials_exit_3_and_a_dropped_buy_leaves_exactly_one_order() {
    let (_sandbox, vars) = start_sandbox("POST /foxreload/api/orders/=drop");

    let output = suppliers(&vars)
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

    let output = suppliers(&vars)
        .args([
            "buy",
            "foxreload",
            "product_01krgfgww8eth9xvvysd6y7r4j",
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

    let output = suppliers(&vars)
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
    let mut ids = Vec::new();
    for product in ["12340", "12420"] {
        let output = suppliers(&vars)
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
    let output = suppliers(&vars)
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
