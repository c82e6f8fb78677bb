//! `crates/<crate>/public-api.txt`: the crate's public API as it was when its current
//! version was set, one item a line. CI has no base branch to compare with, so this file
//! is the base: a breaking change against it fails `cargo xtask codegen --check` until
//! the version is bumped as semver asks, and `cargo xtask codegen` retakes it only then.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use semver::Version;

use crate::api_diff::{self, Change};
use crate::crate_version::{self, Impact};
use crate::public_api::{Field, Operation, Parameter, PublicApi, TypeShape};

/// The file name, in the crate's directory.
pub const FILE: &str = "public-api.txt";

/// A crate's public API at a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub version: Version,
    pub api: PublicApi,
}

impl Snapshot {
    /// The file's text: a header, the version, then one line per item, sorted.
    pub fn render(&self, crate_name: &str) -> String {
        let mut out = format!(
            "# Public API of the `{crate_name}` crate at version {}, read from src/generated.rs.\n\
             # Written by `cargo xtask codegen`; a breaking change against it needs a version\n\
             # bump (README, \"Reading the API report\"). Do not edit by hand.\n\
             version {}\n",
            self.version, self.version
        );
        for (name, operation) in &self.api.operations {
            let _ = writeln!(
                out,
                "fn {crate_name}::Client::{name} builder::{}: {}",
                operation.builder, operation.response
            );
            for (parameter, Parameter { ty, required }) in &operation.parameters {
                let _ = writeln!(
                    out,
                    "param {crate_name}::builder::{}::{parameter} {}: {ty}",
                    operation.builder,
                    if *required { "required" } else { "optional" }
                );
            }
        }
        for (name, shape) in &self.api.types {
            let path = format!("{crate_name}::types::{name}");
            match shape {
                TypeShape::Struct { fields } => {
                    let _ = writeln!(out, "struct {path}");
                    for (field, Field { ty, optional }) in fields {
                        let flag = if *optional { "optional" } else { "required" };
                        let _ = writeln!(out, "field {path}::{field} {flag}: {ty}");
                    }
                }
                TypeShape::Tuple { fields } => {
                    let _ = writeln!(out, "tuple {path}: {fields}");
                }
                TypeShape::Alias { target } => {
                    let _ = writeln!(out, "type {path}: {target}");
                }
                TypeShape::Enum {
                    non_exhaustive,
                    variants,
                } => {
                    let flag = if *non_exhaustive {
                        " non_exhaustive"
                    } else {
                        ""
                    };
                    let _ = writeln!(out, "enum {path}{flag}");
                    for (variant, payload) in variants {
                        let payload = if payload.is_empty() {
                            String::new()
                        } else {
                            format!(": {payload}")
                        };
                        let _ = writeln!(out, "variant {path}::{variant}{payload}");
                    }
                }
            }
        }
        out
    }

    /// Reads what [`Snapshot::render`] wrote.
    pub fn parse(text: &str) -> Result<Self> {
        let mut version = None;
        let mut api = PublicApi::default();
        let mut parameters: BTreeMap<String, BTreeMap<String, Parameter>> = BTreeMap::new();
        for (number, line) in text.lines().enumerate() {
            parse_line(line, &mut version, &mut api, &mut parameters)
                .with_context(|| format!("line {}: {line:?}", number + 1))?;
        }
        for operation in api.operations.values_mut() {
            operation.parameters = parameters.remove(&operation.builder).unwrap_or_default();
        }
        if let Some(builder) = parameters.keys().next() {
            bail!("parameters of builder::{builder}, which no operation returns");
        }
        Ok(Snapshot {
            version: version.context("no `version` line")?,
            api,
        })
    }
}

fn parse_line(
    line: &str,
    version: &mut Option<Version>,
    api: &mut PublicApi,
    parameters: &mut BTreeMap<String, BTreeMap<String, Parameter>>,
) -> Result<()> {
    if line.is_empty() || line.starts_with('#') {
        return Ok(());
    }
    let (head, ty) = match line.split_once(": ") {
        Some((head, ty)) => (head, ty.to_owned()),
        None => (line, String::new()),
    };
    let words: Vec<&str> = head.split(' ').collect();
    let path: Vec<&str> = words.get(1).map_or(Vec::new(), |p| p.split("::").collect());
    // The last `n` segments of the item's path.
    let tail = |n: usize| -> Result<&[&str]> {
        path.len()
            .checked_sub(n)
            .map(|start| &path[start..])
            .context("the path is too short")
    };
    let flag = words.get(2).copied();
    match words[0] {
        "version" => *version = Some(Version::parse(words.get(1).context("no version")?)?),
        "fn" => {
            let builder = flag
                .and_then(|b| b.strip_prefix("builder::"))
                .context("no builder")?;
            api.operations.insert(
                tail(1)?[0].to_owned(),
                Operation {
                    builder: builder.to_owned(),
                    response: ty,
                    parameters: BTreeMap::new(),
                },
            );
        }
        "param" => {
            let [builder, name] = tail(2)? else {
                unreachable!()
            };
            let required = match flag {
                Some("required") => true,
                Some("optional") => false,
                _ => bail!("neither required nor optional"),
            };
            parameters
                .entry((*builder).to_owned())
                .or_default()
                .insert((*name).to_owned(), Parameter { ty, required });
        }
        "struct" => {
            let fields = BTreeMap::new();
            api.types
                .insert(tail(1)?[0].to_owned(), TypeShape::Struct { fields });
        }
        "field" => {
            let [owner, name] = tail(2)? else {
                unreachable!()
            };
            let optional = match flag {
                Some("optional") => true,
                Some("required") => false,
                _ => bail!("neither required nor optional"),
            };
            let Some(TypeShape::Struct { fields }) = api.types.get_mut(*owner) else {
                bail!("a field of {owner}, which is not a struct listed above");
            };
            fields.insert((*name).to_owned(), Field { ty, optional });
        }
        "enum" => {
            let shape = TypeShape::Enum {
                non_exhaustive: flag == Some("non_exhaustive"),
                variants: BTreeMap::new(),
            };
            api.types.insert(tail(1)?[0].to_owned(), shape);
        }
        "variant" => {
            let [owner, name] = tail(2)? else {
                unreachable!()
            };
            let Some(TypeShape::Enum { variants, .. }) = api.types.get_mut(*owner) else {
                bail!("a variant of {owner}, which is not an enum listed above");
            };
            variants.insert((*name).to_owned(), ty);
        }
        "tuple" => {
            let shape = TypeShape::Tuple { fields: ty };
            api.types.insert(tail(1)?[0].to_owned(), shape);
        }
        "type" => {
            let shape = TypeShape::Alias { target: ty };
            api.types.insert(tail(1)?[0].to_owned(), shape);
        }
        other => bail!("unknown item kind {other:?}"),
    }
    Ok(())
}

/// The committed snapshot against the API the spec generates now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// What `cargo xtask codegen` writes: a new snapshot when there was none or the
    /// version was bumped enough; otherwise the committed one, unchanged.
    pub snapshot: Snapshot,
    /// The changes since the committed snapshot (empty without one).
    pub changes: Vec<Change>,
    /// The version a breaking change needs, when the manifest's is lower.
    pub missing_bump: Option<Version>,
}

/// Applies the rule: a breaking change against the committed snapshot needs the
/// manifest's version to be at least what semver asks for against the snapshot's.
pub fn gate(
    crate_name: &str,
    committed: Option<&Snapshot>,
    api: &PublicApi,
    version: &Version,
) -> Gate {
    let fresh = Snapshot {
        version: version.clone(),
        api: api.clone(),
    };
    let Some(committed) = committed else {
        return Gate {
            snapshot: fresh,
            changes: Vec::new(),
            missing_bump: None,
        };
    };
    let changes = api_diff::diff(crate_name, &committed.api, api);
    let needed = match api_diff::overall(&changes) {
        Some(Impact::Breaking) => crate_version::required(&committed.version, Impact::Breaking),
        _ => committed.version.clone(),
    };
    if version < &needed {
        return Gate {
            snapshot: committed.clone(),
            changes,
            missing_bump: Some(needed),
        };
    }
    let snapshot = if version == &committed.version {
        committed.clone()
    } else {
        fresh
    };
    Gate {
        snapshot,
        changes,
        missing_bump: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(source: &str) -> PublicApi {
        PublicApi::from_source(source).unwrap()
    }

    const V1: &str = r#"
        pub mod types {
            pub struct Product { pub price: u32, pub note: Option<String> }
            #[non_exhaustive]
            pub enum Status { Active, Unknown(String) }
            pub struct Code(pub String);
            pub type Alias = Vec<Code>;
        }
        impl Client { pub fn get_product(&self) -> builder::GetProduct<'_> { todo!() } }
        pub mod builder {
            pub struct GetProduct<'a> {
                client: &'a super::Client,
                id: Result<String, String>,
                currency: Result<Option<String>, String>,
            }
            impl<'a> GetProduct<'a> {
                pub async fn send(self) -> Result<ResponseValue<types::Product>, Error<()>> { todo!() }
            }
        }
    "#;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn snapshot_round_trips() {
        let snapshot = Snapshot {
            version: v("0.1.0"),
            api: api(V1),
        };
        let text = snapshot.render("shop");
        assert!(
            text.contains("field shop::types::Product::price required: u32\n"),
            "{text}"
        );
        assert!(
            text.contains("param shop::builder::GetProduct::currency optional: String\n"),
            "{text}"
        );
        assert_eq!(Snapshot::parse(&text).unwrap(), snapshot);
    }

    #[test]
    fn a_damaged_snapshot_names_its_line() {
        let err = Snapshot::parse("version 0.1.0\nfield shop::types::Nope::x required: u8\n")
            .unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
        assert!(
            Snapshot::parse("struct shop::types::A\n").is_err(),
            "no version line"
        );
    }

    #[test]
    fn breaking_change_needs_the_bump_then_the_snapshot_is_retaken() {
        let committed = Snapshot {
            version: v("0.1.0"),
            api: api(V1),
        };
        let broken = api(&V1.replace("pub price: u32", "pub price: String"));

        let same_version = gate("shop", Some(&committed), &broken, &v("0.1.0"));
        assert_eq!(same_version.missing_bump, Some(v("0.2.0")));
        assert_eq!(same_version.snapshot, committed, "kept until bumped");

        let patch_only = gate("shop", Some(&committed), &broken, &v("0.1.7"));
        assert_eq!(patch_only.missing_bump, Some(v("0.2.0")));
        assert_eq!(patch_only.snapshot, committed);

        let bumped = gate("shop", Some(&committed), &broken, &v("0.2.0"));
        assert_eq!(bumped.missing_bump, None);
        assert_eq!(bumped.snapshot.version, v("0.2.0"));
        assert_eq!(bumped.snapshot.api, broken, "retaken at the new version");
    }

    #[test]
    fn additive_change_passes_and_keeps_the_snapshot_until_a_bump() {
        let committed = Snapshot {
            version: v("0.1.0"),
            api: api(V1),
        };
        let added = api(&V1.replace("Active,", "Active, Paused,"));
        let kept = gate("shop", Some(&committed), &added, &v("0.1.0"));
        assert_eq!(kept.missing_bump, None);
        assert_eq!(kept.snapshot, committed);
        assert_eq!(kept.changes.len(), 1);

        let released = gate("shop", Some(&committed), &added, &v("0.1.1"));
        assert_eq!(released.snapshot.api, added);
    }

    #[test]
    fn first_snapshot_is_taken_at_the_current_version() {
        let first = gate("shop", None, &api(V1), &v("0.1.0"));
        assert_eq!(first.missing_bump, None);
        assert_eq!(first.snapshot.version, v("0.1.0"));
    }

    #[test]
    fn version_going_backwards_fails() {
        let committed = Snapshot {
            version: v("0.2.0"),
            api: api(V1),
        };
        let back = gate("shop", Some(&committed), &api(V1), &v("0.1.0"));
        assert_eq!(back.missing_bump, Some(v("0.2.0")));
    }
}
