//! A crate's version, read from its manifest, and the version semver asks for after a
//! change to its public API (cargo's rules, so 0.x versions count the minor as major).

use anyhow::{Context, Result, bail};
use semver::Version;

/// How a change to a public API affects a downstream crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impact {
    /// Code that compiled against the old API compiles against the new one.
    Additive,
    /// Some code that compiled against the old API no longer does (or fails at run time).
    Breaking,
}

impl Impact {
    /// `additive` or `breaking`, as the report prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::Additive => "additive",
            Impact::Breaking => "breaking",
        }
    }
}

/// The crate's version: its own `version`, or with `version.workspace = true` the root
/// manifest's `[workspace.package] version`. Both manifests are passed as text so a
/// revision's files (`git show REV:path`) read the same way as the working tree's.
pub fn from_manifests(root_manifest: &str, crate_manifest: &str) -> Result<Version> {
    let krate = toml_edit::Document::parse(crate_manifest).context("the crate manifest")?;
    let version = krate
        .get("package")
        .and_then(|package| package.get("version"))
        .context("the crate manifest has no [package] version")?;
    let text = if let Some(text) = version.as_str() {
        text.to_owned()
    } else if version.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
        let root = toml_edit::Document::parse(root_manifest).context("the root manifest")?;
        root.get("workspace")
            .and_then(|w| w.get("package"))
            .and_then(|p| p.get("version"))
            .and_then(|v| v.as_str())
            .context("version.workspace = true, but the root manifest has no [workspace.package] version")?
            .to_owned()
    } else {
        bail!("[package] version is neither a string nor `workspace = true`");
    };
    Version::parse(&text).with_context(|| format!("version {text:?} is not semver"))
}

/// The lowest version after `from` that semver allows for a change of this impact.
/// Cargo treats `0.y.z` as compatible with `0.y.w` and `0.0.z` with nothing else, so:
/// breaking is a major bump from 1.0, a minor bump in 0.y and a patch bump in 0.0.z;
/// additive is a minor bump from 1.0 and a patch bump below it.
pub fn required(from: &Version, impact: Impact) -> Version {
    let (major, minor, patch) = (from.major, from.minor, from.patch);
    let (major, minor, patch) = match (impact, major, minor) {
        (Impact::Breaking, 0, 0) => (0, 0, patch + 1),
        (Impact::Breaking, 0, _) => (0, minor + 1, 0),
        (Impact::Breaking, _, _) => (major + 1, 0, 0),
        (Impact::Additive, 0, _) => (0, minor, patch + 1),
        (Impact::Additive, _, _) => (major, minor + 1, 0),
    };
    Version::new(major, minor, patch)
}

/// What kind of bump `required` is from `from`, in words.
pub fn bump_name(from: &Version, to: &Version) -> &'static str {
    if to.major != from.major {
        "major"
    } else if to.minor != from.minor {
        "minor"
    } else {
        "patch"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn version_is_inherited_from_the_workspace() {
        let root = "[workspace]\nmembers = []\n[workspace.package]\nversion = \"0.3.1\"\n";
        let dotted = "[package]\nname = \"a\"\nversion.workspace = true\n";
        let inline = "[package]\nname = \"a\"\nversion = { workspace = true }\n";
        let own = "[package]\nname = \"a\"\nversion = \"1.2.3\"\n";
        assert_eq!(from_manifests(root, dotted).unwrap(), v("0.3.1"));
        assert_eq!(from_manifests(root, inline).unwrap(), v("0.3.1"));
        assert_eq!(from_manifests(root, own).unwrap(), v("1.2.3"));
        let err = from_manifests("[workspace]\n", dotted).unwrap_err();
        assert!(
            format!("{err:#}").contains("[workspace.package] version"),
            "{err:#}"
        );
    }

    #[test]
    fn cargo_semver_rules() {
        assert_eq!(required(&v("0.1.0"), Impact::Breaking), v("0.2.0"));
        assert_eq!(required(&v("0.1.4"), Impact::Additive), v("0.1.5"));
        assert_eq!(required(&v("0.0.3"), Impact::Breaking), v("0.0.4"));
        assert_eq!(required(&v("1.4.2"), Impact::Breaking), v("2.0.0"));
        assert_eq!(required(&v("1.4.2"), Impact::Additive), v("1.5.0"));
        assert_eq!(bump_name(&v("0.1.0"), &v("0.2.0")), "minor");
        assert_eq!(bump_name(&v("1.4.2"), &v("2.0.0")), "major");
        assert_eq!(bump_name(&v("0.1.0"), &v("0.1.1")), "patch");
    }
}
