//! The codegen pipeline end to end: deterministic output, clear failures with pointers.

use std::path::Path;

use serde_json::{Value, json};
use xtask::codegen::{generate, prepare, prepare_value};

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fastapi31/openapi.json")
}

#[test]
fn generation_is_deterministic() {
    let doc = prepare(&fixture()).unwrap();
    let first = generate(&doc, "fixture", None).unwrap();
    let second = generate(&prepare(&fixture()).unwrap(), "fixture", None).unwrap();
    assert_eq!(first, second);
    assert!(first.client.starts_with("// @generated"));
    assert!(
        first.client.contains("Unknown(::std::string::String)"),
        "no open enum emitted"
    );
    assert!(
        first.client.contains("::rust_decimal::Decimal"),
        "money is not Decimal"
    );
    assert!(!first.client.contains("deny_unknown_fields"));
    // Multi-line docs as block comments indent progenitor's ```ignore examples into
    // code blocks that rustdoc would try to run.
    assert!(
        !first.client.contains("/**"),
        "block doc comments in the output"
    );
}

fn spec_with_get(responses: Value) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"get": {"operationId": "get_x", "responses": responses}}},
        "components": {"schemas": {
            "A": {"type": "object", "properties": {"a": {"type": "string"}}},
            "B": {"type": "object", "properties": {"b": {"type": "string"}}}
        }}
    })
}

fn json_response(schema: &str) -> Value {
    json!({"description": "d", "content": {"application/json": {"schema": {"$ref": schema}}}})
}

#[test]
fn two_success_schemas_fail_with_a_pointer_instead_of_a_panic() {
    let spec = spec_with_get(json!({
        "200": json_response("#/components/schemas/A"),
        "201": json_response("#/components/schemas/B")
    }));
    let err = format!("{:#}", prepare_value(spec.clone()).unwrap_err());
    assert!(
        err.contains("/paths/~1x/get/responses: success responses differ"),
        "{err}"
    );

    // Without the lint, progenitor panics; the pipeline still reports it as an error.
    let unlinted = xtask::normalize::for_progenitor(xtask::downconvert::to_openapi_30(spec));
    let err = generate(&unlinted, "t", None).unwrap_err().to_string();
    assert!(err.contains("progenitor panicked"), "{err}");
}

#[test]
fn error_bodies_of_several_shapes_generate() {
    let spec = spec_with_get(json!({
        "200": json_response("#/components/schemas/A"),
        "404": {"description": "no body"},
        "409": json_response("#/components/schemas/A"),
        "422": json_response("#/components/schemas/B")
    }));
    let code = generate(&prepare_value(spec).unwrap(), "t", None).unwrap();
    assert!(
        code.client.contains("pub enum GetXError"),
        "{}",
        code.client
    );
}

#[test]
fn a_missing_operation_id_names_the_operation() {
    let mut spec = spec_with_get(json!({"200": json_response("#/components/schemas/A")}));
    spec["paths"]["/x"]["get"]
        .as_object_mut()
        .unwrap()
        .remove("operationId");
    let err = format!("{:#}", prepare_value(spec).unwrap_err());
    assert!(err.contains("/paths/~1x/get: no operationId"), "{err}");
}

#[test]
fn drift_is_a_unified_diff_naming_the_file() {
    use xtask::codegen::drift;
    assert_eq!(drift("a\nb\n", "a\nb\n", "x.rs"), None);
    let diff = drift("a\nb\nc\n", "a\nB\nc\n", "crates/x/src/generated.rs").unwrap();
    assert!(diff.starts_with("--- a/crates/x/src/generated.rs (committed)\n+++ b/crates/x/src/generated.rs (generated)\n"), "{diff}");
    assert!(diff.contains("-b\n+B\n"), "{diff}");
}
