//! The `suppliers-sandbox` binary: prints its base URLs and credentials, serves until
//! killed, and takes faults, order outcomes and latency on the command line.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the sandbox process however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with `args` on a free port; it and the variables it printed.
fn start(args: &[&str]) -> (Running, HashMap<String, String>) {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_suppliers-sandbox"))
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut vars = HashMap::new();
    for line in lines {
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

#[tokio::test]
async fn the_binary_prints_its_urls_and_applies_command_line_faults() {
    let (_child, vars) = start(&["--fault", "GET /foxreload/api/access/me=server-error:502"]);
    for key in [
        "FOXRELOAD_BASE_URL",
        "MOUSACARD_BASE_URL",
        "CRYPTOREFILLS_BASE_URL",
        "FOXRELOAD_API_KEY",
    ] {
        assert!(vars.contains_key(key), "{key} not printed: {vars:?}");
    }
    let url = format!("{}/api/access/me", vars["FOXRELOAD_BASE_URL"]);
    let http = reqwest::Client::new();
    let get = || {
        http.get(&url)
            .header("X-API-Key", &vars["FOXRELOAD_API_KEY"])
            .send()
    };
    assert_eq!(get().await.unwrap().status(), 502, "the fault applies once");
    assert_eq!(get().await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_binary_takes_latency_and_order_outcomes_from_its_flags() {
    let (_child, vars) = start(&[
        "--latency",
        "300",
        "--failure-share",
        "1",
        "--complete-after",
        "0",
    ]);
    let base = &vars["FOXRELOAD_BASE_URL"];
    let http = reqwest::Client::new();
    let send = |request: reqwest::RequestBuilder| async move {
        let started = Instant::now();
        let response = request.header("X-API-Key", "sandbox").send().await.unwrap();
        let elapsed = started.elapsed();
        let body: serde_json::Value = response.json().await.unwrap();
        (elapsed, body)
    };
    let (elapsed, order) = send(http.post(format!("{base}/api/orders/")).json(
        &serde_json::json!({"items": [{"itemId": "product_01krgfgww8eth9xvvysd6y7r4j", "quantity": 1}]}),
    ))
    .await;
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    let id = order["id"].as_str().unwrap();
    send(
        http.post(format!("{base}/api/orders/{id}/pay"))
            .json(&serde_json::json!({})),
    )
    .await;
    let (_, order) = send(http.get(format!("{base}/api/orders/{id}"))).await;
    assert_eq!(order["status"], "failed", "{order}");
}

#[test]
fn the_binary_refuses_a_share_above_one() {
    let output = Command::new(env!("CARGO_BIN_EXE_suppliers-sandbox"))
        .args(["--port", "0", "--failure-share", "2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a share from 0.0 to 1.0"), "{stderr}");
}

#[tokio::test]
async fn the_binary_serves_through_a_network_latency() {
    let (_child, vars) = start(&["--network-fault", "latency:300"]);
    let url = format!("{}/api/access/me", vars["FOXRELOAD_BASE_URL"]);
    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(&url)
        .header("X-API-Key", &vars["FOXRELOAD_API_KEY"])
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
}

/// Whether `error` comes from a connection reset.
fn is_reset(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionReset
        {
            return true;
        }
        cause = error.source();
    }
    false
}

#[tokio::test]
async fn the_binary_resets_connections_with_a_network_fault() {
    let (_child, vars) = start(&["--network-fault", "reset_peer:0"]);
    let url = format!("{}/api/access/me", vars["FOXRELOAD_BASE_URL"]);
    let error = reqwest::Client::new()
        .get(&url)
        .header("X-API-Key", &vars["FOXRELOAD_API_KEY"])
        .send()
        .await
        .expect_err("the connection is reset at the answer");
    assert!(is_reset(&error), "not a reset: {error:?}");
}

#[test]
fn the_binary_refuses_an_unknown_network_fault_naming_the_known_ones() {
    let output = Command::new(env!("CARGO_BIN_EXE_suppliers-sandbox"))
        .args(["--port", "0", "--network-fault", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in [
        "nonsense",
        "latency",
        "bandwidth",
        "slicer",
        "timeout",
        "limit_data",
        "reset_peer",
        "slow_close",
    ] {
        assert!(stderr.contains(name), "{name} not in {stderr}");
    }
}
