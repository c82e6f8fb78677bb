//! `cargo xtask chaos [--seconds N] [--seed S] [--journal URL] [--release]`: builds the
//! `suppliers` CLI and the `suppliers-chaos` driver, then runs the driver with the CLI's
//! path. The driver lives in its own crate so that codegen never compiles the clients.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

/// What `cargo xtask chaos` passes on.
pub struct ChaosArgs {
    pub seconds: u64,
    pub seed: Option<u64>,
    pub journal: Option<String>,
    pub release: bool,
}

/// Builds both binaries and runs the chaos driver; its exit code is the run's.
pub fn run(root: &Path, args: &ChaosArgs) -> Result<ExitCode> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut build = Command::new(&cargo);
    build.current_dir(root).args([
        "build",
        "--quiet",
        "-p",
        "suppliers-cli",
        "-p",
        "suppliers-chaos",
    ]);
    if args.release {
        build.arg("--release");
    }
    if !build.status().context("running cargo build")?.success() {
        bail!("building suppliers-cli and suppliers-chaos failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join(if args.release { "release" } else { "debug" });
    let mut chaos = Command::new(target.join("suppliers-chaos"));
    chaos
        .arg("--cli")
        .arg(target.join("suppliers"))
        .arg("--seconds")
        .arg(args.seconds.to_string());
    if let Some(seed) = args.seed {
        chaos.arg("--seed").arg(seed.to_string());
    }
    if let Some(journal) = &args.journal {
        chaos.arg("--journal").arg(journal);
    }
    let status = chaos.status().context("running suppliers-chaos")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
