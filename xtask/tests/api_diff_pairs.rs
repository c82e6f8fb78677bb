//! The API report on pairs of specs (`fixtures/api-diff/base.yaml` and one changed copy),
//! each generated in memory through the same pipeline as `cargo xtask codegen`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use semver::Version;
use xtask::api_check::{self, check_crate};
use xtask::api_diff::{self, Change};
use xtask::api_snapshot::Snapshot;
use xtask::codegen::{generate, prepare};
use xtask::crate_version::Impact::{self, Additive, Breaking};
use xtask::public_api::PublicApi;
use xtask::targets::Target;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/api-diff")
        .join(name)
}

/// The generated client of one fixture spec.
fn client(name: &str) -> String {
    let doc = prepare(&fixture(name)).unwrap();
    generate(&doc, name, None).unwrap().client
}

fn base_client() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| client("base.yaml"))
}

fn api(source: &str) -> PublicApi {
    PublicApi::from_source(source).unwrap()
}

/// The changes from the base spec to `head`.
fn changes(head: &str) -> Vec<Change> {
    api_diff::diff("shop", &api(base_client()), &api(&client(head)))
}

fn change(path: &str, what: &'static str, impact: Impact, detail: &str) -> Change {
    Change {
        path: path.into(),
        what,
        impact,
        detail: detail.into(),
    }
}

fn v(text: &str) -> Version {
    Version::parse(text).unwrap()
}

fn report(changes: &[Change]) -> String {
    api_diff::report("shop", "base -> head", changes, &v("0.1.0"), &v("0.1.0"))
}

#[test]
fn the_base_against_itself_changes_nothing() {
    assert_eq!(changes("base.yaml"), []);
    assert_eq!(report(&[]), "shop: public API unchanged (base -> head)\n");
}

#[test]
fn a_removed_response_field_is_breaking() {
    let found = changes("field-removed.yaml");
    assert_eq!(
        found,
        [change(
            "shop::types::Product::name",
            "field removed",
            Breaking,
            "Option<String>"
        )]
    );
    let text = report(&found);
    assert!(
        text.contains("  breaking  field removed  shop::types::Product::name (Option<String>)\n"),
        "{text}"
    );
    assert!(
        text.ends_with("0.1.0 -> 0.2.0 (a minor bump); the manifest still has 0.1.0\n"),
        "{text}"
    );
}

#[test]
fn a_retyped_field_is_breaking() {
    assert_eq!(
        changes("field-retyped.yaml"),
        [change(
            "shop::types::Product::price",
            "field retyped",
            Breaking,
            "::rust_decimal::Decimal -> i64"
        )]
    );
}

#[test]
fn an_optional_parameter_made_required_is_breaking() {
    assert_eq!(
        changes("parameter-required.yaml"),
        [change(
            "shop::builder::GetProduct::currency",
            "parameter made required",
            Breaking,
            "String"
        )]
    );
}

#[test]
fn a_removed_operation_is_breaking() {
    assert_eq!(
        changes("operation-removed.yaml"),
        [change(
            "shop::Client::cancel_order",
            "operation removed",
            Breaking,
            ""
        )]
    );
}

#[test]
fn a_value_added_to_an_open_enum_is_additive() {
    let found = changes("enum-value-added.yaml");
    assert_eq!(
        found,
        [change(
            "shop::types::OrderStatus::Cancelled",
            "variant added",
            Additive,
            ""
        )]
    );
    let text = report(&found);
    assert!(
        text.ends_with(
            "semver: additive change (0 breaking, 1 additive), 0.1.0 -> 0.1.1 (a patch bump); \
             the manifest still has 0.1.0\n"
        ),
        "{text}"
    );
    // Additive only because the generated open enum is non-exhaustive.
    assert!(base_client().contains("#[non_exhaustive]\n    pub enum OrderStatus"));
}

#[test]
fn a_new_optional_field_is_additive_and_the_report_says_what_is_not_covered() {
    let found = changes("optional-field-added.yaml");
    assert_eq!(
        found,
        [change(
            "shop::types::Product::description",
            "optional field added",
            Additive,
            "Option<String>"
        )]
    );
    let text = report(&found);
    assert!(text.contains("struct literal"), "{text}");
    assert!(text.contains("builders"), "{text}");
}

/// What `cargo xtask codegen --check` decides on a clean clone: the committed client
/// and snapshot are the base's, the spec now generates `head`.
fn check(head: &str, version: &str) -> xtask::api_check::CrateCheck {
    let snapshot = Snapshot {
        version: v("0.1.0"),
        api: api(base_client()),
    }
    .render("shop");
    check_crate(
        "shop",
        Some(base_client()),
        &client(head),
        &v(version),
        Some(&snapshot),
    )
    .unwrap()
}

#[test]
fn check_fails_on_a_breaking_change_until_the_version_is_bumped() {
    let unbumped = check("field-removed.yaml", "0.1.0");
    assert_eq!(unbumped.missing_bump, Some(v("0.2.0")));
    assert!(
        unbumped
            .regeneration
            .contains("committed src/generated.rs -> generated"),
        "{}",
        unbumped.regeneration
    );
    assert!(
        unbumped
            .against_snapshot
            .contains("error: shop 0.1.0 has breaking changes against public-api.txt 0.1.0"),
        "{}",
        unbumped.against_snapshot
    );
    assert!(
        unbumped
            .snapshot
            .contains("field shop::types::Product::name optional"),
        "the snapshot is kept until the bump"
    );

    let bumped = check("field-removed.yaml", "0.2.0");
    assert_eq!(bumped.missing_bump, None);
    assert!(bumped.snapshot.contains("version 0.2.0\n"));
    assert!(
        !bumped.snapshot.contains("Product::name"),
        "retaken at the new version"
    );
}

#[test]
fn check_passes_an_additive_change_without_a_bump() {
    let additive = check("enum-value-added.yaml", "0.1.0");
    assert_eq!(additive.missing_bump, None);
    assert!(additive.snapshot.contains("version 0.1.0\n"));
    assert!(
        additive.regeneration.contains("variant added"),
        "{}",
        additive.regeneration
    );
    assert_eq!(
        additive.against_snapshot,
        "shop: the same changes against public-api.txt (version 0.1.0) -> generated\n"
    );
}

#[test]
fn the_real_clients_are_read_with_their_shapes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let source = std::fs::read_to_string(root.join("crates/foxreload/src/generated.rs")).unwrap();
    let foxreload = api(&source);
    let get_order = &foxreload.operations["get_order"];
    assert_eq!(get_order.builder, "GetOrder");
    assert!(get_order.parameters["order_id"].required);
    assert!(!foxreload.operations["list_orders"].parameters["status"].required);
    assert!(matches!(
        &foxreload.types["OrderStatus"],
        xtask::public_api::TypeShape::Enum {
            non_exhaustive: true,
            ..
        }
    ));
    let xtask::public_api::TypeShape::Struct { fields } = &foxreload.types["Product"] else {
        panic!("Product is not a struct");
    };
    assert!(fields.contains_key("price"));
}

/// `cargo xtask api-diff --base REV` in a throwaway repository: the committed client
/// (and version) at REV against the working tree's.
#[test]
fn api_diff_compares_a_commit_with_the_working_tree() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"shop\"]\n[workspace.package]\nversion = \"0.3.0\"\n",
    );
    write(
        "shop/Cargo.toml",
        "[package]\nname = \"shop\"\nversion.workspace = true\n",
    );
    write("shop/src/generated.rs", base_client());
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .current_dir(root)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {status:?}");
    };
    git(&["init", "--quiet"]);
    git(&["add", "."]);
    git(&["commit", "--quiet", "-m", "base"]);
    let target = Target {
        crate_name: "shop",
        spec: "unused",
        dir: "shop",
        credentials: None,
        reports_api: true,
    };

    let same = api_check::report_since(root, "HEAD", &target).unwrap();
    assert_eq!(same, "shop: public API unchanged (HEAD -> working tree)\n");

    write("shop/src/generated.rs", &client("operation-removed.yaml"));
    write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"shop\"]\n[workspace.package]\nversion = \"0.4.0\"\n",
    );
    let text = api_check::report_since(root, "HEAD", &target).unwrap();
    assert!(
        text.contains("  breaking  operation removed  shop::Client::cancel_order\n"),
        "{text}"
    );
    assert!(
        text.ends_with("0.3.0 -> 0.4.0 (a minor bump); the manifest has 0.4.0\n"),
        "{text}"
    );

    let err = api_check::report_since(root, "no-such-rev", &target).unwrap_err();
    assert!(err.to_string().contains("not a commit"), "{err}");
}
