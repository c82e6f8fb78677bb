//! The measured clients of sections 5 and 10 run as child processes of this binary
//! (hidden commands), so the memory and time they report are theirs alone. They print
//! one line of `name=value` fields.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// What one child printed: its `name=value` fields.
pub struct Fields(String);

impl Fields {
    /// The field `name` as a number.
    pub fn get(&self, name: &str) -> Result<u64> {
        self.0
            .split_whitespace()
            .find_map(|field| field.strip_prefix(name)?.strip_prefix('='))
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("no {name}= in {:?}", self.0))
    }
}

/// Runs `exe` with `args` and returns what it printed; a failure carries its stderr.
pub fn run(exe: &Path, args: &[&str]) -> Result<Fields> {
    let output = Command::new(exe)
        .args(args)
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed: {}",
            args.first().copied().unwrap_or("child"),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(Fields(String::from_utf8_lossy(&output.stdout).into_owned()))
}
