//! Every example payload of the supplier documents and of production (see
//! `specs/README.md`) validates against its schema in our spec, with a real JSON Schema
//! validator. An example the schema rejects is a spec bug.
//!
//! Manifest entries are `{file, operation, part, status}` with `part` `request` or
//! `response`; `"enums": "open"` validates with every component string enum open (as the
//! generated clients decode it: an unknown value is kept); `part: "stream"` is a
//! Server-Sent Events body whose `message` (or unnamed) events each validate against the
//! 200 answer of the operation named by `events`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use xtask::json_schema::{operation_schema_pointer, upconvert, validator_at};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// (supplier, spec file, least number of examples its document holds)
const SPECS: [(&str, &str, usize); 3] = [
    ("foxreload", "openapi.json", 2),
    ("mousacard", "openapi.yaml", 13),
    ("cryptorefills", "openapi.yaml", 2),
];

fn load(supplier: &str, file: &str) -> Value {
    upconvert(xtask::spec::load(&root().join("specs").join(supplier).join(file)).unwrap())
}

fn manifest(supplier: &str) -> Vec<Value> {
    let path = root()
        .join("specs")
        .join(supplier)
        .join("examples/manifest.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn schema_pointer(doc: &Value, entry: &Value) -> String {
    let operation = entry["operation"]
        .as_str()
        .expect("manifest entry has an operation");
    let status = match entry["part"].as_str() {
        Some("request") => None,
        Some("response") => Some(
            entry["status"]
                .as_str()
                .expect("a response entry has a status"),
        ),
        Some("stream") => {
            let events = entry["events"]
                .as_str()
                .expect("a stream entry names its events' operation");
            return operation_schema_pointer(doc, events, Some("200"))
                .unwrap_or_else(|| panic!("no {events} 200 in the spec"));
        }
        other => panic!("manifest part must be request, response or stream, got {other:?}"),
    };
    operation_schema_pointer(doc, operation, status)
        .unwrap_or_else(|| panic!("no {operation} {status:?} in the spec"))
}

/// The document with every component string enum open, for `"enums": "open"` entries.
fn with_open_enums(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        for schema in schemas.values_mut() {
            if schema.get("type") == Some(&json!("string"))
                && let Some(map) = schema.as_object_mut()
            {
                map.remove("enum");
            }
        }
    }
    doc
}

/// The payloads an entry stands for: the file's JSON, or each order event of a stream.
fn payloads(supplier: &str, entry: &Value) -> Vec<Value> {
    let name = entry["file"].as_str().unwrap();
    let path = root()
        .join("specs")
        .join(supplier)
        .join("examples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    if entry["part"] != "stream" {
        return vec![serde_json::from_str(&text).unwrap()];
    }
    let mut events = Vec::new();
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let mut kind = "message";
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(value) = line.strip_prefix("event:") {
                kind = value.trim();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push(value.strip_prefix(' ').unwrap_or(value));
            }
        }
        if kind == "message" && !data.is_empty() {
            events.push(serde_json::from_str(&data.join("\n")).unwrap());
        }
    }
    assert!(!events.is_empty(), "{supplier}/{name} has no order events");
    events
}

#[test]
fn every_seed_example_validates_against_its_schema() {
    let mut failures = Vec::new();
    for (supplier, file, least) in SPECS {
        let doc = load(supplier, file);
        let entries = manifest(supplier);
        assert!(
            entries.len() >= least,
            "{supplier}: {} examples listed, the document has {least}",
            entries.len()
        );
        let open = with_open_enums(&doc);
        for entry in &entries {
            let name = entry["file"].as_str().unwrap();
            let doc = if entry["enums"] == "open" {
                &open
            } else {
                &doc
            };
            let pointer = schema_pointer(doc, entry);
            let validator = validator_at(doc, &pointer).unwrap();
            for example in payloads(supplier, entry) {
                for error in validator.iter_errors(&example) {
                    failures.push(format!(
                        "{supplier}/{name} at {}: {error}",
                        error.instance_path()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "examples rejected:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_example_file_is_listed_in_its_manifest() {
    for (supplier, _, _) in SPECS {
        let listed: Vec<String> = manifest(supplier)
            .iter()
            .map(|e| e["file"].as_str().unwrap().to_owned())
            .collect();
        let dir = root().join("specs").join(supplier).join("examples");
        for file in std::fs::read_dir(&dir).unwrap() {
            let name = file.unwrap().file_name().into_string().unwrap();
            if name != "manifest.json" {
                assert!(
                    listed.contains(&name),
                    "{supplier}/examples/{name} is not in manifest.json"
                );
            }
        }
    }
}

/// The validators are not vacuous: each example's schema rejects a payload of the wrong
/// shape, and schemas reject what the documents forbid.
#[test]
fn schemas_reject_what_the_documents_forbid() {
    for (supplier, file, _) in SPECS {
        let doc = load(supplier, file);
        for entry in manifest(supplier) {
            let validator = validator_at(&doc, &schema_pointer(&doc, &entry)).unwrap();
            assert!(
                !validator.is_valid(&json!(42)),
                "{supplier} {entry} accepts a number"
            );
        }
    }

    let fox = load("foxreload", "openapi.json");
    let create = validator_at(
        &fox,
        &operation_schema_pointer(&fox, "create_order", None).unwrap(),
    )
    .unwrap();
    let item = json!({"itemId": "product_01krgfgww8eth9xvvysd6y7r4j", "quantity": 1});
    assert!(create.is_valid(&json!({"items": vec![item.clone(); 10]})));
    assert!(
        !create.is_valid(&json!({"items": vec![item; 11]})),
        "11 items accepted"
    );
    assert!(!create.is_valid(&json!({"items": []})), "no items accepted");

    let mousa = load("mousacard", "openapi.yaml");
    let batch = validator_at(
        &mousa,
        &operation_schema_pointer(&mousa, "get_orders_status", None).unwrap(),
    )
    .unwrap();
    assert!(batch.is_valid(&json!({"order_ids": (1..=50).collect::<Vec<_>>()})));
    assert!(
        !batch.is_valid(&json!({"order_ids": (1..=51).collect::<Vec<_>>()})),
        "51 ids accepted"
    );

    let crypto = load("cryptorefills", "openapi.yaml");
    let order = validator_at(
        &crypto,
        &operation_schema_pointer(&crypto, "create_order", None).unwrap(),
    )
    .unwrap();
    assert!(
        !order.is_valid(&json!({"payment": {"type": "via", "coin": "USDC"}})),
        "an order without deliveries accepted"
    );
}

/// Response schemas tolerate fields the suppliers add later.
#[test]
fn response_examples_stay_valid_with_an_extra_field() {
    for (supplier, file, _) in SPECS {
        let doc = load(supplier, file);
        let open = with_open_enums(&doc);
        for entry in manifest(supplier).iter().filter(|e| e["part"] != "request") {
            let name = entry["file"].as_str().unwrap();
            let doc = if entry["enums"] == "open" {
                &open
            } else {
                &doc
            };
            let validator = validator_at(doc, &schema_pointer(doc, entry)).unwrap();
            for mut example in payloads(supplier, entry) {
                // A bare array answer: each element gains the field.
                match &mut example {
                    Value::Array(items) => items
                        .iter_mut()
                        .for_each(|item| item["field_added_next_year"] = json!({"any": ["thing"]})),
                    other => other["field_added_next_year"] = json!({"any": ["thing"]}),
                }
                assert!(
                    validator.is_valid(&example),
                    "{supplier}/{name} rejects an extra field"
                );
            }
        }
    }
}
