//! The API report of one client crate, as `cargo xtask codegen [--check]` and
//! `cargo xtask api-diff` print it, and the check of its `public-api.txt`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use semver::Version;

use crate::api_diff;
use crate::api_snapshot::{self, Snapshot};
use crate::crate_version;
use crate::public_api::PublicApi;
use crate::targets::{CLIENT_FILE, Target};

/// What regenerating one crate does to its public API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateCheck {
    /// The report from the committed client to the generated one; empty when the
    /// client code does not change.
    pub regeneration: String,
    /// The report from `public-api.txt` to the generated client, ending with what it
    /// needs, or why it cannot pass.
    pub against_snapshot: String,
    /// What `public-api.txt` must hold.
    pub snapshot: String,
    /// The version a breaking change against `public-api.txt` needs, when the
    /// manifest's is lower.
    pub missing_bump: Option<Version>,
}

/// Compares the generated client with the committed one and with `public-api.txt`.
/// `version` is the crate's version now (from its manifest).
pub fn check_crate(
    crate_name: &str,
    committed_client: Option<&str>,
    generated_client: &str,
    version: &Version,
    committed_snapshot: Option<&str>,
) -> Result<CrateCheck> {
    let generated = PublicApi::from_source(generated_client)
        .with_context(|| format!("{crate_name}: reading the generated client's API"))?;
    // The changes the regeneration makes, when the committed client reads.
    let mut regenerated = None;
    let regeneration = match committed_client {
        Some(committed) if committed == generated_client => String::new(),
        Some(committed) => match PublicApi::from_source(committed) {
            Ok(old) => {
                let changes = api_diff::diff(crate_name, &old, &generated);
                let label = format!("committed {CLIENT_FILE} -> generated");
                api_diff::report(
                    crate_name,
                    &label,
                    regenerated.insert(changes),
                    version,
                    version,
                )
            }
            Err(err) => format!("{crate_name}: no API report: {err:#}\n"),
        },
        None => {
            let changes = api_diff::diff(crate_name, &PublicApi::default(), &generated);
            let label = format!("no committed {CLIENT_FILE} -> generated");
            api_diff::report(
                crate_name,
                &label,
                regenerated.insert(changes),
                version,
                version,
            )
        }
    };
    let committed = committed_snapshot
        .map(|text| {
            Snapshot::parse(text).with_context(|| {
                format!(
                    "{crate_name}/{}: unreadable (restore it from git, or delete it to take \
                     a new one at the current version)",
                    api_snapshot::FILE
                )
            })
        })
        .transpose()?;
    let gate = api_snapshot::gate(crate_name, committed.as_ref(), &generated, version);
    let against_snapshot = match &committed {
        None => format!(
            "{crate_name}: no {} yet; `cargo xtask codegen` takes it at {version}\n",
            api_snapshot::FILE
        ),
        Some(committed) => {
            let label = format!(
                "{} (version {}) -> generated",
                api_snapshot::FILE,
                committed.version
            );
            let mut text = if regenerated.as_ref() == Some(&gate.changes) {
                // The usual case: the committed client was the snapshot's.
                format!("{crate_name}: the same changes against {label}\n")
            } else {
                api_diff::report(
                    crate_name,
                    &label,
                    &gate.changes,
                    &committed.version,
                    version,
                )
            };
            if let Some(needed) = &gate.missing_bump {
                text.push_str(&format!(
                    "  error: {crate_name} {version} has breaking changes against {} {}: \
                     set the version to {needed} or later (the root Cargo.toml's \
                     [workspace.package] version), then run `cargo xtask codegen`\n",
                    api_snapshot::FILE,
                    committed.version
                ));
            }
            text
        }
    };
    Ok(CrateCheck {
        regeneration,
        against_snapshot,
        snapshot: gate.snapshot.render(crate_name),
        missing_bump: gate.missing_bump,
    })
}

/// The crate's version in the working tree.
pub fn working_version(root: &Path, target: &Target) -> Result<Version> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    let root_manifest = read(&root.join("Cargo.toml"))?;
    let crate_manifest = read(&root.join(target.dir).join("Cargo.toml"))?;
    crate_version::from_manifests(&root_manifest, &crate_manifest)
        .with_context(|| format!("the version of {}", target.crate_name))
}

/// `cargo xtask api-diff --base REV`: the report from the crate's generated client at
/// `rev` to the one in the working tree, against the version the crate had at `rev`.
pub fn report_since(root: &Path, rev: &str, target: &Target) -> Result<String> {
    let client_path = format!("{}/{CLIENT_FILE}", target.dir);
    let current_source = std::fs::read_to_string(root.join(&client_path))
        .with_context(|| format!("reading {client_path}"))?;
    let current = PublicApi::from_source(&current_source)
        .with_context(|| format!("{client_path} in the working tree"))?;
    let current_version = working_version(root, target)?;
    let (base, label) = match git_show(root, rev, &client_path)? {
        Some(source) => (
            PublicApi::from_source(&source).with_context(|| format!("{client_path} at {rev}"))?,
            format!("{rev} -> working tree"),
        ),
        None => (
            PublicApi::default(),
            format!("{rev} (no {client_path}) -> working tree"),
        ),
    };
    let base_version = match (
        git_show(root, rev, "Cargo.toml")?,
        git_show(root, rev, &format!("{}/Cargo.toml", target.dir))?,
    ) {
        (Some(root_manifest), Some(crate_manifest)) => {
            crate_version::from_manifests(&root_manifest, &crate_manifest)
                .with_context(|| format!("the version of {} at {rev}", target.crate_name))?
        }
        _ => current_version.clone(),
    };
    let changes = api_diff::diff(target.crate_name, &base, &current);
    Ok(api_diff::report(
        target.crate_name,
        &label,
        &changes,
        &base_version,
        &current_version,
    ))
}

/// The file at `path` in commit `rev`, or `None` if that commit has no such file.
fn git_show(root: &Path, rev: &str, path: &str) -> Result<Option<String>> {
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .context("running git")
    };
    let commit = format!("{rev}^{{commit}}");
    if !git(&["rev-parse", "--verify", "--quiet", &commit])?
        .status
        .success()
    {
        bail!("{rev:?} is not a commit of this repository");
    }
    let object = format!("{rev}:{path}");
    if !git(&["cat-file", "-e", &object])?.status.success() {
        return Ok(None);
    }
    let shown = git(&["show", &object])?;
    if !shown.status.success() {
        bail!(
            "git show {object}: {}",
            String::from_utf8_lossy(&shown.stderr).trim()
        );
    }
    Ok(Some(
        String::from_utf8(shown.stdout).with_context(|| format!("{object} is not UTF-8"))?,
    ))
}
