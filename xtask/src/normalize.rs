//! Rewrites of a 3.0 document that make progenitor's output tolerant and compilable.
//!
//! Each rule fixes a trap met with real supplier specs (see DESIGN.md):
//! - `additionalProperties: false` would become `deny_unknown_fields`; suppliers add
//!   fields, so it is dropped.
//! - `title` names inline types in typify; FastAPI puts a title on every property, so
//!   equal titles collide. Titles are dropped; types are named by their position.
//! - A schema that is "a number or a string" is money: it becomes `rust_decimal::Decimal`
//!   (via typify's `x-rust-type`), as does `format: decimal`.
//! - An optional parameter whose schema is also nullable (`Optional[str]`) generates
//!   `Option<Option<_>>`-like code that does not compile; absence already means none.
//! - 429 and 5xx answers often come from proxies as HTML. Declared as JSON, such a body
//!   fails to decode and the client loses the status and `Retry-After` that retries
//!   need; left undeclared, they arrive as `UnexpectedResponse` with status, headers and
//!   body intact.
//! - Several error schemas on one operation make progenitor panic; they are folded into
//!   one `oneOf` component, and error statuses without a JSON body are left undeclared
//!   (progenitor then returns them as `UnexpectedResponse`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::open_enums::sanitize_pascal;
use crate::schema_walk::walk_schemas;
use crate::spec::{is_error_status, is_http_method};

/// The `x-rust-type` every money schema becomes.
pub fn decimal_extension() -> Value {
    json!({"crate": "rust_decimal", "version": "^1.36", "path": "rust_decimal::Decimal"})
}

/// Applies every rule to a 3.0 document.
pub fn for_progenitor(mut doc: Value) -> Value {
    walk_schemas(&mut doc, &mut |schema, _| {
        let Value::Object(map) = schema else { return };
        if map.get("additionalProperties") == Some(&Value::Bool(false)) {
            map.remove("additionalProperties");
        }
        map.remove("title");
        if is_money(schema) {
            let mut decimal = serde_json::Map::new();
            for key in ["description", "example", "default"] {
                if let Some(v) = schema.get(key) {
                    decimal.insert(key.into(), v.clone());
                }
            }
            decimal.insert("x-rust-type".into(), decimal_extension());
            *schema = if schema.get("nullable") == Some(&Value::Bool(true)) {
                json!({"allOf": [Value::Object(decimal)], "nullable": true})
            } else {
                Value::Object(decimal)
            };
        }
    });
    optional_parameters_not_nullable(&mut doc);
    undeclare_transient_statuses(&mut doc);
    fold_error_responses(&mut doc);
    doc
}

/// The pattern pydantic v2 gives a `Decimal` serialised as a string.
const PYDANTIC_DECIMAL_PATTERN: &str = r"^(?!^[-+.]*$)[+-]?0*\d*\.?\d*$";

/// "A number or a string", an explicit `format: decimal`, or pydantic's decimal string.
fn is_money(schema: &Value) -> bool {
    if schema.get("format").and_then(Value::as_str) == Some("decimal")
        || schema.get("pattern").and_then(Value::as_str) == Some(PYDANTIC_DECIMAL_PATTERN)
    {
        return true;
    }
    let branches = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array);
    let Some(branches) = branches else {
        return false;
    };
    // Children are rewritten first, so a branch may already be a decimal.
    let mut kinds: Vec<&str> = branches
        .iter()
        .map(|b| match b.get("type").and_then(Value::as_str) {
            _ if b.get("x-rust-type") == Some(&decimal_extension()) => "decimal",
            Some(t) => t,
            None => "other",
        })
        .collect();
    kinds.sort_unstable();
    matches!(
        kinds.as_slice(),
        ["number", "string"]
            | ["decimal", "number"]
            | ["decimal", "string"]
            | ["decimal", "decimal"]
    )
}

/// Strips `nullable` from the schema of every parameter that is not required.
fn optional_parameters_not_nullable(doc: &mut Value) {
    let mut fix = |parameter: &mut Value| {
        let required = parameter.get("required") == Some(&Value::Bool(true));
        if let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut)
            && !required
        {
            schema.remove("nullable");
        }
    };
    if let Some(Value::Object(parameters)) = doc.pointer_mut("/components/parameters") {
        parameters.values_mut().for_each(&mut fix);
    }
    for_each_operation(doc, |_, item| {
        if let Some(Value::Array(parameters)) = item.get_mut("parameters") {
            parameters.iter_mut().for_each(&mut fix);
        }
    });
}

/// Calls `f` with the pointer of every path item and every operation, and the value.
pub fn for_each_operation(doc: &mut Value, mut f: impl FnMut(&str, &mut Value)) {
    let Some(Value::Object(paths)) = doc.get_mut("paths") else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let path_ptr = crate::pointer::push("/paths", path);
        f(&path_ptr, item);
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if is_http_method(method) {
                f(&crate::pointer::push(&path_ptr, method), operation);
            }
        }
    }
}

/// True for 429 and 5xx: statuses a proxy or load balancer may answer in its own format.
pub fn is_transient_status(status: &str) -> bool {
    status == "429" || status.starts_with('5')
}

fn undeclare_transient_statuses(doc: &mut Value) {
    for_each_operation(doc, |_, operation| {
        if let Some(Value::Object(responses)) = operation.get_mut("responses") {
            responses.retain(|status, _| !is_transient_status(status));
        }
    });
}

/// The JSON schema of a response, resolving a `$ref`'d response object.
fn json_schema_of<'a>(components: &'a Value, response: &'a Value) -> Option<&'a Value> {
    let response = match response.get("$ref").and_then(Value::as_str) {
        Some(r) => components.pointer(r.strip_prefix("#/components")?)?,
        None => response,
    };
    let content = response.get("content")?.as_object()?;
    content
        .iter()
        .find(|(media, _)| media.starts_with("application/json"))
        .and_then(|(_, media)| media.get("schema"))
}

/// `wanted`, or `wanted2`, `wanted3`... if a component already has that name.
fn free_name(components: &Value, taken: &BTreeMap<String, Value>, wanted: &str) -> String {
    let schemas = components.get("schemas");
    let is_free =
        |name: &str| !taken.contains_key(name) && schemas.and_then(|s| s.get(name)).is_none();
    (1..)
        .map(|n| match n {
            1 => wanted.to_owned(),
            n => format!("{wanted}{n}"),
        })
        .find(|name| is_free(name))
        .expect("an unbounded range finds a free name")
}

fn fold_error_responses(doc: &mut Value) {
    let components = doc.get("components").cloned().unwrap_or(json!({}));
    let mut unions: BTreeMap<String, Value> = BTreeMap::new();
    for_each_operation(doc, |_, operation| {
        let Some(op_id) = operation
            .get("operationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let Some(Value::Object(responses)) = operation.get_mut("responses") else {
            return;
        };
        let mut schemas: Vec<Value> = Vec::new();
        let mut without_json = Vec::new();
        for (status, response) in responses.iter() {
            if !is_error_status(status) {
                continue;
            }
            match json_schema_of(&components, response) {
                Some(schema) if !schemas.contains(schema) => schemas.push(schema.clone()),
                Some(_) => {}
                None => without_json.push(status.clone()),
            }
        }
        if schemas.is_empty() {
            return;
        }
        for status in without_json {
            responses.remove(&status);
        }
        if schemas.len() < 2 {
            return;
        }
        let name = free_name(
            &components,
            &unions,
            &format!("{}Error", sanitize_pascal(&op_id)),
        );
        let reference = json!({"$ref": format!("#/components/schemas/{name}")});
        for (status, response) in responses.iter_mut() {
            if is_error_status(status) {
                let description = response
                    .get("description")
                    .cloned()
                    .unwrap_or(json!("Error"));
                *response = json!({
                    "description": description,
                    "content": {"application/json": {"schema": reference}}
                });
            }
        }
        unions.insert(
            name,
            json!({
                "description": format!("Any error body `{op_id}` documents."),
                "oneOf": schemas
            }),
        );
    });
    if unions.is_empty() {
        return;
    }
    let schemas = doc
        .as_object_mut()
        .expect("an OpenAPI document is an object")
        .entry("components")
        .or_insert(json!({}))
        .as_object_mut()
        .expect("components is an object")
        .entry("schemas")
        .or_insert(json!({}));
    if let Value::Object(schemas) = schemas {
        schemas.extend(unions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_becomes_decimal() {
        let doc = for_progenitor(json!({
            "openapi": "3.0.3",
            "components": {"schemas": {
                "Money": {"anyOf": [{"type": "string"}, {"type": "number"}], "description": "d"},
                "Fee": {"type": "string", "format": "decimal", "nullable": true},
                "Id": {"anyOf": [{"type": "string"}, {"type": "integer"}]}
            }}
        }));
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["Money"],
            json!({"description": "d", "x-rust-type": decimal_extension()})
        );
        assert_eq!(schemas["Fee"]["nullable"], true);
        assert_eq!(
            schemas["Fee"]["allOf"][0]["x-rust-type"],
            decimal_extension()
        );
        assert!(schemas["Id"].get("x-rust-type").is_none());
    }

    #[test]
    fn strips_closed_objects_titles_and_nullable_optional_params() {
        let doc = for_progenitor(json!({
            "openapi": "3.0.3",
            "paths": {"/x": {"get": {
                "operationId": "x",
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string", "nullable": true}},
                    {"name": "r", "in": "query", "required": true,
                     "schema": {"type": "string", "nullable": true}}
                ],
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": {"type": "object", "title": "T", "additionalProperties": false}
                }}}}
            }}}
        }));
        let op = &doc["paths"]["/x"]["get"];
        assert_eq!(op["parameters"][0]["schema"], json!({"type": "string"}));
        assert_eq!(op["parameters"][1]["schema"]["nullable"], true);
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"],
            json!({"type": "object"})
        );
    }

    #[test]
    fn folds_distinct_error_schemas_into_one() {
        let json_body = |r: &str| json!({"description": "e", "content": {"application/json": {"schema": {"$ref": r}}}});
        let doc = for_progenitor(json!({
            "openapi": "3.0.3",
            "paths": {"/x": {"get": {
                "operationId": "get_x",
                "responses": {
                    "200": json_body("#/components/schemas/X"),
                    "404": json_body("#/components/schemas/ErrorDetail"),
                    "422": json_body("#/components/schemas/HTTPValidationError"),
                    "409": json_body("#/components/schemas/ErrorDetail"),
                    "429": json_body("#/components/schemas/ErrorDetail"),
                    "400": {"description": "no body"},
                    "503": json_body("#/components/schemas/ErrorDetail")
                }
            }}}
        }));
        let responses = &doc["paths"]["/x"]["get"]["responses"];
        assert!(
            responses.get("400").is_none(),
            "a documented status without body"
        );
        assert!(responses.get("429").is_none() && responses.get("503").is_none());
        for status in ["404", "409", "422"] {
            assert_eq!(
                responses[status]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/GetXError"
            );
        }
        assert_eq!(
            doc["components"]["schemas"]["GetXError"]["oneOf"],
            json!([
                {"$ref": "#/components/schemas/ErrorDetail"},
                {"$ref": "#/components/schemas/HTTPValidationError"}
            ])
        );
    }
}
