//! The `suppliers-sandbox` binary: prints its base URLs and credentials, serves until
//! killed, and takes faults on the command line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the sandbox process however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_prints_its_urls_and_applies_command_line_faults() {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_suppliers-sandbox"))
            .args([
                "--port",
                "0",
                "--fault",
                "GET /foxreload/api/access/me=server-error:502",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut vars = std::collections::HashMap::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("sandbox running") {
            break;
        }
        if let Some((key, value)) = line.split_once('=') {
            vars.insert(key.to_owned(), value.to_owned());
        }
    }
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
