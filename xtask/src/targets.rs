//! The client crates generated from this repository's specs.

/// One spec and the crate generated from it.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Crate name (also the Rust path the mocks import).
    pub crate_name: &'static str,
    /// Spec path, relative to the workspace root.
    pub spec: &'static str,
    /// Crate directory, relative to the workspace root.
    pub dir: &'static str,
    /// The client's hand-written credentials type, stored in the generated `Client`
    /// and applied to each request by the crate's `ClientHooks::pre`.
    pub credentials: Option<&'static str>,
    /// A crate downstream projects depend on: `codegen` reports changes to its public
    /// API and keeps its `public-api.txt` (see [`crate::api_snapshot`]).
    pub reports_api: bool,
}

/// Every generated crate. The last one is a test fixture: a differently written
/// FastAPI-style 3.1 document, proving a vendor's own export generates and compiles.
pub const TARGETS: &[Target] = &[
    Target {
        crate_name: "foxreload",
        spec: "specs/foxreload/openapi.json",
        dir: "crates/foxreload",
        credentials: Some("crate::Credentials"),
        reports_api: true,
    },
    Target {
        crate_name: "mousacard",
        spec: "specs/mousacard/openapi.yaml",
        dir: "crates/mousacard",
        credentials: Some("crate::Credentials"),
        reports_api: true,
    },
    Target {
        crate_name: "cryptorefills",
        spec: "specs/cryptorefills/openapi.yaml",
        dir: "crates/cryptorefills",
        credentials: Some("crate::Credentials"),
        reports_api: true,
    },
    Target {
        crate_name: "fastapi31_fixture",
        spec: "xtask/fixtures/fastapi31/openapi.json",
        dir: "xtask/fixtures/fastapi31",
        credentials: None,
        reports_api: false,
    },
];

/// Files generated into a crate's `src/`.
pub const CLIENT_FILE: &str = "src/generated.rs";
/// httpmock mocks generated beside the client.
pub const MOCK_FILE: &str = "src/generated_mock.rs";
