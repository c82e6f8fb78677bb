//! What changed between two public APIs of a generated client, each change classified
//! for a downstream crate, and the report `cargo xtask codegen --check` and
//! `cargo xtask api-diff` print.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use semver::Version;

use crate::crate_version::{self, Impact};
use crate::public_api::{Field, Operation, Parameter, PublicApi, TypeShape};

/// One change to the public API.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// The item's Rust path, e.g. `foxreload::types::Product::price`.
    pub path: String,
    /// What happened to it, e.g. `field retyped`.
    pub what: &'static str,
    pub impact: Impact,
    /// The type(s) involved, e.g. `Decimal -> String`; may be empty.
    pub detail: String,
}

/// Every change from `old` to `new`, sorted by path.
pub fn diff(crate_name: &str, old: &PublicApi, new: &PublicApi) -> Vec<Change> {
    let mut changes = Changes {
        crate_name,
        list: Vec::new(),
    };
    changes.operations(&old.operations, &new.operations);
    changes.types(&old.types, &new.types);
    let mut list = changes.list;
    list.sort();
    list
}

/// The most severe impact of `changes`, if there are any.
pub fn overall(changes: &[Change]) -> Option<Impact> {
    changes.iter().map(|c| c.impact).max()
}

struct Changes<'a> {
    crate_name: &'a str,
    list: Vec<Change>,
}

impl Changes<'_> {
    fn push(&mut self, path: String, what: &'static str, impact: Impact, detail: String) {
        self.list.push(Change {
            path,
            what,
            impact,
            detail,
        });
    }

    fn operations(&mut self, old: &BTreeMap<String, Operation>, new: &BTreeMap<String, Operation>) {
        use Impact::*;
        for (name, change) in pair(old, new) {
            let path = format!("{}::Client::{name}", self.crate_name);
            match change {
                Pair::Removed(_) => self.push(path, "operation removed", Breaking, String::new()),
                Pair::Added(_) => self.push(path, "operation added", Additive, String::new()),
                Pair::Both(old, new) => {
                    if old.response != new.response {
                        let detail = format!("send() returns {} -> {}", old.response, new.response);
                        self.push(path, "operation response changed", Breaking, detail);
                    }
                    let builder = format!("{}::builder::{}", self.crate_name, new.builder);
                    self.parameters(&builder, &old.parameters, &new.parameters);
                }
            }
        }
    }

    fn parameters(
        &mut self,
        builder: &str,
        old: &BTreeMap<String, Parameter>,
        new: &BTreeMap<String, Parameter>,
    ) {
        use Impact::*;
        for (name, change) in pair(old, new) {
            let path = format!("{builder}::{name}");
            match change {
                Pair::Removed(old) => {
                    self.push(path, "parameter removed", Breaking, old.ty.clone())
                }
                // send() fails with "`name` was not initialized" where it is not set.
                Pair::Added(new) if new.required => {
                    self.push(path, "required parameter added", Breaking, new.ty.clone())
                }
                Pair::Added(new) => {
                    self.push(path, "optional parameter added", Additive, new.ty.clone())
                }
                Pair::Both(old, new) => {
                    if old.ty != new.ty {
                        let detail = format!("{} -> {}", old.ty, new.ty);
                        self.push(path.clone(), "parameter retyped", Breaking, detail);
                    }
                    match (old.required, new.required) {
                        (false, true) => {
                            self.push(path, "parameter made required", Breaking, new.ty.clone())
                        }
                        (true, false) => {
                            self.push(path, "parameter made optional", Additive, new.ty.clone())
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn types(&mut self, old: &BTreeMap<String, TypeShape>, new: &BTreeMap<String, TypeShape>) {
        use Impact::*;
        for (name, change) in pair(old, new) {
            let path = format!("{}::types::{name}", self.crate_name);
            match change {
                Pair::Removed(old) => {
                    self.push(path, "type removed", Breaking, old.kind().to_owned())
                }
                Pair::Added(new) => self.push(path, "type added", Additive, new.kind().to_owned()),
                Pair::Both(old, new) => self.shape(path, old, new),
            }
        }
    }

    fn shape(&mut self, path: String, old: &TypeShape, new: &TypeShape) {
        use Impact::*;
        match (old, new) {
            (TypeShape::Struct { fields: old }, TypeShape::Struct { fields: new }) => {
                self.fields(&path, old, new)
            }
            (
                TypeShape::Enum {
                    non_exhaustive: was_open,
                    variants: old,
                },
                TypeShape::Enum {
                    non_exhaustive: is_open,
                    variants: new,
                },
            ) => {
                match (was_open, is_open) {
                    (false, true) => {
                        let what = "enum made non-exhaustive";
                        self.push(path.clone(), what, Breaking, String::new())
                    }
                    (true, false) => {
                        let what = "enum made exhaustive";
                        self.push(path.clone(), what, Additive, String::new())
                    }
                    _ => {}
                }
                self.variants(&path, *is_open, old, new)
            }
            (TypeShape::Tuple { fields: old }, TypeShape::Tuple { fields: new }) if old != new => {
                self.push(
                    path,
                    "tuple fields changed",
                    Breaking,
                    format!("{old} -> {new}"),
                )
            }
            (TypeShape::Alias { target: old }, TypeShape::Alias { target: new }) if old != new => {
                self.push(
                    path,
                    "alias retargeted",
                    Breaking,
                    format!("{old} -> {new}"),
                )
            }
            (old, new) if old.kind() != new.kind() => {
                let detail = format!("{} -> {}", old.kind(), new.kind());
                self.push(path, "type changed kind", Breaking, detail)
            }
            _ => {}
        }
    }

    fn fields(
        &mut self,
        owner: &str,
        old: &BTreeMap<String, Field>,
        new: &BTreeMap<String, Field>,
    ) {
        use Impact::*;
        for (name, change) in pair(old, new) {
            let path = format!("{owner}::{name}");
            match change {
                Pair::Removed(old) => self.push(path, "field removed", Breaking, old.ty.clone()),
                Pair::Added(new) if new.optional => {
                    self.push(path, "optional field added", Additive, new.ty.clone())
                }
                // A builder that does not set it no longer converts into the type.
                Pair::Added(new) => {
                    self.push(path, "required field added", Breaking, new.ty.clone())
                }
                Pair::Both(old, new) => {
                    if old.ty != new.ty {
                        let detail = format!("{} -> {}", old.ty, new.ty);
                        self.push(path, "field retyped", Breaking, detail);
                    } else if old.optional && !new.optional {
                        self.push(path, "field made required", Breaking, new.ty.clone());
                    } else if !old.optional && new.optional {
                        self.push(path, "field made optional", Additive, new.ty.clone());
                    }
                }
            }
        }
    }

    fn variants(
        &mut self,
        owner: &str,
        non_exhaustive: bool,
        old: &BTreeMap<String, String>,
        new: &BTreeMap<String, String>,
    ) {
        use Impact::*;
        for (name, change) in pair(old, new) {
            let path = format!("{owner}::{name}");
            match change {
                Pair::Removed(old) => self.push(path, "variant removed", Breaking, old.clone()),
                Pair::Added(new) if non_exhaustive => {
                    self.push(path, "variant added", Additive, new.clone())
                }
                // An exhaustive `match` outside the crate no longer compiles.
                Pair::Added(new) => self.push(
                    path,
                    "variant added to an exhaustive enum",
                    Breaking,
                    new.clone(),
                ),
                Pair::Both(old, new) if old != new => {
                    let detail = format!("{old} -> {new}");
                    self.push(path, "variant payload changed", Breaking, detail)
                }
                Pair::Both(..) => {}
            }
        }
    }
}

enum Pair<'a, T> {
    Removed(&'a T),
    Added(&'a T),
    Both(&'a T, &'a T),
}

/// Every key of either map, with what each side holds.
fn pair<'a, T>(
    old: &'a BTreeMap<String, T>,
    new: &'a BTreeMap<String, T>,
) -> Vec<(&'a str, Pair<'a, T>)> {
    let mut out: Vec<(&str, Pair<T>)> = old
        .iter()
        .map(|(name, old)| {
            let pair = match new.get(name) {
                Some(new) => Pair::Both(old, new),
                None => Pair::Removed(old),
            };
            (name.as_str(), pair)
        })
        .collect();
    out.extend(
        new.iter()
            .filter(|(name, _)| !old.contains_key(*name))
            .map(|(name, new)| (name.as_str(), Pair::Added(new))),
    );
    out
}

/// The report of one crate: a line per change, then the version semver asks for.
/// `base` is the version the old API was released as, `current` the manifest's now.
pub fn report(
    crate_name: &str,
    label: &str,
    changes: &[Change],
    base: &Version,
    current: &Version,
) -> String {
    let mut out = String::new();
    let Some(impact) = overall(changes) else {
        let _ = writeln!(out, "{crate_name}: public API unchanged ({label})");
        return out;
    };
    let _ = writeln!(out, "{crate_name}: public API, {label}");
    let what_width = changes.iter().map(|c| c.what.len()).max().unwrap_or(0);
    for change in changes {
        let detail = if change.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", change.detail)
        };
        let _ = writeln!(
            out,
            "  {:<8}  {:<what_width$}  {}{detail}",
            change.impact.as_str(),
            change.what,
            change.path
        );
    }
    if changes.iter().any(|c| c.what.ends_with("field added")) {
        let _ = writeln!(
            out,
            "  note: a new field also breaks code that builds the type with a struct literal; \
             build generated types with their builders (`Type::builder()`), which this report covers"
        );
    }
    let required = crate_version::required(base, impact);
    let bump = crate_version::bump_name(base, &required);
    let manifest = if current >= &required {
        format!("the manifest has {current}")
    } else {
        format!("the manifest still has {current}")
    };
    let breaking = changes
        .iter()
        .filter(|c| c.impact == Impact::Breaking)
        .count();
    let _ = writeln!(
        out,
        "  semver: {} change ({breaking} breaking, {} additive), {base} -> {required} \
         (a {bump} bump); {manifest}",
        impact.as_str(),
        changes.len() - breaking
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        pub mod types {
            pub struct Product { pub id: String, pub tags: Vec<String> }
            pub enum Closed { A }
            #[non_exhaustive]
            pub enum Open { A }
            pub struct Gone { pub x: u8 }
            pub struct Shape { pub x: u8 }
        }
        impl Client { pub fn get(&self) -> builder::Get<'_> { todo!() } }
        pub mod builder {
            pub struct Get<'a> {
                client: &'a super::Client,
                id: Result<String, String>,
            }
            impl<'a> Get<'a> {
                pub async fn send(self) -> Result<ResponseValue<types::Product>, Error<()>> { todo!() }
            }
        }
    "#;

    fn changes_to(head: &str) -> Vec<(String, &'static str, Impact)> {
        let old = PublicApi::from_source(BASE).unwrap();
        let new = PublicApi::from_source(head).unwrap();
        diff("c", &old, &new)
            .into_iter()
            .map(|c| (c.path, c.what, c.impact))
            .collect()
    }

    fn one(path: &str, what: &'static str, impact: Impact) -> Vec<(String, &'static str, Impact)> {
        vec![(path.to_owned(), what, impact)]
    }

    #[test]
    fn classification() {
        use Impact::*;
        let cases = [
            (
                BASE.replace("pub enum Closed { A }", "pub enum Closed { A, B }"),
                one(
                    "c::types::Closed::B",
                    "variant added to an exhaustive enum",
                    Breaking,
                ),
            ),
            (
                BASE.replace("pub enum Open { A }", "pub enum Open { }"),
                one("c::types::Open::A", "variant removed", Breaking),
            ),
            (
                BASE.replace(
                    "pub tags: Vec<String> }",
                    "pub tags: Vec<String>, pub n: u8 }",
                ),
                one("c::types::Product::n", "required field added", Breaking),
            ),
            (
                BASE.replace("pub tags", "#[serde(default)] pub tags"),
                one("c::types::Product::tags", "field made optional", Additive),
            ),
            (
                BASE.replace(
                    "id: Result<String, String>,",
                    "id: Result<String, String>, q: Result<u8, String>,",
                ),
                one("c::builder::Get::q", "required parameter added", Breaking),
            ),
            (
                BASE.replace(
                    "id: Result<String, String>,",
                    "id: Result<String, String>, q: Result<Option<u8>, String>,",
                ),
                one("c::builder::Get::q", "optional parameter added", Additive),
            ),
            (
                BASE.replace(
                    "id: Result<String, String>",
                    "id: Result<Option<String>, String>",
                ),
                one("c::builder::Get::id", "parameter made optional", Additive),
            ),
            (
                BASE.replace("id: Result<String, String>", "id: Result<u64, String>"),
                one("c::builder::Get::id", "parameter retyped", Breaking),
            ),
            (
                BASE.replace("ResponseValue<types::Product>", "ResponseValue<ByteStream>"),
                one("c::Client::get", "operation response changed", Breaking),
            ),
            (
                BASE.replace("pub struct Gone { pub x: u8 }", ""),
                one("c::types::Gone", "type removed", Breaking),
            ),
            (
                BASE.replace("pub struct Shape { pub x: u8 }", "pub enum Shape { X }"),
                one("c::types::Shape", "type changed kind", Breaking),
            ),
            (
                BASE.replace(
                    "pub enum Closed { A }",
                    "#[non_exhaustive] pub enum Closed { A }",
                ),
                one("c::types::Closed", "enum made non-exhaustive", Breaking),
            ),
        ];
        for (head, expected) in cases {
            assert_eq!(changes_to(&head), expected, "{head}");
        }
    }
}
