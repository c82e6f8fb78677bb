//! What the tests that run the `suppliers` binary against a sandbox in another process
//! share.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Process, Stdio};

use assert_cmd::Command;

/// The sandbox process, killed however the test ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `suppliers sandbox --port 0` with `faults` and returns the variables it prints.
pub fn start_sandbox(faults: &str) -> (Running, HashMap<String, String>) {
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

/// A journal file of the test's own, so that no test writes the user's default one.
pub fn journal_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite3").display().to_string();
    (dir, path)
}

/// `suppliers` against the sandbox `vars` describe, with the journal at `journal`.
pub fn suppliers(vars: &HashMap<String, String>, journal: &str) -> Command {
    let mut command = Command::cargo_bin("suppliers").unwrap();
    command
        .envs(vars)
        .env_remove("SUPPLIERS_SANDBOX_FAULTS")
        .env("SUPPLIERS_JOURNAL", journal);
    command.timeout(std::time::Duration::from_secs(60));
    command
}

/// The same as a plain process, to spawn and kill.
pub fn suppliers_process(vars: &HashMap<String, String>, journal: &str) -> Process {
    let mut command = Process::new(env!("CARGO_BIN_EXE_suppliers"));
    command
        .envs(vars)
        .env_remove("SUPPLIERS_SANDBOX_FAULTS")
        .env("SUPPLIERS_JOURNAL", journal);
    command
}

/// Runs `args` and parses stdout as JSON, failing with stderr.
pub fn json(vars: &HashMap<String, String>, journal: &str, args: &[&str]) -> serde_json::Value {
    let output = suppliers(vars, journal)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A runtime of the test's own, on threads of its own, for the sandbox and the
/// receivers (the test itself blocks on processes).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
