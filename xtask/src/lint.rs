//! Checks a normalised 3.0 document for what would make progenitor panic or emit code
//! that does not compile. Each problem names the JSON pointer of the offending value.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::open_enums::{sanitize_pascal, sanitize_snake};
use crate::pointer::push;
use crate::spec::{is_error_status, is_http_method};

/// One thing wrong with a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON pointer into the spec.
    pub pointer: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pointer, self.message)
    }
}

const BODY_TYPES: [&str; 5] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "text/plain",
    "text/x-markdown",
];

/// Every problem found, in document order.
pub fn check(doc: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut report = |pointer: String, message: String| problems.push(Problem { pointer, message });

    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0.") => {}
        other => report(
            "/openapi".into(),
            format!("expected OpenAPI 3.0.x after down-conversion, found {other:?}"),
        ),
    }
    check_external_refs(doc, "", &mut report);
    check_component_names(doc, &mut report);

    let mut op_ids: BTreeMap<String, String> = BTreeMap::new();
    let Some(Value::Object(paths)) = doc.get("paths") else {
        return problems;
    };
    for (path, item) in paths {
        let path_ptr = push("/paths", path);
        if item.get("$ref").is_some() {
            report(
                path_ptr.clone(),
                "path items by $ref are not supported; inline it".into(),
            );
            continue;
        }
        let Some(item) = item.as_object() else {
            continue;
        };
        let shared_params = item.get("parameters").and_then(Value::as_array);
        for (method, operation) in item.iter().filter(|(k, _)| is_http_method(k)) {
            let op_ptr = push(&path_ptr, method);
            match operation.get("operationId").and_then(Value::as_str) {
                None => report(
                    op_ptr.clone(),
                    "no operationId: progenitor names the method after it; add one".into(),
                ),
                Some(id) => {
                    let rust = sanitize_snake(id);
                    if let Some(first) = op_ids.insert(rust.clone(), op_ptr.clone()) {
                        report(
                            push(&op_ptr, "operationId"),
                            format!(
                                "{id:?} becomes the method `{rust}`, as does the operation at {first}"
                            ),
                        );
                    }
                }
            }
            let params: Vec<(String, &Value)> = shared_params
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, p)| (push(&push(&path_ptr, "parameters"), &i.to_string()), p))
                .chain(
                    operation
                        .get("parameters")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(|(i, p)| (push(&push(&op_ptr, "parameters"), &i.to_string()), p)),
                )
                .collect();
            check_parameters(doc, path, &params, &mut report);
            check_request_body(doc, &op_ptr, operation, &mut report);
            check_success_responses(doc, &op_ptr, operation, &mut report);
        }
    }
    problems
}

fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(crate::pointer::from_ref)
    {
        Some(pointer) => doc.pointer(pointer).unwrap_or(value),
        None => value,
    }
}

fn check_external_refs(doc: &Value, pointer: &str, report: &mut impl FnMut(String, String)) {
    match doc {
        Value::Object(map) => {
            for (key, value) in map {
                let here = push(pointer, key);
                if key == "$ref" {
                    if let Some(target) = value.as_str()
                        && !target.starts_with("#/components/")
                    {
                        report(
                            here,
                            format!(
                                "{target:?}: only local references into #/components are supported"
                            ),
                        );
                    }
                } else {
                    check_external_refs(value, &here, report);
                }
            }
        }
        Value::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                check_external_refs(value, &push(pointer, &index.to_string()), report);
            }
        }
        _ => {}
    }
}

fn check_component_names(doc: &Value, report: &mut impl FnMut(String, String)) {
    let Some(Value::Object(schemas)) = doc.pointer("/components/schemas") else {
        return;
    };
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for name in schemas.keys() {
        let rust = sanitize_pascal(name);
        if let Some(first) = seen.insert(rust.clone(), name) {
            report(
                push("/components/schemas", name),
                format!("{name:?} and {first:?} both become the Rust type `{rust}`; rename one"),
            );
        }
    }
}

fn check_parameters(
    doc: &Value,
    path: &str,
    params: &[(String, &Value)],
    report: &mut impl FnMut(String, String),
) {
    let mut names = BTreeMap::new();
    let mut in_path = BTreeSet::new();
    for (pointer, param) in params {
        let param = resolve(doc, param);
        let name = param
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let location = param.get("in").and_then(Value::as_str).unwrap_or_default();
        if param.get("schema").is_none() {
            report(
                pointer.clone(),
                format!("parameter {name:?} has no `schema` (`content` is not supported)"),
            );
        }
        let style = param.get("style").and_then(Value::as_str);
        match (location, style) {
            ("cookie", _) => report(
                pointer.clone(),
                format!("cookie parameter {name:?} is not supported"),
            ),
            ("path", Some(s)) if s != "simple" => report(
                pointer.clone(),
                format!("path parameter {name:?}: style {s:?} is not supported, only simple"),
            ),
            ("query", Some(s)) if s != "form" => report(
                pointer.clone(),
                format!("query parameter {name:?}: style {s:?} is not supported, only form"),
            ),
            _ => {}
        }
        if location == "path" {
            in_path.insert(name.to_owned());
            if !path.contains(&format!("{{{name}}}")) {
                report(
                    pointer.clone(),
                    format!("path parameter {name:?} does not appear in {path:?}"),
                );
            }
        }
        // Header parameters are sanitised too and share the method's argument list.
        let rust = sanitize_snake(name);
        if let Some(first) = names.insert(rust.clone(), pointer.clone()) {
            report(
                pointer.clone(),
                format!("parameter {name:?} becomes `{rust}`, as does the one at {first}"),
            );
        }
    }
    for segment in path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
            && !in_path.contains(name)
        {
            report(
                push("/paths", path),
                format!("{{{name}}} is in the path but not declared as a path parameter"),
            );
        }
    }
}

fn check_request_body(
    doc: &Value,
    op_ptr: &str,
    operation: &Value,
    report: &mut impl FnMut(String, String),
) {
    let Some(body) = operation.get("requestBody") else {
        return;
    };
    let body = resolve(doc, body);
    let pointer = push(&push(op_ptr, "requestBody"), "content");
    let Some(content) = body.get("content").and_then(Value::as_object) else {
        return;
    };
    if content.len() > 1 {
        let types: Vec<&String> = content.keys().collect();
        report(
            pointer.clone(),
            format!("several request content types {types:?}; progenitor takes exactly one"),
        );
    }
    for (media, value) in content {
        let base = media.split(';').next().unwrap_or_default().trim();
        if !BODY_TYPES.contains(&base) {
            report(
                push(&pointer, media),
                format!(
                    "request content type {media:?} is not supported; use one of {BODY_TYPES:?}"
                ),
            );
        }
        if value.get("schema").is_none() {
            report(push(&pointer, media), "request body has no schema".into());
        }
    }
}

/// Response kind as progenitor sees it: a JSON schema, a raw body, or nothing.
fn response_kind(doc: &Value, response: &Value) -> String {
    let response = resolve(doc, response);
    match response.get("content").and_then(Value::as_object) {
        None => "no body".into(),
        Some(content) if content.is_empty() => "no body".into(),
        Some(content) => match content
            .iter()
            .find(|(m, _)| m.starts_with("application/json"))
        {
            Some((_, media)) => media
                .get("schema")
                .map(|s| format!("schema {s}"))
                .unwrap_or_else(|| "a JSON body without schema".into()),
            None => "a raw body".into(),
        },
    }
}

fn check_success_responses(
    doc: &Value,
    op_ptr: &str,
    operation: &Value,
    report: &mut impl FnMut(String, String),
) {
    let pointer = push(op_ptr, "responses");
    let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
        report(pointer, "no responses".into());
        return;
    };
    let kinds: BTreeSet<String> = responses
        .iter()
        .filter(|(status, _)| !is_error_status(status))
        .map(|(_, response)| response_kind(doc, response))
        .collect();
    if kinds.len() > 1 {
        report(
            pointer,
            format!(
                "success responses differ ({}); progenitor needs one success type: keep one 2xx response or make their bodies identical",
                kinds.into_iter().collect::<Vec<_>>().join(" / ")
            ),
        );
    }
    // Error responses were folded by normalisation; anything left differing is a bug there.
    let errors: BTreeSet<String> = responses
        .iter()
        .filter(|(status, _)| is_error_status(status))
        .map(|(_, response)| response_kind(doc, response))
        .collect();
    if errors.len() > 1 {
        report(
            push(op_ptr, "responses"),
            format!(
                "error responses differ ({})",
                errors.into_iter().collect::<Vec<_>>().join(" / ")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc_with(op: Value) -> Value {
        json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
               "paths": {"/orders/{id}": {"post": op}}})
    }

    fn pointers(doc: &Value) -> Vec<String> {
        check(doc).into_iter().map(|p| p.pointer).collect()
    }

    #[test]
    fn missing_operation_id_is_reported_with_pointer() {
        let doc = doc_with(json!({
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok"}}
        }));
        assert_eq!(pointers(&doc), ["/paths/~1orders~1{id}/post"]);
    }

    #[test]
    fn two_success_schemas_and_two_body_types_are_reported() {
        let body = |s: &str| json!({"description": "d", "content": {"application/json": {"schema": {"$ref": s}}}});
        let doc = doc_with(json!({
            "operationId": "pay",
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "requestBody": {"content": {
                "application/json": {"schema": {"type": "object"}},
                "multipart/form-data": {"schema": {"type": "object"}}
            }},
            "responses": {"200": body("#/components/schemas/A"), "201": body("#/components/schemas/B")}
        }));
        let found = pointers(&doc);
        assert!(
            found.contains(&"/paths/~1orders~1{id}/post/requestBody/content".into()),
            "{found:?}"
        );
        assert!(
            found.contains(
                &"/paths/~1orders~1{id}/post/requestBody/content/multipart~1form-data".into()
            ),
            "{found:?}"
        );
        assert!(
            found.contains(&"/paths/~1orders~1{id}/post/responses".into()),
            "{found:?}"
        );
    }

    #[test]
    fn undeclared_path_parameter_and_colliding_names() {
        let mut doc =
            doc_with(json!({"operationId": "a", "responses": {"200": {"description": "ok"}}}));
        doc["paths"]["/other"] =
            json!({"get": {"operationId": "A", "responses": {"200": {"description": "ok"}}}});
        doc["components"] = json!({"schemas": {"order_status": {}, "OrderStatus": {}}});
        let found = check(&doc);
        let text: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|t| t.contains("{id} is in the path")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("/components/schemas/order_status")
                    || t.starts_with("/components/schemas/OrderStatus")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("becomes the method `a`")),
            "{text:?}"
        );
    }
}
