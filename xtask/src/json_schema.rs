//! Reading a spec's schemas as JSON Schema 2020-12, to validate payloads against them
//! with a real validator (the examples test, the sandbox's contract tests).

use serde_json::{Value, json};

use crate::schema_walk::walk_schemas;

/// Rewrites a 3.0 document's schemas into 2020-12 (`nullable` -> a `null` type,
/// boolean exclusive bounds -> numeric). A 3.1 document is returned unchanged.
pub fn upconvert(mut doc: Value) -> Value {
    let is_30 = doc
        .get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("3.0"));
    if !is_30 {
        return doc;
    }
    walk_schemas(&mut doc, &mut |schema, _| {
        let Value::Object(map) = schema else { return };
        for (exclusive, bound) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            if map.get(exclusive) == Some(&Value::Bool(true)) {
                if let Some(value) = map.remove(bound) {
                    map.insert(exclusive.into(), value);
                }
            } else if map.get(exclusive) == Some(&Value::Bool(false)) {
                map.remove(exclusive);
            }
        }
        if map.remove("nullable") != Some(Value::Bool(true)) {
            return;
        }
        if let Some(Value::Array(values)) = map.get_mut("enum") {
            values.push(Value::Null);
        }
        match map.get("type").cloned() {
            Some(Value::String(t)) => {
                map.insert("type".into(), json!([t, "null"]));
            }
            _ => {
                let inner = Value::Object(std::mem::take(map));
                *schema = json!({"anyOf": [inner, {"type": "null"}]});
            }
        }
    });
    doc
}

/// A validator for the schema at `pointer` (e.g. `/components/schemas/Order`) inside
/// `doc` (already up-converted), with every `$ref` resolving inside the same document.
pub fn validator_at(doc: &Value, pointer: &str) -> Result<jsonschema::Validator, String> {
    let mut root = doc.clone();
    let map = root.as_object_mut().ok_or("a spec is a JSON object")?;
    map.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    map.insert(
        "$ref".into(),
        json!(format!("#{}", fragment_encode(pointer))),
    );
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .map_err(|e| format!("{pointer}: {e}"))
}

/// Percent-encodes a JSON pointer for use as a URI fragment (`{id}` -> `%7Bid%7D`).
fn fragment_encode(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for byte in pointer.bytes() {
        let allowed = byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte);
        if allowed {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Pointer to an operation's request or response JSON schema.
pub fn operation_schema_pointer(
    doc: &Value,
    operation_id: &str,
    status: Option<&str>,
) -> Option<String> {
    let paths = doc.get("paths")?.as_object()?;
    for (path, item) in paths {
        for (method, operation) in item.as_object()? {
            if operation.get("operationId").and_then(Value::as_str) != Some(operation_id) {
                continue;
            }
            let op_ptr = crate::pointer::push(&crate::pointer::push("/paths", path), method);
            let holder_ptr = match status {
                None => format!("{op_ptr}/requestBody"),
                Some(status) => crate::pointer::push(&format!("{op_ptr}/responses"), status),
            };
            let holder = doc.pointer(&holder_ptr)?;
            let holder_ptr = match holder.get("$ref").and_then(Value::as_str) {
                Some(reference) => crate::pointer::from_ref(reference)?.to_owned(),
                None => holder_ptr,
            };
            return Some(format!("{holder_ptr}/content/application~1json/schema"));
        }
    }
    None
}
