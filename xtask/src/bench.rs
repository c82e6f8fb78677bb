//! `cargo xtask bench [--quick] [--record]`: measures what only a cargo outside the bench
//! can, then runs the `suppliers-bench` crate in release mode with those wall times
//! (comma-separated seconds), which it prints as rows of its table:
//!
//! - section 6: `cargo xtask codegen --check` against cargo's own start-up
//!   (`cargo xtask --help`), `--codegen-secs` / `--codegen-floor-secs`;
//! - section 11 (issue 25): a crate on `suppliers` without default features built cold
//!   against one on the three client crates, `--cold-build-secs` /
//!   `--cold-build-baseline-secs`. Both scratch crates ([`write_scratch_crates`]) are
//!   written into a fresh temporary directory (under `TMPDIR`), each its own workspace
//!   with a copy of the SDK's `Cargo.lock`; one unmeasured `cargo fetch` each keeps
//!   downloads out of the times. Each trial is a `cargo build` into an empty target
//!   directory, deleted right after it (disk space), the two crates alternating: 2
//!   trials each (quick: 1). The hidden `cargo xtask cold-build [--quick]` runs only
//!   these builds and prints the two flags.
//!
//! The bench lives in its own crate so that codegen never has to compile the clients it
//! generates.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};

fn cargo(dir: &Path) -> Command {
    let mut command =
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
    command.current_dir(dir);
    command
}

/// Runs `command` with its output captured; an error with its stderr if it fails.
fn succeed(command: &mut Command, what: &str) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Wall time in seconds of each of `runs` runs of `cargo args…`, output discarded.
fn wall_times(root: &Path, args: &[&str], runs: usize) -> Result<Vec<f64>> {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            succeed(cargo(root).args(args), &format!("cargo {}", args.join(" ")))?;
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

/// The crate of section 11 on the facade, and its baseline on the three client crates.
pub const SCRATCH_CRATES: [&str; 2] = ["facade-cold", "clients-cold"];

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes the two crates of section 11 into `dir` (one directory each, named as in
/// [`SCRATCH_CRATES`]) and returns their directories: `facade-cold` on `suppliers`
/// without default features (`rustls` only), `clients-cold` on `foxreload`,
/// `mousacard` and `cryptorefills` with theirs (`rustls`). Both take the crates by path
/// from the workspace at `root`, are workspaces of their own, and start from a copy of
/// its `Cargo.lock`, so they resolve the versions the SDK is tested with.
pub fn write_scratch_crates(root: &Path, dir: &Path) -> Result<[PathBuf; 2]> {
    let path = |name: &str| toml_string(&root.join("crates").join(name).to_string_lossy());
    let facade = (
        format!(
            "suppliers = {{ path = {}, default-features = false, features = [\"rustls\"] }}\n",
            path("suppliers")
        ),
        "pub use suppliers::USER_AGENT;\n".to_owned(),
    );
    let clients = ["foxreload", "mousacard", "cryptorefills"];
    let clients = (
        clients
            .iter()
            .map(|name| format!("{name} = {{ path = {} }}\n", path(name)))
            .collect::<String>(),
        clients
            .iter()
            .map(|name| format!("pub use {name}::DEFAULT_BASE_URL as {name};\n"))
            .collect::<String>(),
    );
    let lock = root.join("Cargo.lock");
    let mut dirs = Vec::new();
    for (name, (dependencies, lib)) in SCRATCH_CRATES.into_iter().zip([facade, clients]) {
        let crate_dir = dir.join(name);
        std::fs::create_dir_all(crate_dir.join("src"))
            .with_context(|| format!("creating {}", crate_dir.display()))?;
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             # Its own workspace: not a member of the SDK's.\n[workspace]\n\n\
             [dependencies]\n{dependencies}"
        );
        let lib = format!(
            "//! Section 11 of `cargo xtask bench`: built cold, and thrown away.\n\n\
             #![allow(non_upper_case_globals)]\n\n{lib}"
        );
        for (file, text) in [("Cargo.toml", manifest), ("src/lib.rs", lib)] {
            let path = crate_dir.join(file);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        std::fs::copy(&lock, crate_dir.join("Cargo.lock"))
            .with_context(|| format!("copying {}", lock.display()))?;
        dirs.push(crate_dir);
    }
    Ok(dirs.try_into().expect("two scratch crates"))
}

/// Section 11: wall times in seconds of cold `cargo build`s of the two scratch crates,
/// `trials` of each, alternating (facade, clients, facade, …). Returns the flags that pass
/// them to `suppliers-bench`.
pub fn cold_builds(root: &Path, trials: usize) -> Result<[String; 2]> {
    let scratch = tempfile::Builder::new()
        .prefix("suppliers-cold-build-")
        .tempdir()
        .context("creating a temporary directory for the cold builds")?;
    let dirs = write_scratch_crates(root, scratch.path())?;
    for (name, dir) in SCRATCH_CRATES.iter().zip(&dirs) {
        // Downloads are not part of a build's time.
        succeed(
            cargo(dir).args(["fetch", "--quiet"]),
            &format!("cargo fetch for {name}"),
        )?;
    }
    let mut times: [Vec<f64>; 2] = Default::default();
    for trial in 1..=trials {
        for ((name, dir), times) in SCRATCH_CRATES.iter().zip(&dirs).zip(&mut times) {
            let target = scratch.path().join(format!("target-{name}-{trial}"));
            let started = Instant::now();
            succeed(
                cargo(dir)
                    .args(["build", "--quiet"])
                    .env("CARGO_TARGET_DIR", &target),
                &format!("cargo build of {name}"),
            )?;
            let secs = started.elapsed().as_secs_f64();
            std::fs::remove_dir_all(&target)
                .with_context(|| format!("removing {}", target.display()))?;
            eprintln!("   {name}, trial {trial} of {trials}: {secs:.1} s");
            times.push(secs);
        }
    }
    scratch
        .close()
        .context("removing the cold builds' temporary directory")?;
    let [facade, clients] = times;
    Ok([
        format!("--cold-build-secs={}", joined(&facade)),
        format!("--cold-build-baseline-secs={}", joined(&clients)),
    ])
}

/// Trials of each side of section 11.
pub fn cold_build_trials(quick: bool) -> usize {
    if quick { 1 } else { 2 }
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
    eprintln!("== 11. cold builds");
    let cold = cold_builds(root, cold_build_trials(quick))?;
    let mut bench = cargo(root);
    bench
        .args(["run", "--release", "--quiet", "-p", "suppliers-bench", "--"])
        .arg(format!("--codegen-secs={}", joined(&check)))
        .arg(format!("--codegen-floor-secs={}", joined(&floor)))
        .args(cold);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(dir: &Path) -> toml_edit::Document<String> {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        toml_edit::Document::parse(text).unwrap()
    }

    #[test]
    fn scratch_crates_are_workspaces_of_their_own_on_the_sdk_by_path() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let [facade, clients] = write_scratch_crates(root, dir.path()).unwrap();
        let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
        for (crate_dir, name) in [(&facade, "facade-cold"), (&clients, "clients-cold")] {
            assert_eq!(crate_dir, &dir.path().join(name));
            let manifest = manifest(crate_dir);
            assert_eq!(manifest["package"]["name"].as_str(), Some(name));
            assert!(manifest["workspace"].is_table());
            assert_eq!(
                std::fs::read_to_string(crate_dir.join("Cargo.lock")).unwrap(),
                lock
            );
            assert!(crate_dir.join("src/lib.rs").is_file());
        }
        let facade = manifest(&facade);
        let dependencies = facade["dependencies"].as_table().unwrap();
        assert_eq!(dependencies.len(), 1);
        let suppliers = &dependencies["suppliers"];
        let path = Path::new(suppliers["path"].as_str().unwrap());
        assert_eq!(path, root.join("crates/suppliers"));
        assert!(path.join("Cargo.toml").is_file());
        assert_eq!(suppliers["default-features"].as_bool(), Some(false));
        let features: Vec<_> = suppliers["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(features, ["rustls"]);
        let clients = manifest(&clients);
        let dependencies = clients["dependencies"].as_table().unwrap();
        let names: Vec<&str> = dependencies.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["foxreload", "mousacard", "cryptorefills"]);
        for (name, dependency) in dependencies.iter() {
            let path = Path::new(dependency["path"].as_str().unwrap());
            assert_eq!(path, root.join("crates").join(name));
            assert!(path.join("Cargo.toml").is_file());
            assert!(dependency.get("default-features").is_none());
        }
    }

    #[test]
    fn toml_strings_escape_backslashes_and_quotes() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
