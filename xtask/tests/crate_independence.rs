//! A downstream crate that depends on one supplier's client compiles none of the others.

use std::process::Command;

const CLIENTS: [&str; 3] = ["foxreload", "mousacard", "cryptorefills"];

#[test]
fn each_client_depends_on_no_other_client() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for client in CLIENTS {
        // Normal and build edges: what a dependent crate compiles (dev-deps excluded).
        let output = Command::new(&cargo)
            .args([
                "tree",
                "--offline",
                "-p",
                client,
                "-e",
                "normal,build",
                "--prefix",
                "none",
                "--format",
                "{p}",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let tree = String::from_utf8(output.stdout).unwrap();
        assert!(
            tree.lines().any(|l| l.starts_with(&format!("{client} v"))),
            "{tree}"
        );
        for other in CLIENTS.iter().filter(|c| **c != client) {
            assert!(
                !tree.lines().any(|l| l.starts_with(&format!("{other} v"))),
                "{client} pulls in {other}:\n{tree}"
            );
        }
    }
}
