//! OpenAPI 3.1 -> 3.0 down-conversion, in memory.
//!
//! progenitor reads OpenAPI 3.0 only. A FastAPI/pydantic export is 3.1 and uses JSON
//! Schema 2020-12 forms that 3.0 spells differently; each rewrite here keeps the meaning.
//! A 3.0 document passes through unchanged.

use serde_json::{Map, Value, json};

use crate::schema_walk::walk_schemas;

/// Converts a 3.1 document to 3.0.3; returns a 3.0 document as it is.
pub fn to_openapi_30(mut doc: Value) -> Value {
    let is_31 = doc
        .get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("3.1"));
    if !is_31 {
        return doc;
    }
    doc["openapi"] = json!("3.0.3");
    if let Some(root) = doc.as_object_mut() {
        root.remove("webhooks");
        root.remove("jsonSchemaDialect");
        root.entry("paths").or_insert_with(|| json!({}));
    }
    if let Some(info) = doc.get_mut("info").and_then(Value::as_object_mut) {
        info.remove("summary");
        if let Some(license) = info.get_mut("license").and_then(Value::as_object_mut) {
            license.remove("identifier");
        }
    }
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        components.remove("pathItems");
    }
    walk_schemas(&mut doc, &mut |schema, _| downconvert_schema(schema));
    // A bare `type: "null"` left outside any anyOf/oneOf has no 3.0 spelling but this.
    walk_schemas(&mut doc, &mut |schema, _| {
        if is_null_schema(schema) {
            *schema = json!({"enum": [null], "nullable": true});
        }
    });
    doc
}

/// Rewrites one schema object; its children were rewritten already.
fn downconvert_schema(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    for key in [
        "$schema",
        "$id",
        "$anchor",
        "$comment",
        "$defs",
        "$dynamicRef",
        "$dynamicAnchor",
        "unevaluatedProperties",
        "unevaluatedItems",
        "dependentRequired",
        "dependentSchemas",
        "prefixItems",
        "propertyNames",
    ] {
        map.remove(key);
    }
    if map.get("items") == Some(&Value::Bool(false)) {
        map.remove("items");
    }
    type_array_to_nullable(map);
    if let Some(value) = map.remove("const") {
        if !map.contains_key("type")
            && let Some(t) = json_type_of(&value)
        {
            map.insert("type".into(), json!(t));
        }
        map.insert("enum".into(), json!([value]));
    }
    for (exclusive, inclusive) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(bound @ Value::Number(_)) = map.get(exclusive).cloned() {
            map.insert(inclusive.into(), bound);
            map.insert(exclusive.into(), Value::Bool(true));
        }
    }
    if let Some(Value::Array(examples)) = map.remove("examples")
        && let Some(first) = examples.into_iter().next()
    {
        map.entry("example").or_insert(first);
    }
    if let Some(encoding) = map.remove("contentEncoding") {
        map.remove("contentMediaType");
        if encoding == "base64" {
            map.entry("format").or_insert(json!("byte"));
        }
    } else if map.remove("contentMediaType").is_some() {
        map.entry("format").or_insert(json!("binary"));
    }
    for key in ["anyOf", "oneOf"] {
        drop_null_branch(map, key);
    }
}

/// `type: ["string", "null"]` -> `type: string, nullable: true`; several non-null types
/// become an `anyOf`.
fn type_array_to_nullable(map: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = map.get("type").cloned() else {
        return;
    };
    let null = json!("null");
    let rest: Vec<Value> = types.iter().filter(|t| **t != null).cloned().collect();
    if rest.len() < types.len() {
        map.insert("nullable".into(), Value::Bool(true));
    }
    match rest.len() {
        0 => {
            map.remove("type");
        }
        1 => {
            map.insert("type".into(), rest[0].clone());
        }
        _ => {
            map.remove("type");
            let branches = rest.into_iter().map(|t| json!({ "type": t })).collect();
            map.insert("anyOf".into(), Value::Array(branches));
        }
    }
}

/// `anyOf: [X, {type: null}]` -> X with `nullable: true`. A `$ref` cannot carry
/// siblings in 3.0, so a lone remaining reference is wrapped in `allOf`.
fn drop_null_branch(map: &mut Map<String, Value>, key: &str) {
    let Some(Value::Array(branches)) = map.get(key) else {
        return;
    };
    if !branches.iter().any(is_null_schema) {
        return;
    }
    let mut rest: Vec<Value> = branches
        .iter()
        .filter(|b| !is_null_schema(b))
        .cloned()
        .collect();
    map.remove(key);
    map.insert("nullable".into(), Value::Bool(true));
    if rest.len() != 1 {
        map.insert(key.into(), Value::Array(rest));
        return;
    }
    match rest.pop() {
        Some(reference @ Value::Object(_)) if reference.get("$ref").is_some() => {
            map.insert("allOf".into(), json!([reference]));
        }
        Some(Value::Object(branch)) => {
            for (k, v) in branch {
                // The outer schema's own title/description/default win.
                map.entry(k).or_insert(v);
            }
        }
        _ => {}
    }
}

/// `{type: "null"}` in any spelling.
fn is_null_schema(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(ts)) => ts.len() == 1 && ts[0] == "null",
        _ => false,
    }
}

fn json_type_of(value: &Value) -> Option<&'static str> {
    match value {
        Value::String(_) => Some("string"),
        Value::Bool(_) => Some("boolean"),
        Value::Number(n) if n.is_f64() => Some("number"),
        Value::Number(_) => Some("integer"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert_schema(schema: Value) -> Value {
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "components": {"schemas": {"S": schema}}
        });
        to_openapi_30(doc)["components"]["schemas"]["S"].clone()
    }

    #[test]
    fn type_arrays_become_nullable() {
        assert_eq!(
            convert_schema(json!({"type": ["integer", "null"], "title": "N"})),
            json!({"type": "integer", "nullable": true, "title": "N"})
        );
        assert_eq!(
            convert_schema(json!({"type": ["integer", "string"]})),
            json!({"anyOf": [{"type": "integer"}, {"type": "string"}]})
        );
    }

    #[test]
    fn any_of_with_null_collapses() {
        assert_eq!(
            convert_schema(
                json!({"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}], "title": "Q"})
            ),
            json!({"type": "string", "maxLength": 3, "nullable": true, "title": "Q"})
        );
        assert_eq!(
            convert_schema(
                json!({"anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]})
            ),
            json!({"allOf": [{"$ref": "#/components/schemas/X"}], "nullable": true})
        );
        assert_eq!(
            convert_schema(
                json!({"oneOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]})
            ),
            json!({"oneOf": [{"type": "number"}, {"type": "string"}], "nullable": true})
        );
    }

    #[test]
    fn nested_schemas_are_converted() {
        let out = convert_schema(json!({
            "type": "object",
            "properties": {"a": {"type": "array", "items": {"type": ["string", "null"]}}}
        }));
        assert_eq!(
            out["properties"]["a"]["items"],
            json!({"type": "string", "nullable": true})
        );
    }

    #[test]
    fn const_exclusive_bounds_and_examples() {
        assert_eq!(
            convert_schema(json!({"const": "card"})),
            json!({"type": "string", "enum": ["card"]})
        );
        assert_eq!(
            convert_schema(json!({"type": "number", "exclusiveMinimum": 0, "examples": [5, 6]})),
            json!({"type": "number", "minimum": 0, "exclusiveMinimum": true, "example": 5})
        );
    }

    #[test]
    fn document_level_31_keys_are_dropped() {
        let doc = to_openapi_30(json!({
            "openapi": "3.1.0",
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "info": {"title": "t", "version": "1", "summary": "s",
                     "license": {"name": "MIT", "identifier": "MIT"}},
            "webhooks": {"w": {}}
        }));
        assert_eq!(
            doc,
            json!({
                "openapi": "3.0.3",
                "info": {"title": "t", "version": "1", "license": {"name": "MIT"}},
                "paths": {}
            })
        );
    }

    #[test]
    fn openapi_30_is_untouched() {
        let doc = json!({"openapi": "3.0.3", "components": {"schemas": {"S": {"const": 1}}}});
        assert_eq!(to_openapi_30(doc.clone()), doc);
    }
}
