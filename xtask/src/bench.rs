//! `cargo xtask bench [--quick] [--record]`: times `cargo xtask codegen --check` (the
//! bench's section 6) against cargo's own start-up, then runs the `suppliers-bench`
//! crate in release mode with those times. The bench lives in its own crate so that
//! codegen never has to compile the clients it generates.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};

fn cargo(root: &Path) -> Command {
    let mut command =
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
    command.current_dir(root);
    command
}

/// Wall time in seconds of each of `runs` runs of `cargo args…`, output discarded.
fn wall_times(root: &Path, args: &[&str], runs: usize) -> Result<Vec<f64>> {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            let output = cargo(root)
                .args(args)
                .output()
                .with_context(|| format!("running cargo {}", args.join(" ")))?;
            if !output.status.success() {
                bail!(
                    "cargo {} failed:\n{}",
                    args.join(" "),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Ok(started.elapsed().as_secs_f64())
        })
        .collect()
}

fn joined(times: &[f64]) -> String {
    times
        .iter()
        .map(|t| format!("{t:.3}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs the bench; `record` rewrites the results in BENCHMARKS.md.
pub fn run(root: &Path, quick: bool, record: bool) -> Result<ExitCode> {
    eprintln!("== 6. codegen");
    let runs = if quick { 1 } else { 5 };
    // One unmeasured run each, so both find cargo's metadata warm.
    let floor_args = ["xtask", "--help"];
    let check_args = ["xtask", "codegen", "--check"];
    wall_times(root, &floor_args, 1)?;
    wall_times(root, &check_args, 1)?;
    let floor = wall_times(root, &floor_args, runs)?;
    let check = wall_times(root, &check_args, runs)?;
    let mut bench = cargo(root);
    bench
        .args(["run", "--release", "--quiet", "-p", "suppliers-bench", "--"])
        .arg(format!("--codegen-secs={}", joined(&check)))
        .arg(format!("--codegen-floor-secs={}", joined(&floor)));
    if quick {
        bench.arg("--quick");
    }
    if record {
        bench.arg("--record").arg(root.join("BENCHMARKS.md"));
    }
    let status = bench.status().context("running suppliers-bench")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
