//! Project automation for the supplier SDK workspace.
//!
//! `cargo xtask codegen` turns each spec under `specs/` into a typed client crate with
//! progenitor. The pipeline is plain functions over `serde_json::Value`:
//!
//! 1. [`spec::load`] reads JSON or YAML,
//! 2. [`downconvert::to_openapi_30`] rewrites OpenAPI 3.1 into the 3.0 progenitor accepts,
//! 3. [`normalize::for_progenitor`] applies rewrites that keep generated clients tolerant,
//! 4. [`lint::check`] rejects, with a JSON pointer, what would make progenitor panic or
//!    emit code that does not compile,
//! 5. [`codegen::generate`] runs progenitor, drops the `api-version` header it adds
//!    ([`api_version_header`]), keeps the status of error answers whose body does not
//!    match ([`error_bodies`]), moves success answers' headers instead of copying them
//!    ([`success_bodies`]) and formats the result.
//!
//! For each client crate, codegen also reads the public Rust API of the generated code
//! ([`public_api`]), reports what the regeneration changes, each change breaking or
//! additive ([`api_diff`], [`api_check`]), and keeps `public-api.txt`, the API at the
//! current version, so a breaking change without the semver bump fails `--check`
//! ([`api_snapshot`], [`crate_version`]). `cargo xtask api-diff --base REV` prints the
//! same report against a commit.
//!
//! `cargo xtask bench` ([`mod@bench`]) times codegen and cold builds of a crate on the
//! facade and of one on the three clients, and runs the `suppliers-bench` crate.
//!
//! ```
//! let spec = serde_json::json!({
//!     "openapi": "3.1.0",
//!     "info": {"title": "t", "version": "1"},
//!     "paths": {},
//!     "components": {"schemas": {"Name": {"type": ["string", "null"]}}}
//! });
//! let spec = xtask::downconvert::to_openapi_30(spec);
//! assert_eq!(spec["openapi"], "3.0.3");
//! assert_eq!(spec["components"]["schemas"]["Name"]["nullable"], true);
//! ```

pub mod api_check;
pub mod api_diff;
pub mod api_snapshot;
pub mod api_version_header;
pub mod bench;
pub mod body_reads;
pub mod chaos;
pub mod codegen;
pub mod crate_version;
pub mod downconvert;
pub mod error_bodies;
pub mod json_schema;
pub mod lint;
pub mod normalize;
pub mod open_enums;
pub mod pointer;
pub mod public_api;
pub mod schema_walk;
pub mod spec;
pub mod standalone;
pub mod success_bodies;
pub mod targets;
