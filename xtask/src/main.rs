//! `cargo xtask codegen [--check]`, `cargo xtask codegen --spec FILE --out DIR`,
//! `cargo xtask api-diff [--base REV]`, `cargo xtask bench [--quick] [--record]` and
//! `cargo xtask chaos [--seconds N] [--seed S] [--journal URL] [--release]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use xtask::api_check::{self, CrateCheck};
use xtask::api_snapshot;
use xtask::codegen::{self, GeneratedCode};
use xtask::targets::{CLIENT_FILE, MOCK_FILE, TARGETS, Target};

#[derive(Parser)]
#[command(about = "Project automation for the supplier SDK workspace")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate every client crate from its spec (or one crate from any spec), and
    /// report what that changes in each client crate's public API.
    Codegen {
        /// Regenerate in memory, print a diff of any drift and fail; write nothing. Also
        /// fails on a breaking API change without the version bump semver asks for.
        #[arg(long, conflicts_with = "out")]
        check: bool,
        /// Generate from this spec instead of the workspace's (needs --out).
        #[arg(long, requires = "out")]
        spec: Option<PathBuf>,
        /// Directory of the standalone client crate to create or refresh.
        #[arg(long, requires = "spec")]
        out: Option<PathBuf>,
        /// Crate name for --out (default: the directory name).
        #[arg(long, requires = "out")]
        name: Option<String>,
        /// Only these workspace crates (default: all).
        #[arg(conflicts_with = "spec")]
        crates: Vec<String>,
    },
    /// Report what changed in each client crate's public API since a commit.
    ApiDiff {
        /// The commit whose generated code is the base (compared with the working tree).
        #[arg(long, default_value = "HEAD")]
        base: String,
        /// Only these client crates (default: all).
        crates: Vec<String>,
    },
    /// Measure what the SDK costs against hand-written baselines; print the table.
    Bench {
        /// Small sizes and few trials (under 30 s once built, plus one cold build of each
        /// crate of section 11); CI runs this.
        #[arg(long)]
        quick: bool,
        /// Write the table into BENCHMARKS.md.
        #[arg(long)]
        record: bool,
    },
    /// Only the bench's cold builds (section 11): prints the flags `cargo xtask bench`
    /// passes to suppliers-bench with their wall times.
    #[command(hide = true)]
    ColdBuild {
        /// One build of each crate instead of two.
        #[arg(long)]
        quick: bool,
    },
    /// Buyers and trackers in their own processes against the sandbox behind a fault
    /// proxy, then an audit against the sandbox's books: 0 double purchases, 0 lost.
    Chaos {
        /// Seconds of purchases with faults on.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Seed of the faults' schedule and of what is bought (random by default).
        #[arg(long)]
        seed: Option<u64>,
        /// The journal: an empty SQLite file or postgres://... (a fresh file by default).
        #[arg(long, value_name = "URL")]
        journal: Option<String>,
        /// Build and run optimized binaries.
        #[arg(long)]
        release: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Bench { quick, record } => xtask::bench::run(&workspace_root(), quick, record),
        Command::ColdBuild { quick } => {
            let flags = xtask::bench::cold_builds(
                &workspace_root(),
                xtask::bench::cold_build_trials(quick),
            )?;
            println!("{}", flags.join(" "));
            Ok(ExitCode::SUCCESS)
        }
        Command::Chaos {
            seconds,
            seed,
            journal,
            release,
        } => xtask::chaos::run(
            &workspace_root(),
            &xtask::chaos::ChaosArgs {
                seconds,
                seed,
                journal,
                release,
            },
        ),
        Command::ApiDiff { base, crates } => api_diff_command(&base, &crates),
        Command::Codegen {
            check,
            spec,
            out,
            name,
            crates,
        } => codegen_command(check, spec, out, name, crates),
    }
}

fn codegen_command(
    check: bool,
    spec: Option<PathBuf>,
    out: Option<PathBuf>,
    name: Option<String>,
    crates: Vec<String>,
) -> Result<ExitCode> {
    if let Some(unknown) = crates
        .iter()
        .find(|c| !TARGETS.iter().any(|t| t.crate_name == c.as_str()))
    {
        let known: Vec<&str> = TARGETS.iter().map(|t| t.crate_name).collect();
        anyhow::bail!(
            "no generated crate {unknown:?}; known: {}",
            known.join(", ")
        );
    }
    if let (Some(spec), Some(out)) = (spec, out) {
        standalone_crate(&spec, &out, name)?;
        return Ok(ExitCode::SUCCESS);
    }
    let root = workspace_root();
    let mut drifted = false;
    let mut needs_bump = false;
    let selected = TARGETS
        .iter()
        .filter(|t| crates.is_empty() || crates.iter().any(|c| c == t.crate_name));
    for target in selected {
        let doc = codegen::prepare(&root.join(target.spec))?;
        let code = codegen::generate(&doc, target.spec, target.credentials)
            .with_context(|| format!("generating {}", target.crate_name))?;
        let dir = root.join(target.dir);
        // Read before the files are rewritten: the report compares with what was there.
        let api = if target.reports_api {
            Some(check_api(&root, target, &code.client)?)
        } else {
            None
        };
        for (file, content) in [(CLIENT_FILE, &code.client), (MOCK_FILE, &code.mock)] {
            let path = dir.join(file);
            let label = format!("{}/{file}", target.dir);
            if check {
                drifted |= print_drift(&path, &label, content)?;
            } else {
                write_if_changed(&path, content)?;
            }
        }
        if let Some(api) = api {
            print!("{}{}", api.regeneration, api.against_snapshot);
            let path = dir.join(api_snapshot::FILE);
            let label = format!("{}/{}", target.dir, api_snapshot::FILE);
            if check {
                drifted |= print_drift(&path, &label, &api.snapshot)?;
            } else {
                write_if_changed(&path, &api.snapshot)?;
            }
            needs_bump |= api.missing_bump.is_some();
        }
    }
    if drifted {
        eprintln!("generated code is out of date: run `cargo xtask codegen` and commit the result");
    }
    if needs_bump {
        eprintln!(
            "a breaking change to a client crate's public API needs a version bump: see the report above"
        );
    }
    if drifted || needs_bump {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The API report of a client crate about to be regenerated into `generated_client`.
fn check_api(root: &Path, target: &Target, generated_client: &str) -> Result<CrateCheck> {
    let dir = root.join(target.dir);
    let committed_client = read_if_present(&dir.join(CLIENT_FILE))?;
    let committed_snapshot = read_if_present(&dir.join(api_snapshot::FILE))?;
    api_check::check_crate(
        target.crate_name,
        committed_client.as_deref(),
        generated_client,
        &api_check::working_version(root, target)?,
        committed_snapshot.as_deref(),
    )
}

/// The file's text, or `None` if there is no such file (any other failure is an error).
fn read_if_present(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

fn api_diff_command(base: &str, crates: &[String]) -> Result<ExitCode> {
    let reporting: Vec<&Target> = TARGETS.iter().filter(|t| t.reports_api).collect();
    if let Some(unknown) = crates
        .iter()
        .find(|c| !reporting.iter().any(|t| t.crate_name == c.as_str()))
    {
        let known: Vec<&str> = reporting.iter().map(|t| t.crate_name).collect();
        anyhow::bail!("no client crate {unknown:?}; known: {}", known.join(", "));
    }
    let root = workspace_root();
    for target in reporting
        .into_iter()
        .filter(|t| crates.is_empty() || crates.iter().any(|c| c == t.crate_name))
    {
        print!("{}", api_check::report_since(&root, base, target)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a unified diff from what is on disk to what the spec generates; true if they differ.
fn print_drift(path: &Path, label: &str, expected: &str) -> Result<bool> {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    match codegen::drift(&current, expected, label) {
        Some(diff) => {
            print!("{diff}");
            Ok(true)
        }
        None => Ok(false),
    }
}

fn write_if_changed(path: &Path, content: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Creates (or refreshes the generated files of) a standalone client crate for any spec:
/// the way a user adds a fourth supplier. Hand-written files are created once, never
/// overwritten.
fn standalone_crate(spec: &Path, out: &Path, name: Option<String>) -> Result<()> {
    let name = match name {
        Some(name) => name,
        None => out
            .file_name()
            .and_then(|n| n.to_str())
            .context("--out needs a directory name, or pass --name")?
            .to_owned(),
    };
    let doc = codegen::prepare(spec)?;
    let GeneratedCode { client, mock } =
        codegen::generate(&doc, &spec.display().to_string(), None)?;
    write_if_changed(&out.join(CLIENT_FILE), &client)?;
    write_if_changed(&out.join(MOCK_FILE), &mock)?;
    let manifest = out.join("Cargo.toml");
    if !manifest.exists() {
        write_if_changed(&manifest, &xtask::standalone::manifest(&name))?;
    }
    let lib = out.join("src/lib.rs");
    if !lib.exists() {
        let title = doc
            .pointer("/info/title")
            .and_then(|t| t.as_str())
            .unwrap_or(&name);
        write_if_changed(&lib, &xtask::standalone::lib_rs(&name, title))?;
    }
    Ok(())
}
