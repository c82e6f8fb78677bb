//! The `suppliers` binary against an upstream on 127.0.0.1 whose answers trickle in one
//! byte at a time: a read ends as a transport failure (exit 5), a purchase as unknown
//! (exit 6), both within the configured attempt deadline, never hanging.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use assert_cmd::Command;

/// Accepts connections forever; each gets headers at once, then one body byte every
/// 300 ms. Returns the base URL.
fn trickling_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            std::thread::spawn(move || trickle(socket));
        }
    });
    format!("http://{address}")
}

fn trickle(mut socket: TcpStream) {
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&request).contains("\r\n\r\n") {
        match socket.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    if String::from_utf8_lossy(&request).starts_with("GET /api/products/") {
        // A purchase reads its product first: that answer comes at once.
        let product = r#"{"id": "product_01krgfgww8eth9xvvysd6y7r4j", "name": "Steam 500 RUB", "price": "6.50"}"#;
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{product}",
            product.len()
        );
        let _ = socket.write_all(reply.as_bytes());
        return;
    }
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n";
    if socket.write_all(head.as_bytes()).is_err() {
        return;
    }
    loop {
        std::thread::sleep(Duration::from_millis(300));
        if socket.write_all(b" ").is_err() {
            return;
        }
    }
}

fn suppliers(base_url: &str) -> Command {
    let mut command = Command::cargo_bin("suppliers").unwrap();
    command
        .env("FOXRELOAD_API_KEY", "k")
        .env("SUPPLIERS_JOURNAL", ":memory:")
        .env("FOXRELOAD_BASE_URL", base_url)
        .env("SUPPLIERS_REQUEST_TIMEOUT", "1")
        .env_remove("MOUSACARD_TOKEN")
        .env_remove("CRYPTOREFILLS_PARTNER_ID")
        .timeout(Duration::from_secs(60));
    command
}

#[test]
fn a_trickling_read_exits_5_within_the_retry_budget() {
    let upstream = trickling_upstream();
    let started = Instant::now();
    let output = suppliers(&upstream)
        .args(["order", "foxreload", "5f0c3f7e-2a51-4c8e-9b7d-0e6a1c2d3b4f"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("no complete answer within 1s"), "{stderr}");
    // Four attempts of at most 1 s each, with backoff between them.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_trickling_purchase_exits_6_after_one_attempt() {
    let upstream = trickling_upstream();
    let started = Instant::now();
    let output = suppliers(&upstream)
        .args([
            "buy",
            "foxreload",
            "product_01krgfgww8eth9xvvysd6y7r4j",
            "--yes",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("no complete answer within 1s"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_malformed_limit_variable_is_a_usage_error() {
    let output = suppliers("http://127.0.0.1:9")
        .env("SUPPLIERS_REQUEST_TIMEOUT", "soon")
        .args(["order", "foxreload", "x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("SUPPLIERS_REQUEST_TIMEOUT"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
