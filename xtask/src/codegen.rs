//! Drives progenitor: spec in, formatted Rust source out.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};
use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle, TypeImpl};
use serde_json::Value;

use crate::open_enums::{self, OpenEnum};
use crate::{api_version_header, downconvert, error_bodies, lint, normalize, spec, success_bodies};

/// The two generated source files of one client crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedCode {
    /// `src/generated.rs`: types, `Client`, builders.
    pub client: String,
    /// `src/generated_mock.rs`: httpmock extensions.
    pub mock: String,
}

/// A unified diff from `current` (committed) to `expected` (generated), or `None` if
/// they are the same.
pub fn drift(current: &str, expected: &str, label: &str) -> Option<String> {
    if current == expected {
        return None;
    }
    let diff = similar::TextDiff::from_lines(current, expected);
    Some(
        diff.unified_diff()
            .context_radius(3)
            .header(
                &format!("a/{label} (committed)"),
                &format!("b/{label} (generated)"),
            )
            .to_string(),
    )
}

/// Loads a spec and prepares it for progenitor: down-convert, normalise, lint.
/// Every lint problem is reported at once, each with its JSON pointer.
pub fn prepare(spec_path: &Path) -> Result<Value> {
    let raw = spec::load(spec_path)?;
    prepare_value(raw).with_context(|| format!("{} cannot be generated", spec_path.display()))
}

/// [`prepare`] for a spec already in memory.
pub fn prepare_value(raw: Value) -> Result<Value> {
    let doc = normalize::for_progenitor(downconvert::to_openapi_30(raw));
    let problems = lint::check(&doc);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        bail!("{} problem(s):\n{}", problems.len(), list.join("\n"));
    }
    Ok(doc)
}

/// Generates the client and its mocks from a prepared document. `source` names the spec
/// in the generated files' header. With `credentials` (a Rust path), the generated
/// `Client` holds a value of that type and requires a hand-written `ClientHooks` impl,
/// which is where the crate applies its credentials to each request.
pub fn generate(doc: &Value, source: &str, credentials: Option<&str>) -> Result<GeneratedCode> {
    let enums = open_enums::collect(doc)?;
    let api = spec::to_openapiv3(doc)?;
    let mut settings = settings(doc, &enums);
    if let Some(path) = credentials {
        let path: syn::Path = syn::parse_str(path).context("credentials is not a Rust path")?;
        settings
            .with_inner_type(quote::quote!(#path))
            .with_hooks(HooksMode::Expected);
    }
    let header = header(source);

    let mut generator = Generator::new(&settings);
    let tokens = no_panic("client", || generator.generate_tokens(&api))?;
    let mut file: syn::File =
        syn::parse2(one_doc_line_per_attr(tokens)).context("progenitor emitted unparsable code")?;
    api_version_header::remove(&mut file);
    // A client with credentials holds `ResponseLimits`: every answer is read within them.
    let bounded = credentials.is_some();
    error_bodies::keep_status(&mut file, bounded);
    success_bodies::move_headers(&mut file, bounded);
    add_open_enums(&mut file, &enums)?;
    let client = format_rust(&header, &prettyplease::unparse(&file))?;

    let mut generator = Generator::new(&settings);
    let tokens = no_panic("mocks", || generator.httpmock(&api, "crate"))?;
    let file: syn::File = syn::parse2(one_doc_line_per_attr(tokens))
        .context("progenitor emitted unparsable mocks")?;
    let mock = format_rust(&header, &prettyplease::unparse(&file))?;
    Ok(GeneratedCode { client, mock })
}

/// Components that normalisation made money, so `Money` fields are plain `Decimal`s
/// rather than a newtype around one.
fn decimal_components(doc: &Value) -> Vec<String> {
    let Some(Value::Object(schemas)) = doc.pointer("/components/schemas") else {
        return Vec::new();
    };
    schemas
        .iter()
        .filter(|(_, schema)| schema.get("x-rust-type") == Some(&normalize::decimal_extension()))
        .map(|(name, _)| open_enums::sanitize_pascal(name))
        .collect()
}

fn settings(doc: &Value, enums: &[OpenEnum]) -> GenerationSettings {
    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_derive("PartialEq")
        .with_crate(
            "rust_decimal",
            progenitor::CrateVers::parse("1.43.0").expect("a valid version"),
            None,
        );
    for name in decimal_components(doc) {
        settings.with_replacement(
            name,
            "::rust_decimal::Decimal",
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        );
    }
    for open_enum in enums {
        settings.with_replacement(
            &open_enum.rust_name,
            open_enums::rust_path(open_enum),
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        );
    }
    settings
}

/// progenitor reports some unsupported input by panicking; turn that into an error.
fn no_panic<T>(what: &str, run: impl FnOnce() -> Result<T, progenitor::Error>) -> Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = catch_unwind(AssertUnwindSafe(run));
    std::panic::set_hook(hook);
    match outcome {
        Ok(result) => result.map_err(|e| anyhow!("progenitor could not generate the {what}: {e}")),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            bail!(
                "progenitor panicked generating the {what} (a lint is missing for this): {message}"
            )
        }
    }
}

/// Splits every multi-line `#[doc = "..."]` into one attribute per line. prettyplease
/// prints a multi-line doc as an indented `/** */` block, which turns progenitor's
/// ```` ```ignore ```` examples into indented code that rustdoc then tries to run.
fn one_doc_line_per_attr(tokens: TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if let (TokenTree::Punct(hash), Some(TokenTree::Group(group))) =
            (&tokens[i], tokens.get(i + 1))
            && hash.as_char() == '#'
            && group.delimiter() == Delimiter::Bracket
            && let Some(lines) = doc_lines(group.stream())
        {
            for line in lines {
                out.extend(quote::quote!(#[doc = #line]));
            }
            i += 2;
            continue;
        }
        out.push(match &tokens[i] {
            TokenTree::Group(group) => {
                let mut inner =
                    Group::new(group.delimiter(), one_doc_line_per_attr(group.stream()));
                inner.set_span(group.span());
                TokenTree::Group(inner)
            }
            other => other.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

/// The lines of `doc = "a\nb"`, if the attribute is a multi-line doc string.
fn doc_lines(attr: TokenStream) -> Option<Vec<String>> {
    let meta: syn::MetaNameValue = syn::parse2(attr).ok()?;
    if !meta.path.is_ident("doc") {
        return None;
    }
    let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Str(text),
        ..
    }) = meta.value
    else {
        return None;
    };
    let text = text.value();
    text.contains('\n')
        .then(|| text.lines().map(str::to_owned).collect())
}

/// Puts the open enums into the generated `types` module, beside the types using them.
fn add_open_enums(file: &mut syn::File, enums: &[OpenEnum]) -> Result<()> {
    let types = file
        .items
        .iter_mut()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "types" => m.content.as_mut(),
            _ => None,
        })
        .ok_or_else(|| anyhow!("progenitor output has no `types` module"))?;
    for open_enum in enums {
        let items: syn::File = syn::parse2(one_doc_line_per_attr(open_enums::tokens(open_enum)))?;
        // Before the nested `builder`/`defaults` modules, after the type list's start.
        types.1.extend(items.items);
    }
    Ok(())
}

fn header(source: &str) -> String {
    format!(
        "// @generated by `cargo xtask codegen` from {source}. Do not edit by hand.\n\
         #![allow(clippy::all, clippy::pedantic, unused_imports, missing_docs)]\n\n"
    )
}

/// prettyplease output is not rustfmt-clean; rustfmt makes `cargo fmt --check` agree.
fn format_rust(header: &str, code: &str) -> Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt (install it with `rustup component add rustfmt`)")?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = format!("{header}{code}");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output()?;
    writer.join().expect("writer thread")?;
    if !output.status.success() {
        bail!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}
